"""Notify's database: event store, the case owners, and the patient's inbox of notifications."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Column, DateTime, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, PatientNotified
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

AGGREGATE = Aggregate(domain.CaseNotifications, domain.evolve)


def stream_id(case_id: UUID) -> str:
    return f"notify-{case_id}"


async def project(conn: AsyncConnection, events: list[Event]) -> None:
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
    rows = await conn.execute(
        select(notifications)
        .where(notifications.c.case_id == case_id)
        .order_by(notifications.c.created_at)
    )
    return [dict(r._mapping) for r in rows]
