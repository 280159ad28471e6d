"""Live delivery over WebSocket: messages, read receipts, video signalling.

``/chat/cases/{case_id}/live?after=N``, the bearer token in the first frame
``{"type": "auth", "token": ...}`` (browsers cannot set headers on a WebSocket; a
``token`` in the URL is refused, as URLs reach logs). After a ``hello`` the server sends
every message after ``N`` from the database, then new ones as they commit: a
client that reconnects with the last sequence it saw misses nothing and gets
nothing twice.

Delivery never depends on which replica a client is connected to: writes send a
PostgreSQL NOTIFY inside their transaction (``adapters.notify``); each replica
keeps one LISTEN connection (``LiveHub``) and wakes its sockets of that case, and
each socket reads what is new from the tables. If the LISTEN connection drops,
every socket is woken once it is back, so nothing committed meanwhile is lost.

Client frames: ``send`` {text, idempotency_key, attachments}, ``read`` {up_to},
``video_start``, ``video_end``, ``signal`` {kind: offer|answer|ice, data}.
Server frames: ``hello``, ``message``, ``ack``, ``receipt``, ``video_started``,
``video_ended``, ``signal``, ``consultant_joined``, ``closed``, ``error``.
A session ends when its token expires (4401); a frame over the size cap ends it
(1009); frames beyond the per-connection rate are answered with a 429 error frame,
and a client that keeps on is closed (1008).
Read receipts are stored rows, not events: they are not part of the care
documentation and would double the traffic on the journal's topics.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from careflow.chat import adapters, domain, service
from careflow.chat.settings import ChatSettings, ice_servers
from careflow.kit.auth import InvalidToken, Principal, verifier_of
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import DomainError
from careflow.kit.eventstore import ConcurrencyError
from careflow.kit.logging import get_logger

log = get_logger(__name__)

#: Close codes (4000-4999 are the application's): like HTTP 401, 404, 409.
UNAUTHORISED, NOT_FOUND, CONFLICT = 4401, 4404, 4409
#: RFC 6455 close codes: a frame over the size cap, a client breaking the rate limit.
TOO_BIG, POLICY_VIOLATION = 1009, 1008


class TokenBucket:
    """A per-connection rate limit: ``burst`` frames at once, ``rate`` a second after that."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.at = float(burst), now

    def take(self, now: float) -> bool:
        """Spend one token if there is one (refilled for the time since the last call)."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(eq=False)
class Subscription:
    """One socket's interest in one case: what it must fetch when woken."""

    case_id: UUID
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    messages: bool = True
    signals: bool = True
    inline: deque[dict[str, Any]] = field(default_factory=deque)
    carried: deque[dict[str, Any]] = field(default_factory=deque)

    def poke(self, note: dict[str, Any]) -> None:
        kind = note.get("kind")
        if kind == "message":
            if isinstance(note.get("message"), dict):
                self.carried.append(note["message"])
            else:
                self.messages = True
        elif kind == "signal":
            self.signals = True
        else:
            self.inline.append(note)
        self.wake.set()

    def catch_up(self) -> None:
        self.messages = self.signals = True
        self.wake.set()


class LiveHub:
    """One LISTEN connection per replica, fanning notifications out to its sockets."""

    def __init__(self, database_url: str, channel: str = adapters.LIVE_CHANNEL) -> None:
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.channel = channel
        self.subs: dict[UUID, set[Subscription]] = {}
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start listening (returns once the first LISTEN is in place, or after 10 s)."""
        self._task = asyncio.create_task(self._run(), name="chat-live-hub")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self, case_id: UUID) -> Subscription:
        sub = Subscription(case_id)
        self.subs.setdefault(case_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self.subs.get(sub.case_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subs[sub.case_id]

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            note = json.loads(payload)
            case_id = UUID(note["case_id"])
        except (ValueError, KeyError, TypeError):
            return
        for sub in self.subs.get(case_id, ()):
            sub.poke(note)

    async def _run(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(self.channel, self._on_notify)
                self.listening.set()
                # Anything committed while we were not listening is read now.
                for subs in list(self.subs.values()):
                    for sub in subs:
                        sub.catch_up()
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 5)
                    if not lost.is_set() and conn.is_closed():
                        break
                log.warning("live_listener_lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live_listener_failed", error=type(exc).__name__)
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(1.0)


def _message_frame(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "message_id": str(row["message_id"]),
        "sequence": row["sequence"],
        "sender_role": row["sender_role"],
        "text": row["text"],
        "sent_at": row["sent_at"].isoformat(),
        "attachments": row.get("attachments") or [],
    }


@dataclass(frozen=True)
class Authenticated:
    """The caller of a socket and when its token expires (epoch seconds)."""

    caller: Principal
    expires_at: float


def _expiry(token: str) -> float:
    """The ``exp`` claim of a token the verifier has already accepted."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


