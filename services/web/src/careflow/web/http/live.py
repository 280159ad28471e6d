"""One WebSocket per page for live updates: place in the queue, "your turn", messages,
the case closing.

The browser authenticates with its session cookie (never a token); the socket must come
from this site's own pages (Origin). The web service follows the case for the page by
asking queue and chat, and sends only what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from careflow.kit.domain import DomainError
from careflow.kit.logging import get_logger
from careflow.web import conversation, domain, service
from careflow.web.adapters.backends import Unauthenticated, Unavailable
from careflow.web.http import video_relay
from careflow.web.http.common import SESSION_COOKIE, _local_time

log = get_logger(__name__)

POLICY_VIOLATION = 1008
NOT_FOUND = 4404


def _message(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "sequence": m["sequence"],
        "sender_role": m["sender_role"],
        "text": m["text"],
        "sent_at": _local_time(m["sent_at"], "%H:%M"),
        "attachments": [
            {"sha256": a["sha256"], "media_type": a["media_type"], "size_bytes": a["size_bytes"]}
            for a in m.get("attachments") or []
        ],
        "sender_name": m.get("sender_name"),
        "sender_title": m.get("sender_title"),
    }


async def _follow(
    ws: WebSocket,
    web: service.Web,
    secret: str,
    case_id: uuid.UUID,
    say: video_relay.Say,
    relay: video_relay.Relay,
) -> None:
    seen: dict[str, Any] = {
        "place": None,
        "contact": False,
        "closed": False,
        "sequence": 0,
        "read": 0,
        "turn_seen": False,
    }
    try:
        seen["sequence"] = int(ws.query_params.get("after", "0"))
    except ValueError:
        seen["sequence"] = 0
    while True:
        session = await service.current_session(web, secret)
        if session is None or not session.logged_in:
            await ws.close(POLICY_VIOLATION, "log in again")
            return
        frames: list[dict[str, Any]] = []
        # Staff follow a case they hold; a patient's case has a conversation only once
        # queue says it is their turn (or had one, before a requeue).
        talking = session.role != "patient" or seen["contact"]
        if session.role == "patient":
            place = await service.place(web, session, case_id)
            talking = talking or domain.turn_reached(place)
            shown = None
            if place is not None:
                shown = {
                    "type": "place",
                    "status": place["status"],
                    "position": place["position"],
                    "wait_minutes": domain.wait_minutes(place["estimated_wait_seconds"]),
                    # A re-triage moves the case: its new urgency shows without a reload.
                    "urgency": place.get("urgency"),
                }
            if shown != seen["place"] and shown is not None:
                frames.append(shown)
                seen["place"] = shown
        # A waiting patient's page asks queue alone: chat has nothing to say before the
        # turn, and every open waiting room asking both doubled the web's calls.
        contact = await service.conversation(web, session, case_id) if talking else None
        if contact is not None and not seen["contact"]:
            seen["contact"] = True
            frames.append(
                {"type": "turn", "professional": contact["professional"], "title": contact["title"]}
            )
        if contact is not None and session.role == "patient" and not seen["turn_seen"]:
            seen["turn_seen"] = await service.mark_turn_seen(web, session, case_id)
        if contact is not None:
            if not contact.get("closed_at"):
                relay.conversation.set()
            for m in await service.messages(web, session, case_id, seen["sequence"]):
                frames.append(_message(m))
                seen["sequence"] = max(seen["sequence"], m["sequence"])
            read = domain.read_by_other(
                await conversation.receipts(web, session, case_id), session.role
            )
            if read > seen["read"]:
                seen["read"] = read
                frames.append({"type": "read", "up_to": read})
            if contact.get("closed_at") and not seen["closed"]:
                seen["closed"] = True
                frames.append({"type": "closed"})
        for frame in frames:
            await say(frame)
        await asyncio.sleep(web.settings.live_poll_seconds)


async def live(ws: WebSocket) -> None:
    """``/live?case=ID``: the case's changes, as JSON frames, until the page goes away."""
    web: service.Web = ws.app.state.web
    if not domain.same_origin(ws.headers.get("origin"), ws.headers.get("host")):
        await ws.close(POLICY_VIOLATION, "not from this site")
        return
    secret = ws.cookies.get(SESSION_COOKIE)
    session = await service.current_session(web, secret)
    if session is None or not session.logged_in or secret is None:
        await ws.close(POLICY_VIOLATION, "log in first")
        return
    try:
        case_id = uuid.UUID(ws.query_params.get("case", ""))
        if session.role == "patient":
            await service.own_case(web, session, case_id)
    except (ValueError, DomainError):
        await ws.close(NOT_FOUND, "no such case")
        return
    await ws.accept()
    lock = asyncio.Lock()

    async def say(frame: dict[str, Any]) -> None:
        async with lock:
            await ws.send_text(json.dumps(frame))

    relay = video_relay.Relay()
    follower = asyncio.create_task(_follow(ws, web, secret, case_id, say, relay))
    # The page says only video signalling; reading is also how a closed tab is noticed.
    listener = asyncio.create_task(_until_closed(ws, relay))
    bridge = asyncio.create_task(video_relay.bridge(web, secret, case_id, relay, say))
    try:
        done, _ = await asyncio.wait({follower, listener}, return_when=asyncio.FIRST_COMPLETED)
        if follower in done and (exc := follower.exception()) is not None:
            log.info("live_stopped", reason=type(exc).__name__)
            if isinstance(exc, Unauthenticated | Unavailable | DomainError):
                with contextlib.suppress(Exception):
                    await ws.close(1011, "try again")
    finally:
        for task in (follower, listener, bridge):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _until_closed(ws: WebSocket, relay: video_relay.Relay) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            relay.from_page(await ws.receive_text())
