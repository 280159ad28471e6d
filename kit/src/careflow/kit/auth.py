"""Bearer tokens every service trusts.

Identity signs access tokens with Ed25519 (JWT ``alg: EdDSA``, a ``kid`` per key)
and publishes the public keys as a JWKS; every other service verifies them with
``require``, fetching and caching the JWKS. Development shortcuts may still use
HS256 with the shared token secret, which is refused outside dev and test.
A token names a subject by an opaque id, never by personal identity number (no claim
carries one: ``Principal`` has no such field).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
import urllib.request
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.requests import HTTPConnection

#: An auditor reads (journal, timelines) and never writes.
Role = Literal["patient", "staff", "auditor"]
ISSUER = "careflow-identity"
AUDIENCE = "careflow"
#: RFC 9068 access-token type: a token of another kind (an ID token, a logout token) signed
#: by the same keys is not accepted as an access token (RFC 8725, section 3.11).
ACCESS_TOKEN_TYPE = "at+jwt"


class Principal(BaseModel):
    """Who is calling: a patient (possibly acting for a child) or a member of staff."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    role: Role
    region: str
    acting_for: str | None = None
    # patient only: what triage's questions may branch on, of the person cared for (the
    # child a guardian acts for). Never the personal identity number: tokens reach places
    # (browsers, logs, every service) that must not learn it; identity tells the journal.
    age_years: int | None = None
    sex: Literal["female", "male"] | None = None
    # staff only
    name: str | None = None
    title: str | None = None
    care_unit: str | None = None


def issue_token(secret: str, principal: Principal, ttl: timedelta = timedelta(hours=1)) -> str:
    """Sign a token for ``principal`` valid for ``ttl``."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": principal.subject_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "cf": principal.model_dump(exclude={"subject_id"}),
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": ACCESS_TOKEN_TYPE})


class InvalidToken(ValueError):
    """The token is missing, expired, forged or malformed."""


def verify_token(secret: str, token: str) -> Principal:
    """The principal an HS256 development token names; raises ``InvalidToken`` with the reason.

    Services verify through their runtime's ``TokenVerifier``; this is the shortcut for
    tools and tests that hold only the shared development secret.
    """
    return TokenVerifier(secret, allow_hs256=True).verify(token)


def _decode(token: str, key: Any, algorithm: str, audience: str | None) -> Principal:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "sub", "iss"], "verify_aud": audience is not None},
        )
        return Principal(subject_id=claims["sub"], **claims["cf"])
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken(f"invalid token: {exc}") from None


class SigningKey:
    """An Ed25519 private key with its key id, for identity to sign access tokens."""

    def __init__(self, kid: str, private_key: Ed25519PrivateKey) -> None:
        self.kid = kid
        self.private_key = private_key

    @classmethod
    def from_seed(cls, kid: str, seed: bytes) -> SigningKey:
        """Derive a key from 32 secret bytes (so configuration can carry it as text)."""
        digest = hashlib.sha256(seed).digest()
        return cls(kid, Ed25519PrivateKey.from_private_bytes(digest))

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK for the JWKS endpoint."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }

    def sign(self, principal: Principal, ttl: timedelta) -> str:
        """An EdDSA access token for ``principal``, valid for ``ttl``."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.subject_id,
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "cf": principal.model_dump(exclude={"subject_id"}),
        }
        return jwt.encode(
            claims,
            self.private_key,
            algorithm="EdDSA",
            headers={"kid": self.kid, "typ": ACCESS_TOKEN_TYPE},
        )


class TokenVerifier:
    """How one service checks bearer tokens: identity's public keys, cached, and the secret.

    EdDSA tokens are checked against a JWKS (fetched from ``jwks_url`` and cached, or
    given); HS256 tokens against ``secret``, and only where ``allow_hs256`` (dev and
    test). Each runtime holds its own, so several services can share a process.
    """

    def __init__(
        self,
        secret: str,
        *,
        allow_hs256: bool,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        cache_seconds: float = 300.0,
    ) -> None:
        self.secret = secret
        self.allow_hs256 = allow_hs256
        self.jwks_url = jwks_url
        self.cache_seconds = cache_seconds
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        if jwks is not None:
            self.use_jwks(jwks)

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names; raises ``InvalidToken`` with the reason."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        alg = header.get("alg")
        if str(header.get("typ", "")).lower() != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token (typ)")
        if alg == "EdDSA":
            key = self._public_key(str(header.get("kid", "")))
            return _decode(token, key, "EdDSA", audience=AUDIENCE)
        if alg == "HS256" and self.allow_hs256:
            return _decode(token, self.secret, "HS256", audience=None)
        raise InvalidToken(f"algorithm {alg!r} is not accepted")

    def use_jwks(self, jwks: dict[str, Any]) -> None:
        """Trust exactly the Ed25519 keys of ``jwks`` (until the cache expires, if a URL is set)."""
        keys = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and jwk.get("kid"):
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="EdDSA").key
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _public_key(self, kid: str) -> Any:
        fresh = time.monotonic() - self._fetched_at < self.cache_seconds
        if kid not in self._keys or not fresh:
            self.refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken(f"unknown signing key {kid!r}") from None

    def refresh(self) -> None:
        """Fetch the JWKS again (blocking), at most once a second; raises ``InvalidToken``."""
        if not self.jwks_url:
            return
        # A key we do not know yet (rotation) or a stale cache: ask identity again, at most
        # once a second so a flood of forged kids cannot hammer it.
        if time.monotonic() - self._fetched_at < 1.0 and self._keys:
            return
        try:
            with urllib.request.urlopen(self.jwks_url, timeout=3) as response:
                self.use_jwks(json.loads(response.read()))
        except (OSError, ValueError) as exc:
            raise InvalidToken(f"cannot fetch signing keys: {exc}") from None

    def prefetch(self) -> None:
        """Load the JWKS now if one is configured (blocking; run it in a thread); never raises."""
        if self.jwks_url:
            # Identity may start after us; the first token will try again.
            with contextlib.suppress(InvalidToken):
                self.refresh()


_bearer = HTTPBearer(auto_error=False)


def verifier_of(request: HTTPConnection) -> TokenVerifier:
    """The token verifier of the app serving ``request`` (set by the service runtime)."""
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("the app has no token verifier: build it with ServiceRuntime")
    return verifier


def require(
    role: Role | tuple[Role, ...] | None = None,
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency: the verified caller, optionally of one of ``role`` (401/403)."""
    allowed = (role,) if isinstance(role, str) else role

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            principal = verifier_of(request).verify(credentials.credentials)
        except InvalidToken as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        if allowed is not None and principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the {' or '.join(allowed)} role"
            )
        return principal

    # Read by the OpenAPI documentation: which answers (401, 403) this dependency adds.
    dependency.careflow_auth = "any" if allowed is None else ",".join(allowed)  # type: ignore[attr-defined]
    return dependency
