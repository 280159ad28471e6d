"""A record of every answer a service gave, for checking the API documents against it.

Tests (and an operator auditing a staging system) set ``CAREFLOW_RECORD_RESPONSES`` to
a file; every service process then appends one JSON line per HTTP answer: the
service, the method, the route's path template and the status. Nothing about the
caller, the case or the body is written, only which operation answered what.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseRecorder:
    """ASGI middleware appending (service, method, route, status) of each answer to a file."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        path: str,
        operations: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.app = app
        self.service = service
        self.path = path
        self._operations = operations
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    def template_of(self, path: str) -> str | None:
        """The documented path template ``path`` matches (literal segments win), if any."""
        if self._templates is None:
            paths = sorted(self._operations(), key=lambda t: (t.count("{"), -len(t)))
            self._templates = [
                (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)) + "$"), t)
                for t in paths
            ]
        return next((t for rx, t in self._templates if rx.match(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, remember)
        finally:
            template = self.template_of(scope["path"])
            if status and template:
                line = json.dumps(
                    {
                        "service": self.service,
                        "method": scope["method"],
                        "path": template,
                        "status": status[0],
                    }
                )
                # One short append per answer: O_APPEND keeps lines whole across processes.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
