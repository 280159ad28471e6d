"""Notify's table of "your turn" in the app and whether it reached the patient; queries, no rules.

A row is written with the PatientNotified it tracks (same transaction), marked seen when the
patient's app says so, and settled by the sweep (seen, reached by an outside channel, or
unreached: then a NotificationFailed puts the patient on staff's list).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime, MetaData, String, Table, select, update
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import PatientNotified
from careflow.notify import domain
from careflow.notify.adapters import deliveries

metadata = MetaData()

in_app_turns = Table(
    "in_app_turns",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("correlation_id", PgUUID(as_uuid=True), nullable=False),
    Column("cause_event_id", PgUUID(as_uuid=True), nullable=False),
    Column("recipient_id", String(128), nullable=False),
    Column("notified_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=True),
    Column("settled", String(16), nullable=True),
    Column("settled_at", DateTime(timezone=True), nullable=True),
)


async def track(conn: AsyncConnection, event: PatientNotified, recipient_id: str) -> None:
    """Start tracking a "your turn" shown in the app (idempotent per notification)."""
    await conn.execute(
        insert(in_app_turns)
        .values(
            notification_id=event.notification_id,
            case_id=event.case_id,
            correlation_id=event.correlation_id,
            cause_event_id=event.cause_event_id,
            recipient_id=recipient_id,
            notified_at=event.occurred_at,
        )
        .on_conflict_do_nothing()
    )


async def mark_seen(
    conn: AsyncConnection, case_id: UUID, notification_id: UUID, at: datetime
) -> datetime | None:
    """Record that the patient's app showed it (the first time counts); when, or None if unknown."""
    await conn.execute(
        update(in_app_turns)
        .where(
            in_app_turns.c.notification_id == notification_id,
            in_app_turns.c.case_id == case_id,
            in_app_turns.c.seen_at.is_(None),
        )
        .values(seen_at=at)
    )
    seen: datetime | None = await conn.scalar(
        select(in_app_turns.c.seen_at).where(
            in_app_turns.c.notification_id == notification_id,
            in_app_turns.c.case_id == case_id,
        )
    )
    return seen


async def open_before(conn: AsyncConnection, before: datetime, limit: int = 200) -> list[UUID]:
    """Unsettled in-app turns notified at or before ``before``, oldest first."""
    rows = await conn.execute(
        select(in_app_turns.c.notification_id)
        .where(in_app_turns.c.settled.is_(None), in_app_turns.c.notified_at <= before)
        .order_by(in_app_turns.c.notified_at)
        .limit(limit)
    )
    return [r.notification_id for r in rows]


async def load_locked(conn: AsyncConnection, notification_id: UUID) -> domain.InAppTurn | None:
    """One unsettled in-app turn, locked for settling (None if settled meanwhile)."""
    row = (
        await conn.execute(
            select(in_app_turns)
            .where(
                in_app_turns.c.notification_id == notification_id,
                in_app_turns.c.settled.is_(None),
            )
            .with_for_update(skip_locked=True)
        )
    ).first()
    if row is None:
        return None
    return domain.InAppTurn(
        notification_id=row.notification_id,
        case_id=row.case_id,
        correlation_id=row.correlation_id,
        cause_event_id=row.cause_event_id,
        recipient_id=row.recipient_id,
        notified_at=row.notified_at,
        seen_at=row.seen_at,
    )


async def outside_statuses(conn: AsyncConnection, cause_event_id: UUID) -> list[str]:
    """The statuses of the outside deliveries of "your turn" for one TurnReached."""
    rows = await conn.execute(
        select(deliveries.c.status).where(
            deliveries.c.cause_event_id == cause_event_id, deliveries.c.kind == "your_turn"
        )
    )
    return [r.status for r in rows]


async def settle(
    conn: AsyncConnection, notification_id: UUID, verdict: domain.ReachVerdict, at: datetime
) -> None:
    """Close the tracking of one in-app turn with how it ended."""
    await conn.execute(
        update(in_app_turns)
        .where(in_app_turns.c.notification_id == notification_id)
        .values(settled=verdict, settled_at=at)
    )
