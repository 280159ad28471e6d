"""Bearer tokens every service trusts (HS256 JWT signed with the shared token secret).

Identity issues them; every other service verifies them with ``require``.
A token names a subject by an opaque id, never by personal identity number.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict

Role = Literal["patient", "staff"]
ISSUER = "careflow-identity"


class Principal(BaseModel):
    """Who is calling: a patient (possibly acting for a child) or a member of staff."""

    model_config = ConfigDict(frozen=True)

    subject_id: str
    role: Role
    region: str
    acting_for: str | None = None
    # patient only: identity needs to hand it to the case once, at opening
    personal_identity_number: str | None = None
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
    return jwt.encode(claims, secret, algorithm="HS256")


class InvalidToken(ValueError):
    """The token is missing, expired, forged or malformed."""


def verify_token(secret: str, token: str) -> Principal:
    """The principal a token names; raises ``InvalidToken`` with the reason."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
        return Principal(subject_id=claims["sub"], **claims["cf"])
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken(f"invalid token: {exc}") from None


_bearer = HTTPBearer(auto_error=False)


def require(secret: str, role: Role | None = None) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A FastAPI dependency: the verified caller, optionally of one role (401/403 otherwise)."""

    async def dependency(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            principal = verify_token(secret, credentials.credentials)
        except InvalidToken as exc:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        if role is not None and principal.role != role:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role} role")
        return principal

    return dependency
