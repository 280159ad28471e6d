"""OpenID Connect e-ID adapter: a region plugs in its e-ID broker (authorization code + PKCE).

It fits the same BankID-shaped interface as the test provider: ``start`` gives
the client an URL to open (the broker's authorization page) instead of an
app start token; the broker redirects the browser back to identity's
callback, which ``complete``s the order; ``collect`` then reports it like any
other order. The personal identity number comes from a configurable ID-token
claim, checked against the broker's JWKS, issuer, audience, nonce and expiry.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from careflow.identity.domain import LoginMethod
from careflow.identity.eid import Collected, OrderStatus, StartedOrder
from careflow.kit.clock import Clock, SystemClock
from careflow.kit.domain import Conflict, Forbidden, NotFound


@dataclass
class _PendingLogin:
    started: StartedOrder
    code_verifier: str
    nonce: str
    status: OrderStatus = OrderStatus.PENDING
    hint_code: str = "outstandingTransaction"
    pin: str | None = None
    collected: bool = False
    expires_at: float = field(default=0.0)
    state: str = ""


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
        clock: Clock | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.pin_claim = pin_claim
        self.scope = scope
        self.ttl_seconds = ttl_seconds
        self.clock: Clock = clock or SystemClock()
        self._metadata: dict[str, Any] | None = None
        self._pending: dict[str, _PendingLogin] = {}
        #: The OIDC ``state`` of each pending login -> its order reference. The two differ:
        #: the state travels in URLs (the broker's redirect), the order reference does not
        #: let anyone collect a login either (that needs the browser's login secret).
        self._by_state: dict[str, str] = {}

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
        """Begin a login; ``auto_start_token`` is the authorization URL the client opens."""
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
        started = StartedOrder(
            order_ref=secrets.token_hex(16),
            auto_start_token=url,
            qr_start_token=secrets.token_hex(16),
            qr_start_secret=secrets.token_hex(32),
            started_at=self.clock.now().timestamp(),
        )
        self._pending[started.order_ref] = _PendingLogin(
            started, verifier, nonce, expires_at=started.started_at + self.ttl_seconds, state=state
        )
        self._by_state[state] = started.order_ref
        return started

    def order_of(self, state: str) -> str:
        """The order reference of the pending login the broker's ``state`` names."""
        order_ref = self._by_state.get(state)
        if order_ref is None:
            raise NotFound("no such login")
        return order_ref

    async def complete(self, order_ref: str, code: str | None, error: str | None) -> None:
        """The broker redirected back: exchange the code and read the person from the ID token.

        ``order_ref`` is the login's (``order_of(state)``); a state is used once.
        """
        pending = self._pending.get(order_ref)
        if pending is None:
            raise NotFound("no such login")
        self._by_state.pop(pending.state, None)  # a state is good for one callback
        if (
            pending.status is OrderStatus.PENDING
            and self.clock.now().timestamp() > pending.expires_at
        ):
            pending.status, pending.hint_code = OrderStatus.FAILED, "expiredTransaction"
        if pending.status is not OrderStatus.PENDING:
            raise Conflict("this login is already finished")
        if error or not code:
            pending.status, pending.hint_code = OrderStatus.FAILED, "userCancel"
            return
        metadata = await self._discover()
        async with _broker_call(), self._client() as client:
            token = await client.fetch_token(
                metadata["token_endpoint"],
                code=code,
                code_verifier=pending.code_verifier,
                grant_type="authorization_code",
            )
        pending.pin = await self._person_in(token["id_token"], pending.nonce)
        pending.status = OrderStatus.COMPLETE

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

    async def collect(self, order_ref: str) -> Collected:
        pending = self._pending.get(order_ref)
        if pending is None:
            raise NotFound("no such order")
        now = self.clock.now().timestamp()
        if pending.status is OrderStatus.PENDING and now > pending.expires_at:
            pending.status, pending.hint_code = OrderStatus.FAILED, "expiredTransaction"
        if pending.status is OrderStatus.COMPLETE:
            if pending.collected:
                raise Conflict("this order was already collected; start a new login")
            pending.collected = True
            return Collected(OrderStatus.COMPLETE, None, pending.pin)
        return Collected(pending.status, pending.hint_code)

    def forget(self, order_ref: str) -> None:
        pending = self._pending.pop(order_ref, None)
        if pending is not None:
            self._by_state.pop(pending.state, None)

    async def cancel(self, order_ref: str) -> None:
        pending = self._pending.get(order_ref)
        if pending is None:
            raise NotFound("no such order")
        if pending.status is OrderStatus.PENDING:
            pending.status, pending.hint_code = OrderStatus.FAILED, "userCancel"