async def _authenticate(ws: WebSocket, settings: ChatSettings) -> Authenticated | None:
    """The caller, from the first frame ``{"type": "auth", "token": ...}``.

    A token in the URL is refused without being looked at: URLs reach access logs,
    proxies and browser history, so a token there has leaked already.
    """
    if "token" in ws.query_params:
        await ws.close(UNAUTHORISED, "a token in the URL is refused; send an auth frame")
        return None
    token = None
    try:
        raw = await asyncio.wait_for(ws.receive_text(), settings.ws_auth_timeout_seconds)
        if len(raw.encode()) <= settings.ws_max_frame_bytes:
            first = json.loads(raw)
            token = first.get("token") if first.get("type") == "auth" else None
    except (TimeoutError, ValueError, AttributeError, KeyError):
        token = None
    if not token or not isinstance(token, str):
        await ws.close(UNAUTHORISED, "missing bearer token: send an auth frame first")
        return None
    try:
        caller = await verifier_of(ws).authenticate(token)
        return Authenticated(caller, _expiry(token))
    except (InvalidToken, ValueError, KeyError, IndexError) as exc:
        reason = str(exc) if isinstance(exc, InvalidToken) else "invalid token"
        await ws.close(UNAUTHORISED, reason)
        return None


def _hello_frame(
    case_id: UUID, joined: service.Joined, ice: list[dict[str, Any]]
) -> dict[str, Any]:
    state = joined.state
    return {
        "type": "hello",
        "case_id": str(case_id),
        "role": joined.role.value,
        "video_participant": joined.video_side is not None,
        "last_sequence": state.last_sequence,
        "closed": state.closed,
        "video_contact_id": state.video_contact_id,
        "ice_servers": ice,
        "receipts": [
            {
                "reader_id": r["reader_id"],
                "reader_role": r["reader_role"],
                "up_to": r["up_to_sequence"],
            }
            for r in joined.receipts
        ],
    }


def endpoint(db: Database, clock: Clock, hub: LiveHub, settings: ChatSettings) -> Any:
    """The WebSocket endpoint (a Starlette route function)."""

    async def live(ws: WebSocket) -> None:
        try:
            case_id = UUID(ws.path_params["case_id"])
            after = int(ws.query_params.get("after", "0"))
        except ValueError:
            await ws.close(NOT_FOUND, "bad case id or after")
            return
        await ws.accept()
        authenticated = await _authenticate(ws, settings)
        if authenticated is None:
            return
        caller = authenticated.caller
        try:
            joined = await service.join(db, clock, case_id, caller)
        except DomainError as exc:
            await ws.close(NOT_FOUND if exc.status_code == 404 else CONFLICT, exc.reason)
            return
        # Subscribe before the first read, so nothing committed in between is missed.
        sub = hub.subscribe(case_id)
        lock = asyncio.Lock()

        async def emit(frame: dict[str, Any]) -> None:
            async with lock:
                await ws.send_text(json.dumps(frame, default=str))

        ice = ice_servers(settings, caller.subject_id, clock.now().timestamp(), joined.relay)
        await emit(_hello_frame(case_id, joined, ice))

        def relay_servers() -> list[dict[str, Any]]:
            return ice_servers(settings, caller.subject_id, clock.now().timestamp())

        writer = asyncio.create_task(
            _deliver(db, sub, emit, after, joined.last_signal, joined.video_side, relay_servers)
        )
        reader = asyncio.create_task(_serve(ws, db, clock, case_id, caller, emit, settings))
        # The session lasts as long as its token, not a moment longer.
        expiry = asyncio.create_task(
            asyncio.sleep(max(0.0, authenticated.expires_at - clock.now().timestamp()))
        )
        try:
            done, _ = await asyncio.wait(
                {reader, writer, expiry}, return_when=asyncio.FIRST_COMPLETED
            )
            closing: tuple[int, str] | None = None
            if expiry in done:
                closing = (UNAUTHORISED, "token expired; reconnect with a fresh token")
            elif reader in done and not reader.cancelled() and reader.exception() is None:
                closing = reader.result()
            elif writer in done and not writer.cancelled() and writer.exception() is not None:
                # Delivery broke (database away): let the client reconnect and resume.
                log.warning("live_delivery_failed", error=type(writer.exception()).__name__)
                closing = (1011, "delivery interrupted; reconnect with after=")
            if closing is not None:
                with contextlib.suppress(Exception):
                    async with lock:
                        await ws.close(*closing)
        finally:
            hub.unsubscribe(sub)
            for task in (reader, writer, expiry):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                    await task
            if ws.client_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await ws.close()

    return live


