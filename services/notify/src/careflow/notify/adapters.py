"""Notify's database: its aggregates' streams, the patient's notifications, contact
preferences and the durable table of outside deliveries. Queries and projections, no rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, PatientNotified
from careflow.kit.access_log import access_log_table
from careflow.kit.cases import case_patients
from careflow.kit.eventstore import Aggregate
from careflow.notify import domain

metadata = MetaData()

notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

#: One case's in-app notifications.
AGGREGATE = Aggregate(domain.CaseNotifications, domain.evolve)
#: One outside delivery's outcome (a stream of at most one event).
DELIVERY = Aggregate(domain.DeliveryOutcome, domain.evolve_delivery)


def stream_id(case_id: UUID) -> str:
    """The stream of a case's in-app notifications."""
    return f"notify-{case_id}"


def delivery_stream(delivery_id: UUID) -> str:
    """Each delivery's outcome is the only event on its own stream."""
    return f"notify-delivery-{delivery_id}"


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Show the patient the in-app notifications just decided."""
    for event in events:
        if isinstance(event, PatientNotified):
            await conn.execute(
                insert(notifications)
                .values(
                    notification_id=event.notification_id,
                    case_id=event.case_id,
                    kind=event.kind,
                    channel=event.channel,
                    created_at=event.occurred_at,
                )
                .on_conflict_do_nothing()
            )


async def for_case(conn: AsyncConnection, case_id: UUID) -> list[dict[str, object]]:
    """A case's in-app notifications, oldest first."""
    rows = await conn.execute(
        select(notifications)
        .where(notifications.c.case_id == case_id)
        .order_by(notifications.c.created_at)
    )
    return [dict(r._mapping) for r in rows]


# --- outside channels: contact preferences and the durable delivery table ------------------

