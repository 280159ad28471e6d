"""OpenID Connect e-ID adapter: a region plugs in its e-ID broker (authorization code + PKCE).

It fits the same BankID-shaped interface as the test provider: ``start`` gives
the client an URL to open (the broker's authorization page) instead of an
app start token; the broker redirects the browser back to identity's
callback, where the service finishes the order with the ``person`` the code
names; ``collect`` then reports it like any other order. The personal identity
number comes from a configurable ID-token claim, checked against the broker's
JWKS, issuer, audience, nonce and expiry.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from careflow.identity.domain import LoginMethod
from careflow.identity.eid import StartedOrder, new_order
from careflow.kit.domain import Forbidden


@asynccontextmanager
async def _broker_call() -> AsyncIterator[None]:
    """Tell a broker that is away (503, retry later) from one that refused the login (403)."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise ConnectionError("the e-ID broker is not answering") from exc
    except OAuthError as exc:
        raise Forbidden(f"the e-ID broker refused the login: {exc.error}") from None


class OidcEidProvider:
    """Log in through an OIDC provider with the authorization code flow and PKCE (S256)."""

    method = LoginMethod.OIDC

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        pin_claim: str = "personal_identity_number",
        scope: str = "openid profile",
        ttl_seconds: float = 300.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.pin_claim = pin_claim
        self.scope = scope
        self.ttl_seconds = ttl_seconds
        self._metadata: dict[str, Any] | None = None

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is None:
            async with _broker_call(), httpx.AsyncClient(timeout=10) as http:
                response = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                response.raise_for_status()
                self._metadata = response.json()
        return self._metadata

    def _client(self, code_verifier: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            timeout=10,
        )

    async def start(self, personal_identity_number: str | None) -> StartedOrder:
        """Begin a login; ``auto_start_token`` is the authorization URL the client opens.

        The order carries the ``state``, PKCE verifier and nonce, for the service to keep
        with it: the broker's callback may land on any replica."""
        metadata = await self._discover()
        state = secrets.token_urlsafe(32)
        verifier = generate_token(64)
        nonce = secrets.token_urlsafe(16)
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        return new_order(url, oidc_state=state, code_verifier=verifier, nonce=nonce)

    async def person(self, code: str, code_verifier: str, nonce: str) -> str:
        """The broker redirected back: exchange the code and read the person from the ID token."""
        metadata = await self._discover()
        async with _broker_call(), self._client() as client:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                code=code,
                code_verifier=code_verifier,
                grant_type="authorization_code",
            )
        return await self._person_in(token["id_token"], nonce)

    async def _person_in(self, id_token: str, nonce: str) -> str:
        metadata = await self._discover()
        async with _broker_call(), httpx.AsyncClient(timeout=10) as http:
            keys = KeySet.import_key_set((await http.get(metadata["jwks_uri"])).json())
        try:
            decoded = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "EdDSA"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except JoseError as exc:
            raise Forbidden(f"the e-ID broker's ID token was refused: {exc}") from None
        pin = decoded.claims.get(self.pin_claim)
        if not isinstance(pin, str):
            raise Forbidden(f"the ID token carries no {self.pin_claim!r} claim")
        return pin
