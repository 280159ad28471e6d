"""No cache keeps careflow's answers: health data, tokens and problems are ``no-store``.

Every HTTP answer of a service built by the kit's runtime carries ``Cache-Control:
no-store`` and ``Pragma: no-cache`` (for HTTP/1.0 caches), so neither a browser nor a
proxy keeps a copy of health data, a token or a problem naming a case (ASVS 8.2.1). A
route whose answer may be kept (a public key set, a probe) opts out by setting its own
``Cache-Control``; nothing else needs to remember to opt in.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = (b"cache-control", b"no-store")
NO_CACHE = (b"pragma", b"no-cache")


class NoStore:
    """ASGI middleware: ``no-store`` on every HTTP answer that does not set its own caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers += [NO_STORE, NO_CACHE]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