contact_preferences = Table(
    "contact_preferences",
    metadata,
    Column("subject_id", String(128), primary_key=True),
    Column("language", String(2), nullable=False),
    Column("channels", ARRAY(String(16)), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("email", String(254), nullable=True),
    Column("push_subscription", JSONB, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Every read of a case's notifications or deliveries (what the case is about, and when
#: the patient was told) by staff or auditors. Only ever inserted.
access_log = access_log_table(metadata, "notify_access_log")

#: The outbox of notifications to send. One row per dedupe key (cause, recipient, channel):
#: planning twice is a no-op. ``next_attempt_at`` doubles as the lease: a worker that claims
#: a row pushes it into the future, so a worker killed mid-send leaves it due again later.
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", PgUUID(as_uuid=True), primary_key=True),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("correlation_id", PgUUID(as_uuid=True), nullable=False),
    Column("cause_event_id", PgUUID(as_uuid=True), nullable=False),
    Column("recipient_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("language", String(2), nullable=False),
    # The contact detail, kept only while the delivery is pending (cleared when it is done).
    Column("address", JSONB, nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(500), nullable=True),
    # Set, in its own commit, just before an e-mail's data goes to the mail server: a
    # claim that lapses with it set is not sent again (the mail may have arrived).
    Column("handed_over_at", DateTime(timezone=True), nullable=True),
    Index("deliveries_due_idx", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("deliveries_recipient_sent_idx", "recipient_id", "finished_at"),
    Index("deliveries_case_idx", "case_id", "kind", "created_at"),
)

PENDING, SENT, FAILED = "pending", "sent", "failed"


async def load_preferences(conn: AsyncConnection, subject_id: str) -> domain.ContactPreferences:
    """A person's contact preferences (defaults when they never set any)."""
    row = (
        await conn.execute(
            select(contact_preferences).where(contact_preferences.c.subject_id == subject_id)
        )
    ).first()
    if row is None:
        return domain.ContactPreferences()
    return domain.ContactPreferences(
        language=row.language,
        channels=frozenset(row.channels),
        phone=row.phone,
        email=row.email,
        push_subscription=row.push_subscription,
    )


async def save_preferences(
    conn: AsyncConnection, subject_id: str, prefs: domain.ContactPreferences, now: datetime
) -> None:
    """Store (replace) a person's contact preferences."""
    values = {
        "language": prefs.language,
        "channels": sorted(prefs.channels),
        "phone": prefs.phone,
        "email": prefs.email,
        "push_subscription": dict(prefs.push_subscription) if prefs.push_subscription else None,
        "updated_at": now,
    }
    await conn.execute(
        insert(contact_preferences)
        .values(subject_id=subject_id, **values)
        .on_conflict_do_update(index_elements=["subject_id"], set_=values)
    )


async def case_recipient(conn: AsyncConnection, case_id: UUID) -> str | None:
    """Who is reached about a case, from notify's copy of CaseOpened; None if not seen yet."""
    row = (
        await conn.execute(select(case_patients).where(case_patients.c.case_id == case_id))
    ).first()
    if row is None:
        return None
    return domain.recipient_of(row.patient_id, row.acting_guardian_id)


async def last_message_notice_at(conn: AsyncConnection, case_id: UUID) -> datetime | None:
    """When a case's patient was last planned a "new message" notice, if ever."""
    value = (
        await conn.execute(
            select(func.max(deliveries.c.created_at)).where(
                deliveries.c.case_id == case_id, deliveries.c.kind == "new_message"
            )
        )
    ).scalar()
    return cast(datetime | None, value)


async def enqueue(
    conn: AsyncConnection, planned: list[domain.PlannedDelivery], now: datetime
) -> int:
    """Add deliveries to the outbox; a dedupe key already there is left alone. Returns new rows."""
    if not planned:
        return 0
    result = await conn.execute(
        insert(deliveries)
        .values(
            [
                {
                    "delivery_id": p.delivery_id,
                    "dedupe_key": p.dedupe_key,
                    "case_id": p.case_id,
                    "correlation_id": p.correlation_id,
                    "cause_event_id": p.cause_event_id,
                    "recipient_id": p.recipient_id,
                    "kind": p.kind,
                    "channel": p.channel,
                    "language": p.language,
                    "address": dict(p.address),
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for p in planned
            ]
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(deliveries.c.delivery_id)
    )
    return len(result.all())


def as_planned(row: Any) -> domain.PlannedDelivery:
    """A delivery row as the domain's value."""
    return domain.PlannedDelivery(
        delivery_id=row.delivery_id,
        dedupe_key=row.dedupe_key,
        case_id=row.case_id,
        correlation_id=row.correlation_id,
        cause_event_id=row.cause_event_id,
        recipient_id=row.recipient_id,
        kind=row.kind,
        channel=row.channel,
        language=row.language,
        address=row.address or {},
    )


async def deliveries_for_case(conn: AsyncConnection, case_id: UUID) -> list[dict[str, object]]:
    """A case's outside deliveries, without contact details."""
    rows = await conn.execute(
        select(
            deliveries.c.delivery_id,
            deliveries.c.kind,
            deliveries.c.channel,
            deliveries.c.status,
            deliveries.c.attempts,
            deliveries.c.created_at,
            deliveries.c.finished_at,
        )
        .where(deliveries.c.case_id == case_id)
        .order_by(deliveries.c.created_at, deliveries.c.channel)
    )
    return [dict(r._mapping) for r in rows]


# --- the sender's side of the delivery table ------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery leased to this worker, with its tries so far (this one included)."""

    delivery: domain.PlannedDelivery
    attempts: int
    #: An earlier try handed the whole message over and its outcome was never recorded.
    handed_over: bool = False


async def due_deliveries(
    conn: AsyncConnection, now: datetime, limit: int
) -> list[tuple[UUID, str]]:
    """Due deliveries ``(id, recipient)``, oldest due first, locked against other workers."""
    rows = await conn.execute(
        select(deliveries.c.delivery_id, deliveries.c.recipient_id)
        .where(deliveries.c.status == PENDING, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(r.delivery_id, r.recipient_id) for r in rows]


async def recent_sends(
    conn: AsyncConnection, recipients: Iterable[str], since: datetime
) -> dict[str, list[datetime]]:
    """When each of ``recipients`` was last sent something, since ``since``."""
    recent: dict[str, list[datetime]] = {}
    for r in await conn.execute(
        select(deliveries.c.recipient_id, deliveries.c.finished_at).where(
            deliveries.c.recipient_id.in_(set(recipients)),
            deliveries.c.status == SENT,
            deliveries.c.finished_at > since,
        )
    ):
        recent.setdefault(r.recipient_id, []).append(r.finished_at)
    return recent


async def defer(conn: AsyncConnection, until: Mapping[UUID, datetime]) -> None:
    """Make deliveries due again only at the given times."""
    for delivery_id, at in until.items():
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.delivery_id == delivery_id)
            .values(next_attempt_at=at)
        )


async def lease(conn: AsyncConnection, ids: Sequence[UUID], until: datetime) -> list[Claim]:
    """Lease deliveries to this worker until ``until``, counting one more try for each.

    The try is counted at claim time: a worker killed mid-send still used one.
    """
    result = await conn.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id.in_(ids))
        .values(attempts=deliveries.c.attempts + 1, next_attempt_at=until)
        .returning(*deliveries.c)
    )
    return [Claim(as_planned(row), row.attempts, row.handed_over_at is not None) for row in result]


async def mark_handed_over(conn: AsyncConnection, claim: Claim, now: datetime) -> bool:
    """Note that this try is about to hand the message over; False when the claim is no
    longer this worker's (another try has begun since)."""
    marked = await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.delivery_id == claim.delivery.delivery_id,
            deliveries.c.status == PENDING,
            deliveries.c.attempts == claim.attempts,
        )
        .values(handed_over_at=now)
        .returning(deliveries.c.delivery_id)
    )
    return marked.first() is not None


async def reschedule(
    conn: AsyncConnection, delivery_id: UUID, at: datetime, last_error: str
) -> None:
    """Try a pending delivery again at ``at``."""
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id == delivery_id, deliveries.c.status == PENDING)
        # A server that answered "not taken" after the hand-over makes a retry safe again.
        .values(next_attempt_at=at, last_error=last_error, handed_over_at=null())
    )


async def close(
    conn: AsyncConnection, delivery_id: UUID, sent: bool, now: datetime, detail: str
) -> bool:
    """Move a pending delivery to sent or failed; False when it was no longer pending.

    The status guard (and the row lock it takes) lets one worker only record the outcome.
    """
    closed = await conn.execute(
        update(deliveries)
        .where(deliveries.c.delivery_id == delivery_id, deliveries.c.status == PENDING)
        .values(
            status=SENT if sent else FAILED,
            finished_at=now,
            # The contact detail is no longer needed once the delivery is done.
            address=null(),
            last_error=None if sent else detail,
        )
        .returning(deliveries.c.delivery_id)
    )
    return closed.first() is not None
