"""Bearer tokens every service trusts.

Identity signs access tokens with Ed25519 (JWT ``alg: EdDSA``, a ``kid`` per key)
and publishes the public keys as a JWKS; every other service verifies them with
``require``, fetching the JWKS asynchronously (or reading it from a mounted file)
and caching it. Development shortcuts may still use
HS256 with the shared token secret, which is refused outside dev and test.
A token names a subject by an opaque id, never by personal identity number (no claim
carries one: ``Principal`` has no such field).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from starlette.requests import HTTPConnection

from careflow.kit.logging import get_logger

log = get_logger(__name__)

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
    return _decode_with_expiry(token, key, algorithm, audience)[0]


def _decode_with_expiry(
    token: str, key: Any, algorithm: str, audience: str | None
) -> tuple[Principal, float]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "sub", "iss"], "verify_aud": audience is not None},
        )
        return Principal(subject_id=claims["sub"], **claims["cf"]), float(claims["exp"])
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

    EdDSA tokens are checked against a JWKS: given, read from ``jwks_file`` (mounted from
    a ConfigMap or Secret, read again when it changes) or fetched from ``jwks_url``. HS256
    tokens are checked against ``secret``, and only where ``allow_hs256`` (dev and test).
    Each runtime holds its own, so several services can share a process.

    The fetch never blocks the event loop and never turns into a storm: one fetch at a
    time, at most one per ``refetch_seconds`` however many unknown key ids arrive, and
    after a failure none for ``failure_backoff_seconds``, doubling with each failure up
    to ``max_backoff_seconds``. While identity is
    away the keys last fetched keep verifying (a stale cache beats logging everyone out;
    a leaked key is handled by restarting the services, docs/operations.md).
    """

    def __init__(
        self,
        secret: str,
        *,
        allow_hs256: bool,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        jwks_file: str | Path | None = None,
        cache_seconds: float = 300.0,
        refetch_seconds: float = 5.0,
        failure_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        fetch_timeout_seconds: float = 3.0,
        file_check_seconds: float = 1.0,
        require_https: bool = False,
    ) -> None:
        if jwks_url and require_https and not jwks_url.lower().startswith("https://"):
            # Over plain http anyone on the path can hand us their own signing key.
            raise ValueError("the JWKS URL must use https outside development")
        self.secret = secret
        self.allow_hs256 = allow_hs256
        self.jwks_url = jwks_url
        self.jwks_file = Path(jwks_file) if jwks_file else None
        # A mounted file is cheap to look at: checked every ``file_check_seconds``.
        self.cache_seconds = min(cache_seconds, file_check_seconds) if jwks_file else cache_seconds
        self.file_check_seconds = file_check_seconds
        self.refetch_seconds = refetch_seconds
        self.failure_backoff_seconds = failure_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.fetch_timeout_seconds = fetch_timeout_seconds
        #: How many times the JWKS was fetched or read (for tests and metrics).
        self.fetches = 0
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._next_attempt = 0.0
        self._failures = 0
        self._file_version: tuple[int, int] | None = None
        self._lock: asyncio.Lock | None = None
        self._tls: ssl.SSLContext | None = None
        self._background: asyncio.Task[None] | None = None
        # Tokens already verified, with their expiry and the key that verified them: a
        # patient's page polls and a chat sends many requests with one token, and an Ed25519
        # check plus JWT parsing is a few percent of a service's CPU (profiles under
        # bench/results/profiles). A hit still checks the expiry and that the same key is
        # still trusted, so a key withdrawn from the JWKS stops its tokens at once.
        self._verified: OrderedDict[str, tuple[Principal, float, str, Any]] = OrderedDict()
        self.verified_cache_size = 10_000
        if jwks is not None:
            self.use_jwks(jwks)

    def verify(self, token: str) -> Principal:
        """The principal ``token`` names, against the keys in hand (no I/O); ``InvalidToken``.

        ``authenticate`` is the same with the keys brought up to date first.
        """
        known = self._already_verified(token)
        if known is not None:
            return known
        alg, kid = _header(token)
        if alg == "EdDSA":
            try:
                key = self._keys[kid]
            except KeyError:
                raise InvalidToken("unknown signing key") from None
            principal, expires_at = _decode_with_expiry(token, key, "EdDSA", audience=AUDIENCE)
            self._verified[token] = (principal, expires_at, kid, key)
            self._forget_expired()
            if len(self._verified) > self.verified_cache_size:
                self._verified.popitem(last=False)
            return principal
        if alg == "HS256" and self.allow_hs256:
            return _decode(token, self.secret, "HS256", audience=None)
        raise InvalidToken(f"algorithm {alg!r} is not accepted")

    async def authenticate(self, token: str) -> Principal:
        """The principal ``token`` names; fetches identity's keys if needed; ``InvalidToken``.

        A key id not in hand waits for one fetch (a rotation); a known one whose cache has
        expired is verified at once and the keys are fetched again in the background.
        """
        known = self._already_verified(token)
        if known is not None:
            if self._sourced and time.monotonic() - self._fetched_at >= self.cache_seconds:
                self._refresh_in_background()
            return known
        alg, kid = _header(token)
        if alg == "EdDSA" and self._sourced:
            if kid not in self._keys:
                await self.refresh()
            elif time.monotonic() - self._fetched_at >= self.cache_seconds:
                self._refresh_in_background()
        return self.verify(token)

    def _forget_expired(self) -> None:
        """Drop the expired tokens at the front: tokens are verified in about the order they
        were issued, so the memory holds about one token lifetime's logins, not the bound."""
        now = time.time()
        while self._verified:
            _, expires_at, _, _ = next(iter(self._verified.values()))
            if expires_at > now:
                return
            self._verified.popitem(last=False)

    def _already_verified(self, token: str) -> Principal | None:
        hit = self._verified.get(token)
        if hit is None:
            return None
        principal, expires_at, kid, key = hit
        if time.time() < expires_at and self._keys.get(kid) is key:
            return principal
        del self._verified[token]
        return None

    def use_jwks(self, jwks: dict[str, Any]) -> None:
        """Trust exactly the Ed25519 keys of ``jwks`` (until the next fetch or file change)."""
        self._keys = _ed25519_keys(jwks)
        self._fetched_at = time.monotonic()

    def _use_fetched(self, jwks: Any) -> None:
        keys = _ed25519_keys(jwks)
        if not keys:
            # Identity always publishes its current key: an empty set is an error page or a
            # misconfiguration, and must not log everyone out.
            raise ValueError("the JWKS holds no Ed25519 key")
        self._keys = keys
        self._fetched_at = time.monotonic()

    @property
    def _sourced(self) -> bool:
        return bool(self.jwks_url or self.jwks_file)

    async def refresh(self) -> None:
        """Bring the keys up to date unless the last attempt is too recent; never raises.

        One attempt at a time; callers arriving meanwhile wait for it and share its result.
        """
        if not self._sourced or time.monotonic() < self._next_attempt:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() < self._next_attempt:
                return  # another caller just did it
            try:
                if self.jwks_file is not None:
                    await asyncio.to_thread(self._read_file_if_changed)
                else:
                    await self._fetch()
            except Exception as exc:
                # Whatever went wrong (identity away, a bad answer, a misconfigured URL),
                # the keys in hand stay and the next attempt waits: never a retry storm.
                self._failures += 1
                wait = min(
                    self.max_backoff_seconds,
                    self.failure_backoff_seconds * 2 ** (self._failures - 1),
                )
                log.warning(
                    "jwks_refresh_failed",
                    error=type(exc).__name__,
                    failures=self._failures,
                    keys_in_hand=len(self._keys),
                    retry_in_seconds=wait,
                )
                self._next_attempt = time.monotonic() + wait
            else:
                self._failures = 0
                wait = self.file_check_seconds if self.jwks_file else self.refetch_seconds
                self._next_attempt = time.monotonic() + wait

    async def prefetch(self) -> None:
        """Load the keys now if a source is configured; never raises (identity may start later)."""
        await self.refresh()

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self.refresh(), name="jwks-refresh")

    async def _fetch(self) -> None:
        assert self.jwks_url is not None
        self.fetches += 1
        if self._tls is None:
            # Loading the CA bundle takes the better part of a second: not on the event loop.
            # SSL_CERT_FILE names a private CA (the cluster's), as it does for httpx.
            self._tls = await asyncio.to_thread(httpx.create_ssl_context)
        async with httpx.AsyncClient(
            verify=self._tls, timeout=self.fetch_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            self._use_fetched(response.json())

    def _read_file_if_changed(self) -> None:
        assert self.jwks_file is not None
        stat = self.jwks_file.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        if version == self._file_version:
            self._fetched_at = time.monotonic()
            return
        self.fetches += 1
        self._use_fetched(json.loads(self.jwks_file.read_text()))
        self._file_version = version


def _ed25519_keys(jwks: dict[str, Any]) -> dict[str, Any]:
    """The Ed25519 public keys of a JWKS, by key id."""
    keys = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and jwk.get("kid"):
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="EdDSA").key
    return keys


def _header(token: str) -> tuple[str, str]:
    """The token's algorithm and key id, once its ``typ`` says it is an access token."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    if str(header.get("typ", "")).lower() != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token (typ)")
    return str(header.get("alg")), str(header.get("kid", ""))


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
            principal = await verifier_of(request).authenticate(credentials.credentials)
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
