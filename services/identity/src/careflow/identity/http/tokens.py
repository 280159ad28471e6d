"""Tokens: the signing keys every service verifies with, refresh and revocation."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from careflow.identity import service
from careflow.identity.http.models import RefreshRequest, Token
from careflow.kit.problems import problems


def router(identity: service.Identity) -> APIRouter:
    """The JWKS and routes under ``/tokens``."""
    api = APIRouter()

    @api.get("/.well-known/jwks.json")
    async def jwks(response: Response) -> dict[str, list[dict[str, str]]]:
        """The public keys access tokens are signed with (current and still-valid earlier)."""
        # Public keys: verifiers may keep them a while (the kit marks all else no-store).
        response.headers["Cache-Control"] = "public, max-age=300"
        return service.jwks(identity)

    @api.post("/tokens/refresh", responses=problems(401, 404))
    async def refresh(body: RefreshRequest) -> Token:
        """Swap a refresh token for a new access token and a new refresh token (rotation).

        A token used twice ends every session of its login (401); so does a person no
        longer allowed (staff out of the catalogue, a guardian no longer guardian)."""
        return Token.model_validate(await service.refresh(identity, body.refresh_token))

    @api.post("/tokens/revoke", status_code=status.HTTP_204_NO_CONTENT)
    async def revoke(body: RefreshRequest) -> None:
        """Log out: the refresh token stops working at once."""
        await service.revoke(identity, body.refresh_token)

    return api
