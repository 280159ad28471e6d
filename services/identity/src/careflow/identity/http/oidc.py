"""Where the region's e-ID broker sends the browser back (OpenID Connect)."""

from __future__ import annotations

from fastapi import APIRouter, status

from careflow.identity import service
from careflow.identity.http.eid_orders import LoginSecret
from careflow.kit.problems import problems


def router(identity: service.Identity) -> APIRouter:
    """Routes under ``/oidc``."""
    api = APIRouter()

    @api.get(
        "/oidc/callback",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(403, 404, 409),
    )
    async def oidc_callback(
        state: str,
        code: str | None = None,
        error: str | None = None,
        login_secret: LoginSecret = None,
    ) -> None:
        """Where the e-ID broker sends the browser back; the client then collects the order.

        Only in the browser that started the login (its login-session cookie)."""
        await service.complete_oidc_login(identity, state, code, error, login_secret)

    return api
