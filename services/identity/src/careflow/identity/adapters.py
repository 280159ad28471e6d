"""Identity's database: refresh tokens (revocable, rotated), the login sessions' streams,
whose number each patient subject id is, login attempts (rate limits) and pending e-ID orders:
every replica sees the same."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.identity import domain
from careflow.identity.domain.orders import Order, OrderStatus
from careflow.kit.auth import Principal
from careflow.kit.db import Database
from careflow.kit.eventstore import Aggregate

T = TypeVar("T")

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
    # Every token descends from one login: its family. A rotated token presented again
    # (stolen, or replayed) revokes the whole family.
    Column("family_id", Uuid, nullable=False, index=True),
    Column("rotated_at", DateTime(timezone=True), nullable=True),
    # Who authenticated (patient, guardian or staff): re-checked in the registers on refresh.
    Column("login_pin", String(12), nullable=True),
)


#: Whose number each patient subject id is. Identity issued the id (a keyed hash of the number)
#: and alone turns it back: to tell the journal a case's patient, and to re-check a guardian
#: or a child without the number ever travelling in a token.
subjects = Table(
    "subjects",
    metadata,
    Column("subject_id", String(128), primary_key=True),
    Column("personal_identity_number", String(12), nullable=False),
)


async def remember_subjects(conn: AsyncConnection, numbers: dict[str, str]) -> None:
    """Remember whose number each subject id (key) is (idempotent)."""
    if numbers:
        await conn.execute(
            pg_insert(subjects).on_conflict_do_nothing(),
            [{"subject_id": s, "personal_identity_number": n} for s, n in numbers.items()],
        )


async def number_of(conn: AsyncConnection, subject_id: str) -> str | None:
    """The personal identity number of a subject id identity issued; None if it never did."""
    return (
        await conn.execute(
            select(subjects.c.personal_identity_number).where(subjects.c.subject_id == subject_id)
        )
    ).scalar()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_refresh_token(
    conn: AsyncConnection,
    principal: Principal,
    now: datetime,
    ttl: timedelta,
    family_id: UUID,
    login_pin: str,
) -> str:
    """A new opaque refresh token for ``principal`` in ``family_id``, valid from ``now`` for
    ``ttl``; ``login_pin`` is who authenticated (re-checked on refresh)."""
    token = secrets.token_urlsafe(32)
    await conn.execute(
        refresh_tokens.insert().values(
            token_hash=_hash(token),
            subject_id=principal.subject_id,
            principal=principal.model_dump(),
            issued_at=now,
            expires_at=now + ttl,
            family_id=family_id,
            login_pin=login_pin,
        )
    )
    return token


class TokenState(StrEnum):
    USABLE = "usable"
    #: Already exchanged for a newer token: presenting it again is reuse.
    ROTATED = "rotated"
    #: Logged out, family revoked, expired or unknown.
    INVALID = "invalid"


@dataclass(frozen=True)
class PresentedToken:
    state: TokenState
    family_id: UUID | None = None
    principal: Principal | None = None
    login_pin: str | None = None


async def rotate_refresh_token(conn: AsyncConnection, token: str, now: datetime) -> PresentedToken:
    """Look a presented refresh token up and, when usable, mark it rotated (used once)."""
    row = (
        await conn.execute(
            select(refresh_tokens)
            .where(refresh_tokens.c.token_hash == _hash(token))
            .with_for_update()
        )
    ).first()
    if row is None:
        return PresentedToken(TokenState.INVALID)
    if row.rotated_at is not None:
        return PresentedToken(TokenState.ROTATED, row.family_id)
    if row.revoked_at is not None or row.expires_at <= now:
        return PresentedToken(TokenState.INVALID, row.family_id)
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.token_hash == row.token_hash)
        .values(rotated_at=now, revoked_at=now)
    )
    principal: dict[str, Any] = row.principal
    return PresentedToken(
        TokenState.USABLE, row.family_id, Principal.model_validate(principal), row.login_pin
    )


async def revoke_family(conn: AsyncConnection, family_id: UUID, now: datetime) -> None:
    """Every token of the family stops working at once."""
    await conn.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_refresh_token(conn: AsyncConnection, token: str, now: datetime) -> None:
    """Log out: the refresh token, and every other of its login's family, can never be used
    again (idempotent)."""
    family = select(refresh_tokens.c.family_id).where(refresh_tokens.c.token_hash == _hash(token))
    await conn.execute(
        update(refresh_tokens)
        .where(
            refresh_tokens.c.family_id.in_(family.scalar_subquery()),
            refresh_tokens.c.revoked_at.is_(None),
        )
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


#: Pending e-ID orders, so any replica can answer the next step (collect, the broker's
#: callback, the test app). A row is forgotten once past ``forget_at``.
login_orders = Table(
    "login_orders",
    metadata,
    Column("order_ref", String(64), primary_key=True),
    Column("realm", String(16), nullable=False),
    # Only a hash of the browser's login secret: a leaked row cannot take over the login.
    Column("secret_hash", LargeBinary, nullable=False),
    Column("auto_start_token", Text, nullable=False),
    Column("qr_start_token", String(64), nullable=False),
    Column("qr_start_secret", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("forget_at", DateTime(timezone=True), nullable=False, index=True),
    Column("expected_pin", String(12), nullable=True),
    Column("status", String(16), nullable=False),
    Column("hint_code", String(64), nullable=True),
    Column("completed_pin", String(12), nullable=True),
    Column("collected", Boolean, nullable=False),
    Column("oidc_state", String(128), nullable=True),
    Column("code_verifier", String(128), nullable=True),
    Column("nonce", String(128), nullable=True),
    UniqueConstraint("oidc_state", name="uq_login_orders_oidc_state"),
)


def _order_row(order: Order) -> dict[str, Any]:
    row = asdict(order)
    row["status"] = order.status.value
    return row


def _order(row: Any) -> Order:
    values = dict(row._mapping)
    values["status"] = OrderStatus(values["status"])
    values["secret_hash"] = bytes(values["secret_hash"])
    return Order(**values)


class PgOrders:
    """e-ID orders in identity's schema: each change reads the row under a lock, lets the
    rules decide, and writes it back in one transaction (replicas take turns on an order)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, order: Order) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(login_orders.insert().values(_order_row(order)))

    async def change(self, order_ref: str, decide: Callable[[Order | None], tuple[Order, T]]) -> T:
        async with self.db.transaction() as conn:
            row = (
                await conn.execute(
                    select(login_orders)
                    .where(login_orders.c.order_ref == order_ref)
                    .with_for_update()
                )
            ).first()
            before = _order(row) if row is not None else None
            after, answer = decide(before)
            if after != before:
                values = _order_row(after)
                del values["order_ref"]
                await conn.execute(
                    update(login_orders).where(login_orders.c.order_ref == order_ref).values(values)
                )
            return answer

    async def by_state(self, state: str) -> str | None:
        async with self.db.transaction() as conn:
            found = await conn.scalar(
                select(login_orders.c.order_ref).where(login_orders.c.oidc_state == state)
            )
            return str(found) if found is not None else None

    async def forget(self, now: datetime) -> None:
        # A few at a time, skipping rows another replica is working on.
        stale = (
            select(login_orders.c.order_ref)
            .where(login_orders.c.forget_at <= now)
            .limit(100)
            .with_for_update(skip_locked=True)
        )
        async with self.db.transaction() as conn:
            await conn.execute(
                delete(login_orders).where(login_orders.c.order_ref.in_(stale.scalar_subquery()))
            )
