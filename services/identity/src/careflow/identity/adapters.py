"""Identity's database: refresh tokens (revocable, rotated) and the login sessions' streams."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.identity import domain
from careflow.kit.auth import Principal
from careflow.kit.domain import Forbidden
from careflow.kit.eventstore import Aggregate

#: Login sessions: each stream holds one event, so it is folded rather than kept in a row.
LOGINS: Aggregate[domain.LoginSession] = Aggregate(domain.LoginSession, domain.evolve)


def stream_id(session: UUID) -> str:
    """The event stream of one login session."""
    return f"login-{session}"


metadata = MetaData()

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    # Only a hash is stored: a leaked table cannot be replayed as tokens.
    Column("token_hash", String(64), primary_key=True),
    Column("subject_id", String(128), nullable=False, index=True),
    Column("principal", JSONB, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_refresh_token(
    conn: AsyncConnection, principal: Principal, now: datetime, ttl: timedelta
) -> str:
    """A new opaque refresh token for ``principal``, valid from ``now`` for ``ttl``."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        refresh_tokens.insert().values(
            token_hash=_hash(token),
            subject_id=principal.subject_id,
            principal=principal.model_dump(),
            issued_at=now,
            expires_at=now + ttl,
        )
    )
    return token


async def redeem_refresh_token(conn: AsyncConnection, token: str, now: datetime) -> Principal:
    """Use a refresh token once: it is revoked, the caller gets the principal to re-issue for.

    A revoked or expired token is refused (rotation: each refresh hands out a new one).
    """
    row = (
        await conn.execute(
            select(refresh_tokens)
            .where(refresh_tokens.c.token_hash == _hash(token))
            .with_for_update()
        )
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Forbidden("the refresh token is not valid; log in again")
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == row.token_hash)
        .values(revoked_at=now)
    )
    principal: dict[str, Any] = row.principal
    return Principal.model_validate(principal)


async def revoke_refresh_token(conn: AsyncConnection, token: str, now: datetime) -> None:
    """Log out: the refresh token can never be used again (idempotent)."""
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == _hash(token), refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


#: Login attempts per rate-limit key, shared by every replica (sliding window).
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # A keyed hash of what is limited (a client address, a person): never the value itself.
    Column("key", String(64), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False),
    Index("ix_login_attempts_key_attempted_at", "key", "attempted_at"),
    Index("ix_login_attempts_attempted_at", "attempted_at"),
)


async def attempts_since(conn: AsyncConnection, key: str, since: datetime) -> int:
    """How many attempts ``key`` made after ``since``; holds ``key``'s lock until commit, so
    replicas counting the same key take turns, and forgets attempts older than ``since``."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
    )
    await conn.execute(
        delete(login_attempts).where(
            login_attempts.c.key == key, login_attempts.c.attempted_at <= since
        )
    )
    # Other keys' old attempts go too, a few at a time, without waiting on anyone's lock.
    stale = (
        select(login_attempts.c.id)
        .where(login_attempts.c.attempted_at <= since)
        .limit(100)
        .with_for_update(skip_locked=True)
    )
    await conn.execute(
        delete(login_attempts).where(login_attempts.c.id.in_(stale.scalar_subquery()))
    )
    count = await conn.scalar(
        select(func.count()).where(
            login_attempts.c.key == key, login_attempts.c.attempted_at > since
        )
    )
    return int(count or 0)


async def record_attempt(conn: AsyncConnection, key: str, now: datetime) -> None:
    await conn.execute(login_attempts.insert().values(key=key, attempted_at=now))