async def _deliver(
    db: Database,
    sub: Subscription,
    emit: Any,
    after: int,
    last_signal: int,
    side: str | None,
    relay_servers: Any = None,
) -> None:
    """Send what is new whenever the hub wakes this socket (starting with the backlog)."""
    last_sequence = after
    failures = 0
    sub.catch_up()
    while True:
        await sub.wake.wait()
        sub.wake.clear()
        while sub.carried:
            frame = sub.carried.popleft()
            if frame["sequence"] <= last_sequence:
                continue  # already sent (from the table)
            if frame["sequence"] != last_sequence + 1:
                sub.messages = True  # a gap: the table has what is missing
                sub.carried.appendleft(frame)
                break
            await emit({"type": "message", **frame})
            last_sequence = frame["sequence"]
        if sub.messages:
            sub.messages = False
            sub.carried.clear()  # the read below covers them
            try:
                rows = await service.history(db, sub.case_id, last_sequence)
            except (OSError, TimeoutError, SQLAlchemyError) as exc:
                # The database is busy or away: try again shortly rather than drop the socket.
                log.warning("live_fetch_failed", error=type(exc).__name__)
                failures += 1
                if failures > 10:
                    raise
                sub.messages = True
                await asyncio.sleep(min(0.1 * 2**failures, 2.0))
                sub.wake.set()
                continue
            failures = 0
            for row in rows:
                await emit(_message_frame(row))
                last_sequence = row["sequence"]
        if sub.signals and side is not None:
            sub.signals = False
            for row in await service.signals_for(db, sub.case_id, side, last_signal):
                await emit(
                    {
                        "type": "signal",
                        "kind": row["kind"],
                        "data": row["payload"],
                        "video_contact_id": str(row["video_contact_id"]),
                    }
                )
                last_signal = row["id"]
        while sub.inline:
            note = dict(sub.inline.popleft())
            note["type"] = note.pop("kind")
            note.pop("case_id", None)
            if note["type"] == "video_started" and side is not None and relay_servers:
                # The two in the call get their TURN logins now that the video runs.
                note["ice_servers"] = relay_servers()
            await emit(note)


async def _serve(
    ws: WebSocket,
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    emit: Any,
    settings: ChatSettings,
) -> tuple[int, str]:
    """Handle the client's frames until it goes away; each error is answered, not fatal.

    A frame over ``ws_max_frame_bytes`` ends the session (1009); frames beyond the rate
    limit are refused with a 429 error frame, and a client that keeps on ends it (1008).
    Returns the close code and reason when the session must end.
    """
    bucket = TokenBucket(settings.ws_frames_per_second, settings.ws_frame_burst, time.monotonic())
    refused = 0
    while True:
        raw = await ws.receive_text()
        if len(raw.encode()) > settings.ws_max_frame_bytes:
            return TOO_BIG, f"a frame may be at most {settings.ws_max_frame_bytes} bytes"
        if not bucket.take(time.monotonic()):
            refused += 1
            if refused > settings.ws_frame_burst:
                return POLICY_VIOLATION, "too many frames"
            await emit({"type": "error", "status": 429, "reason": "too many frames; slow down"})
            continue
        frame: dict[str, Any] = {}
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise ValueError("a frame is a JSON object")
            await _handle(db, clock, case_id, caller, frame, emit)
        except DomainError as exc:
            await emit(
                {
                    "type": "error",
                    "status": exc.status_code,
                    "reason": exc.reason,
                    "ref": frame.get("idempotency_key") or frame.get("type"),
                }
            )
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            await emit({"type": "error", "status": 422, "reason": f"bad frame: {exc}"})
        except (SQLAlchemyError, OSError, TimeoutError, ConcurrencyError) as exc:
            # Nothing was stored (the transaction rolled back): the client may retry the frame.
            log.warning("live_frame_failed", error=type(exc).__name__)
            await emit(
                {
                    "type": "error",
                    "status": 503,
                    "reason": "busy; retry",
                    "ref": frame.get("idempotency_key") or frame.get("type"),
                }
            )


async def _handle(
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    frame: dict[str, Any],
    emit: Any,
) -> None:
    """One client frame: parsed here, carried out by one of ``service``'s commands."""
    kind = frame.get("type")
    if kind == "send":
        key = str(frame["idempotency_key"])
        if not 8 <= len(key) <= 100:
            raise ValueError("idempotency_key must be 8 to 100 characters")
        shas = frame.get("attachments") or []
        if not isinstance(shas, list) or len(shas) > domain.MAX_ATTACHMENTS_PER_MESSAGE:
            raise ValueError("attachments must be a short list of sha256")
        made = await service.send(
            db, clock, case_id, caller, str(frame.get("text", "")), key, [str(s) for s in shas]
        )
        await emit({"type": "ack", "idempotency_key": key, "sequence": made["sequence"]})
    elif kind == "read":
        await service.mark_read(db, clock, case_id, caller, int(frame["up_to"]))
    elif kind == "video_start":
        await service.start_video(db, clock, case_id, caller)
    elif kind == "video_end":
        await service.end_video(db, clock, case_id, caller)
    elif kind == "signal":
        data = frame.get("data")
        if not isinstance(data, dict) or len(json.dumps(data)) > 64_000:
            raise ValueError("signal data must be a JSON object under 64 kB")
        await service.relay_signal(db, case_id, caller, str(frame.get("kind")), data)
    else:
        raise ValueError(f"unknown frame type {kind!r}")
