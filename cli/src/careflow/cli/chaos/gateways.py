"""Notify's outside providers for a chaos run: a real HTTP SMS gateway and a real SMTP
server on 127.0.0.1, each of which can be made slow (a fault the injector applies).

The SMS gateway honours ``Idempotency-Key`` as real gateways do: a repeated key is answered
from the first result and hands no second SMS on. The SMTP server keeps every message it
accepts; notify's Message-ID (its dedupe key) names the notification.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class SmsGateway:
    """A generic JSON SMS gateway at ``url``; ``delay`` seconds before each answer."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.lock = threading.Lock()
        #: Requests per idempotency key (retries included).
        self.requests: Counter[str] = Counter()
        #: SMS handed on to the phone network: key -> body (once per key).
        self.delivered: dict[str, dict[str, Any]] = {}
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(gateway.delay)
                key = self.headers.get("Idempotency-Key", "")
                with gateway.lock:
                    gateway.requests[key] += 1
                    status = 200 if key in gateway.delivered else 201
                    gateway.delivered.setdefault(key, json.loads(body or b"{}"))
                answer = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/sms"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _MailHandler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio
        from email import message_from_bytes, policy

        await asyncio.sleep(self.box.delay)
        mail = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self.box.lock:
            self.box.messages.append((str(mail["Message-ID"]), str(mail["To"])))
        return "250 Message accepted for delivery"


class Mailbox:
    """A real SMTP server (aiosmtpd) that keeps (Message-ID, To) of what it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.delay = 0.0
        self.lock = threading.Lock()
        self.messages: list[tuple[str, str]] = []
        self.controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
