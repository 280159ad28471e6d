"""A page's line to chat's live socket, opened with the person's token (held here, never in
the browser): the web service relays video signalling through it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from websockets.asyncio.client import ClientConnection, connect

#: Ask chat for messages after this sequence: none. The page gets messages another way;
#: this line carries only the video's frames.
NO_MESSAGES = 2**31 - 1


def live_url(chat_url: str, case_id: uuid.UUID) -> str:
    base = "ws" + chat_url.removeprefix("http")
    return f"{base}/chat/cases/{case_id}/live?after={NO_MESSAGES}"


@asynccontextmanager
async def opened(chat_url: str, case_id: uuid.UUID, token: str) -> AsyncIterator[ClientConnection]:
    """chat's live socket for the case, authenticated by its first frame."""
    # Service to service inside the platform: never through an outbound proxy.
    url = live_url(chat_url, case_id)
    async with connect(url, open_timeout=10, max_size=2**20, proxy=None) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        yield socket
