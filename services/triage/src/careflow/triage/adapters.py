"""Triage's database: the event store, the stored case states and the open-triages read model.

``open_triages`` lists the triages in progress with the time of their last
answer, so the expiry sweep finds the abandoned ones without folding every
stream. It is a projection of the event store, written in the same transaction.
``case_contacts`` is how far each case has come in queue and chat, from their events
(triage never reads their tables): a re-triage is only for a case that still waits.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, delete, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, TriageCompleted
from careflow.contracts.triage_events import (
    AnswerWithdrawn,
    QuestionAnswered,
    TriageAbandoned,
    TriageStarted,
)
from careflow.kit.eventstore import Aggregate
from careflow.triage import domain
from careflow.triage.regions import RegionChoice, region_choice_from_config

metadata = MetaData()

open_triages = Table(
    "open_triages",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Index("open_triages_activity_idx", "last_activity_at"),
)

case_contacts = Table(
    "case_contacts",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("stage", String(16), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

#: One case's triage; its current state is kept in ``aggregate_states`` with every command.
AGGREGATE = Aggregate(domain.CaseTriage, domain.evolve, state_type=domain.CaseTriage)


def stream_id(case_id: UUID) -> str:
    """The event stream of one case's triage."""
    return f"triage-{case_id}"


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Keep ``open_triages`` in step with the events just appended."""
    for event in events:
        if isinstance(event, TriageStarted | QuestionAnswered | AnswerWithdrawn):
            row = {"case_id": event.case_id, "last_activity_at": event.occurred_at}
            await conn.execute(
                insert(open_triages)
                .values(row)
                .on_conflict_do_update(index_elements=["case_id"], set_=row)
            )
        if isinstance(event, TriageCompleted | TriageAbandoned):
            await conn.execute(delete(open_triages).where(open_triages.c.case_id == event.case_id))


async def idle_since(conn: AsyncConnection, before: datetime, limit: int = 500) -> list[UUID]:
    """Cases whose triage in progress has had no answer since ``before``."""
    result = await conn.execute(
        select(open_triages.c.case_id)
        .where(open_triages.c.last_activity_at <= before)
        .order_by(open_triages.c.last_activity_at)
        .limit(limit)
    )
    return [row.case_id for row in result]


async def contact_of(conn: AsyncConnection, case_id: UUID) -> domain.Contact:
    """How far the case has come in queue and chat (waiting until they say otherwise)."""
    stage = await conn.scalar(
        select(case_contacts.c.stage).where(case_contacts.c.case_id == case_id).with_for_update()
    )
    return domain.Contact(stage) if stage else domain.Contact.WAITING


async def record_contact(
    conn: AsyncConnection, case_id: UUID, seen: domain.Contact, at: datetime
) -> None:
    """Remember the stage an event of queue or chat shows (a closed case stays closed)."""
    current = await contact_of(conn, case_id)
    stage = domain.contact_after(current, seen)
    row = {"case_id": case_id, "stage": stage.value, "changed_at": at}
    await conn.execute(
        insert(case_contacts)
        .values(row)
        .on_conflict_do_update(index_elements=["case_id"], set_=row)
    )


REGION_CHOICE_FILE = Path(__file__).with_name("region_choice.toml")


@cache
def load_region_choice(path: Path = REGION_CHOICE_FILE) -> RegionChoice:
    """Which regions take patients from other regions, from the file (read once)."""
    with path.open("rb") as f:
        return region_choice_from_config(tomllib.load(f))
