"""A client that drives cases through the platform's HTTP APIs as patients and nurses do.

Shared by the full-path benchmark (``bench/full_path.py``) and the chaos run
(``careflow chaos``): logins through identity's test e-ID app, staff tokens, polled waits
that tell "not yet" from "never", and chat's socket. Every request goes through
``AsyncRetryOn503``, so a service whose dependency is away is waited out with backoff.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from careflow.cli.retry import AsyncRetryOn503

#: The seeded population register (identity's test e-ID app logs these people in).
SEED = Path("services/identity/src/careflow/identity/seed/persons.json")
ADULT_NOTES = {"adult, region runs the service", "adult", "guardian"}


def seeded_adults() -> list[dict[str, Any]]:
    """The register's adults without protected identity (candidates for a login)."""
    from careflow.cli.infra import project_root

    persons = json.loads((project_root() / SEED).read_text(encoding="utf-8"))["persons"]
    return [p for p in persons if p["note"] in ADULT_NOTES and not p["protected_identity"]]


class LoadClient:
    """HTTP (and WebSocket) access to the six services at ``url(service)``."""

    def __init__(
        self, url: Callable[[str], str], poll_s: float = 0.05, timeout: float = 30.0
    ) -> None:
        self.base_url, self.poll_s, self.timeout = url, poll_s, timeout
        self.http = httpx.AsyncClient(
            timeout=timeout,
            transport=AsyncRetryOn503(httpx.AsyncHTTPTransport()),
            limits=httpx.Limits(max_connections=200),
        )
        self.clients = 0

    def url(self, service: str, path: str) -> str:
        return f"{self.base_url(service)}/{service}{path}"

    async def staff_token(self, region: str, title: str = "nurse") -> str:
        """A fresh staff member's token for ``region`` (identity's dev shortcut)."""
        body = {
            "hsa_id": f"SE2321000131-E{uuid.uuid4().hex[:8]}",
            "name": "Nina Sjöberg",
            "title": title,
            "region": region,
            "care_unit": f"1177 direkt {region}",
        }
        r = await self.http.post(self.url("identity", "/dev/staff-tokens"), json=body)
        r.raise_for_status()
        token: str = r.json()["access_token"]
        return token

    async def login(self, browser: httpx.AsyncClient, pin: str) -> str | None:
        """A patient's e-ID login through the test app; None if the register refuses them."""
        r = await browser.post(self.url("identity", "/eid/orders"), json={"realm": "patient"})
        r.raise_for_status()
        ref = r.json()["order_ref"]
        approved = await browser.post(
            self.url("identity", f"/eid/test-app/{ref}/approve"),
            json={"personal_identity_number": pin},
        )
        approved.raise_for_status()
        collected = await browser.post(self.url("identity", f"/eid/orders/{ref}/collect"))
        collected.raise_for_status()
        login = collected.json().get("login")
        return login["access_token"] if login else None

    def browser(self) -> httpx.AsyncClient:
        """A patient's own client (cookies), seen by identity at an address of its own
        (``X-Forwarded-For`` through a trusted proxy, as behind the Ingress)."""
        self.clients += 1
        n = self.clients
        return httpx.AsyncClient(
            timeout=self.timeout,
            transport=AsyncRetryOn503(httpx.AsyncHTTPTransport()),
            headers={"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"},
        )

    async def poll(self, what: str, probe: Callable[[], Awaitable[bool]], within: float) -> None:
        """Ask ``probe`` until it says yes; a dropped connection is "not yet", as a client
        would send a read again; ``TimeoutError`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                if await probe():
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(self.poll_s)

    async def usable(
        self, candidates: list[dict[str, Any]], enough: int | None = None
    ) -> list[dict[str, Any]]:
        """The ``candidates`` the register lets in (one login each), up to ``enough``."""
        usable: list[dict[str, Any]] = []
        for p in candidates:
            if enough is not None and len(usable) >= enough:
                break
            async with self.browser() as browser:
                if await self.login(browser, p["pin"]):
                    usable.append(p)
        return usable

    async def open_socket(self, case_id: str, token: str, within: float = 30.0) -> ClientConnection:
        """Chat's socket, once chat knows the turn (a 4409/4404 close before: try again)."""
        ws_url = f"ws://{self.base_url('chat')[len('http://') :]}/chat/cases/{case_id}/live"
        deadline = time.monotonic() + within
        while True:
            ws = await connect(ws_url, max_queue=None)
            await ws.send(json.dumps({"type": "auth", "token": token}))
            try:
                hello = json.loads(await ws.recv())
                if hello.get("type") == "hello":
                    return ws
            except (ConnectionClosed, InvalidStatus):
                pass  # refused before chat knows the turn
            if time.monotonic() > deadline:
                raise TimeoutError("chat's socket never opened")
            await asyncio.sleep(self.poll_s)

    async def aclose(self) -> None:
        await self.http.aclose()


async def receive(ws: ClientConnection, text: str, within: float = 30.0) -> None:
    """Wait for the chat message ``text`` on ``ws``."""
    async with asyncio.timeout(within):
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "message" and frame.get("text") == text:
                return
    raise RuntimeError("socket closed before the message arrived")
