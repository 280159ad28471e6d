"""Clients of the other services' HTTP APIs, called with the person's own token.

Their problem answers become the kit's domain errors, so a page shows the same
404, 403 or 409 the service gave.
"""

from __future__ import annotations

from typing import Any

import httpx

from careflow.kit.domain import Conflict, DomainError, Forbidden, Invalid, NotFound, TooManyRequests
from careflow.web.settings import WebSettings

#: identity's login-session cookie: the web service holds it for the browser.
LOGIN_COOKIE = "careflow_login"


class _NoCookieJar(httpx.Cookies):
    """One client serves every person: a cookie a service sets must never be kept and
    sent along with someone else's request."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def _client(timeout: float) -> httpx.AsyncClient:
    client = httpx.AsyncClient(timeout=timeout)
    client._cookies = _NoCookieJar()  # the public setter copies into a plain jar
    return client


class Unauthenticated(Exception):
    """The token was refused (expired, revoked): the person must log in again."""


class Unavailable(Exception):
    """A service did not answer or failed: try again shortly."""


_ERRORS: dict[int, type[DomainError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: Invalid,
    429: TooManyRequests,
}


class AttachmentRefused(Invalid):
    """chat refused an attachment: too large (413) or not a photo or PDF it accepts (415)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 401:
        raise Unauthenticated()
    if response.status_code in (413, 415):
        raise AttachmentRefused(response.status_code, response.reason_phrase)
    if response.status_code in _ERRORS:
        try:
            detail = str(response.json().get("detail", ""))
        except ValueError:
            detail = ""
        raise _ERRORS[response.status_code](detail or response.reason_phrase)
    raise Unavailable(f"{response.request.url.path}: {response.status_code}")


class Backends:
    """One pooled HTTP client for every service the pages need."""

    def __init__(self, settings: WebSettings, client: httpx.AsyncClient | None = None) -> None:
        self.base = {
            "identity": settings.identity_url,
            "triage": settings.triage_url,
            "queue": settings.queue_url,
            "chat": settings.chat_url,
            "journal": settings.journal_url,
            "notify": settings.notify_url,
        }
        self.client = client or _client(settings.upstream_timeout_seconds)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        token: str | None = None,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """``method`` on ``/<service><path>``; a problem answer raised as a domain error."""
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        try:
            response = await self.client.request(
                method,
                f"{self.base[service]}/{service}{path}",
                json=json,
                params=params,
                headers=sent,
                content=content,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"{service} did not answer") from exc
        _raise_for(response)
        return response

    async def json(self, service: str, method: str, path: str, token: str | None, **kw: Any) -> Any:
        response = await self.call(service, method, path, token, **kw)
        return None if response.status_code == 204 else response.json()

    # --- identity's e-ID orders (the login cookie is kept server-side) ----------------------

    async def start_order(self, realm: str, client: str | None) -> tuple[dict[str, Any], str]:
        """Start an e-ID order; its details and identity's login-session secret."""
        headers = {"X-Forwarded-For": client} if client else None
        response = await self.call(
            "identity", "POST", "/eid/orders", json={"realm": realm}, headers=headers
        )
        order: dict[str, Any] = response.json()
        return order, response.cookies.get(LOGIN_COOKIE) or ""

    async def collect(self, order_ref: str, login_secret: str) -> dict[str, Any]:
        response = await self.call(
            "identity",
            "POST",
            f"/eid/orders/{order_ref}/collect",
            headers={"Cookie": f"{LOGIN_COOKIE}={login_secret}"},
        )
        body: dict[str, Any] = response.json()
        return body

    async def cancel(self, order_ref: str, login_secret: str) -> None:
        await self.call(
            "identity",
            "POST",
            f"/eid/orders/{order_ref}/cancel",
            headers={"Cookie": f"{LOGIN_COOKIE}={login_secret}"},
        )

    async def approve_in_test_app(self, order_ref: str, pin: str) -> None:
        await self.call(
            "identity",
            "POST",
            f"/eid/test-app/{order_ref}/approve",
            json={"personal_identity_number": pin},
        )

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.json(
            "identity", "POST", "/tokens/refresh", None, json={"refresh_token": refresh_token}
        )
        return body

    async def revoke(self, refresh_token: str) -> None:
        await self.call("identity", "POST", "/tokens/revoke", json={"refresh_token": refresh_token})
