"""Real local stand-ins for the outside providers, and helpers for notify's tests.

``Gateway`` is a real HTTP server (aiohttp, in its own thread so that blocking test code and
subprocesses can reach it) that plays a generic JSON SMS gateway and a Web Push service.
Like a real gateway it honours ``Idempotency-Key``: a repeated key is answered from the first
result and sends no second SMS. ``Mailbox`` is a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseClosed,
    CaseOpened,
    MessageSent,
    Outcome,
    Professional,
    QueueRef,
    SenderRole,
    Skill,
    TurnReached,
)
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "careflow" / "notify" / "migrations"
NURSE = Professional(
    staff_id="SE2321000131-E000001", name="Nina Sjöberg", title="nurse", care_unit="1177 direkt"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``probe`` until truthy; a generous bound, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


async def await_until(what: str, probe: Callable[[], Any], limit_seconds: float = 60.0) -> Any:
    """``wait_until`` for async probes."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class GatewayRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Gateway:
    """A real HTTP SMS gateway and push endpoint on 127.0.0.1."""

    port: int = field(default_factory=free_port)
    #: While true every request is answered 503, as a gateway that is down.
    down: bool = False
    #: Numbers the gateway refuses for good (422).
    invalid_numbers: set[str] = field(default_factory=set)
    requests: list[GatewayRequest] = field(default_factory=list)
    #: SMS actually handed on to the phone network, after idempotency: key -> body.
    delivered: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushes: list[GatewayRequest] = field(default_factory=list)

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/sms"

    def push_endpoint(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name}"

    def redirecting_endpoint(self, name: str) -> str:
        """An endpoint that answers 307 to this gateway's own push endpoint for ``name``."""
        return f"http://127.0.0.1:{self.port}/redirect/{name}"

    def requests_for(self, key: str) -> list[GatewayRequest]:
        return [r for r in self.requests if r.headers.get("Idempotency-Key") == key]

    async def _sms(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        key = headers.get("Idempotency-Key", "")
        if self.down:
            status = 503
        else:
            payload = await request.json()
            if payload.get("to") in self.invalid_numbers:
                status = 422
            elif key in self.delivered:
                status = 200  # the same key again: the first result, no second SMS
            else:
                self.delivered[key] = payload
                status = 201
        self.requests.append(GatewayRequest(request.path, headers, body, status))
        return web.json_response({"status": status}, status=status)

    async def _push(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = 503 if self.down else 201
        self.pushes.append(GatewayRequest(request.path, dict(request.headers), body, status))
        return web.Response(status=status)

    async def _redirect(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests.append(GatewayRequest(request.path, dict(request.headers), b"", 307))
        target = f"/push/{request.match_info['name']}"
        return web.Response(status=307, headers={"Location": target})

    def start(self) -> None:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            app = web.Application()
            app.router.add_post("/v1/sms", self._sms)
            app.router.add_post("/push/{name}", self._push)
            app.router.add_post("/redirect/{name}", self._redirect)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            ready.set()

        def main() -> None:
            self._loop.run_until_complete(serve())
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, name="test-gateway", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class _MailHandler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.endswith("@invalid.example"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.box.refuse_data_times > 0:
            self.box.refuse_data_times -= 1
            return "451 4.3.0 try again later"
        raw = envelope.original_content or envelope.content
        self.box.messages.append(message_from_bytes(raw, policy=policy.default))
        return "250 Message accepted for delivery"


class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[Message] = []
        #: How many messages' data to answer with 451 (not taken) before accepting.
        self.refuse_data_times = 0
        self.controller = Controller(_MailHandler(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def migrated_database(database_url: str, schema: str) -> Database:
    """Notify's migrations in a schema of the test's own, and a pool on it."""
    upgrade(MIGRATIONS, database_url, schema)
    return Database(database_url, schema, pool_size=4)


def envelope(case_id: uuid.UUID, producer: str, actor: Actor) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "occurred_at": datetime.now(UTC),
        "producer": producer,
        "correlation_id": case_id,
        "actor": actor,
    }


def case_opened(case_id: uuid.UUID, patient_id: str, guardian: str | None = None) -> CaseOpened:
    return CaseOpened(
        **envelope(case_id, "triage", Actor(id=patient_id, role=ActorRole.PATIENT)),
        patient_id=patient_id,
        region="Uppsala",
        acting_guardian_id=guardian,
    )


def turn_reached(case_id: uuid.UUID) -> TurnReached:
    return TurnReached(
        **envelope(case_id, "queue", Actor(id=NURSE.staff_id, role=ActorRole.STAFF)),
        queue=QueueRef(region="Uppsala", skill=Skill.NURSE),
        professional=NURSE,
        waited_seconds=120.0,
    )


def message_sent(case_id: uuid.UUID, sequence: int, role: SenderRole) -> MessageSent:
    sender = NURSE.staff_id if role == SenderRole.STAFF else "patient"
    return MessageSent(
        **envelope(case_id, "chat", Actor(id=sender, role=ActorRole.STAFF)),
        message_id=uuid.uuid4(),
        sequence=sequence,
        sender_role=role,
        sender_id=sender,
        professional=NURSE if role == SenderRole.STAFF else None,
        text="Hur mår du?",
    )


def case_closed(case_id: uuid.UUID) -> CaseClosed:
    return CaseClosed(
        **envelope(case_id, "chat", Actor(id=NURSE.staff_id, role=ActorRole.STAFF)),
        outcome=Outcome.SELF_CARE_ADVICE,
        advice="Vila.",
        documentation_note="Egenvårdsråd givna.",
        professional=NURSE,
    )
