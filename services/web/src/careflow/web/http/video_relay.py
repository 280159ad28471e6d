"""Video signalling between a page and chat, through the page's one ``/live`` socket.

Once the case has its conversation, the web service opens chat's live socket for the page
with the person's token and relays: chat's video frames (its ICE servers, video started
and ended, the other side's offer, answer and ICE candidates) down to the page, and the
page's own offer, answer and candidates up to chat. Chat decides who may signal: only the
patient and the professional who took the case, and only while their video runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import WebSocketException

from careflow.kit.logging import get_logger
from careflow.web import service
from careflow.web.adapters import chat_live

log = get_logger(__name__)

Say = Callable[[dict[str, Any]], Awaitable[None]]

SIGNAL_KINDS = frozenset({"offer", "answer", "ice"})
#: A page's signalling frame: an SDP is a few kB; chat refuses more than 32 kB anyway.
MAX_SIGNAL_BYTES = 32_000
#: Frames waiting for chat's socket; a page sending more than this is not a browser.
OUTBOX_SIZE = 200


@dataclass
class Relay:
    """One page's relay: what it sends up, and whether the conversation is there yet."""

    outbox: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(OUTBOX_SIZE)
    )
    conversation: asyncio.Event = field(default_factory=asyncio.Event)

    def from_page(self, raw: str) -> None:
        """A frame the page sent: a signal is queued for chat; anything else is ignored."""
        if len(raw) > MAX_SIGNAL_BYTES:
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if (
            not isinstance(frame, dict)
            or frame.get("type") != "signal"
            or frame.get("kind") not in SIGNAL_KINDS
            or not isinstance(frame.get("data"), dict)
        ):
            return
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait({"type": "signal", "kind": frame["kind"], "data": frame["data"]})


def for_page(frame: dict[str, Any]) -> dict[str, Any] | None:
    """What of chat's frame the page needs for the video; None for the rest."""
    kind = frame.get("type")
    if kind == "hello":
        return {
            "type": "video",
            "running": frame.get("video_contact_id") is not None,
            "participant": bool(frame.get("video_participant")),
            "ice_servers": frame.get("ice_servers") or [],
        }
    if kind == "video_started":
        return {"type": "video_started", "ice_servers": frame.get("ice_servers") or []}
    if kind == "video_ended":
        return {"type": "video_ended"}
    if kind == "signal":
        return {"type": "signal", "kind": frame.get("kind"), "data": frame.get("data")}
    if kind == "error" and frame.get("ref") == "signal":
        return {"type": "video_error", "status": frame.get("status")}
    return None


async def bridge(web: service.Web, secret: str, case_id: uuid.UUID, relay: Relay, say: Say) -> None:
    """Keep chat's socket open for the page (again after a drop or a token's expiry)."""
    await relay.conversation.wait()
    while True:
        session = await service.current_session(web, secret)
        if session is None or session.access_token is None:
            return
        try:
            async with chat_live.opened(
                web.settings.chat_url, case_id, session.access_token
            ) as chat:
                up = asyncio.create_task(_up(chat, relay))
                try:
                    async for raw in chat:
                        shown = for_page(json.loads(raw))
                        if shown is not None:
                            await say(shown)
                finally:
                    up.cancel()
                    with contextlib.suppress(BaseException):
                        await up
        except (OSError, TimeoutError, ValueError, WebSocketException) as exc:
            log.info("video_relay_dropped", case_id=str(case_id), reason=type(exc).__name__)
        await asyncio.sleep(1.0)


async def _up(chat: Any, relay: Relay) -> None:
    while True:
        frame = await relay.outbox.get()
        await chat.send(json.dumps(frame))
