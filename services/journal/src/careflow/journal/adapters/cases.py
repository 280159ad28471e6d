"""What the journal knows of each case: its event log, its patient, its parked events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CasePatientIdentified, Event, parse_event
from careflow.journal.adapters.tables import journal_case_events, journal_parked, journal_patients


def payload(event: Event) -> Any:
    """An event as its JSON column holds it."""
    return event.model_dump(mode="json")


async def record_case_events(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Add events to their cases' logs (idempotent by event id)."""
    if not events:
        return
    await conn.execute(
        insert(journal_case_events).on_conflict_do_nothing(),
        [
            {
                "event_id": e.event_id,
                "case_id": e.case_id,
                "event_type": e.event_type,
                "occurred_at": e.occurred_at,
                "payload": payload(e),
            }
            for e in events
        ],
    )


async def record_patients(
    conn: AsyncConnection, identified: Sequence[CasePatientIdentified]
) -> None:
    """Remember each case's patient (the first identification of a case wins)."""
    if not identified:
        return
    await conn.execute(
        insert(journal_patients).on_conflict_do_nothing(),
        [
            {
                "case_id": e.case_id,
                "patient_id": e.patient_id,
                "personal_identity_number": e.personal_identity_number,
                "region": e.region,
            }
            for e in identified
        ],
    )


async def pins(conn: AsyncConnection, case_ids: set[UUID]) -> dict[UUID, str]:
    """The personal identity number of each case's patient, for the cases whose is known."""
    if not case_ids:
        return {}
    rows = await conn.execute(
        select(journal_patients.c.case_id, journal_patients.c.personal_identity_number).where(
            journal_patients.c.case_id.in_(case_ids)
        )
    )
    return {r.case_id: r.personal_identity_number for r in rows}


async def patient_of(conn: AsyncConnection, case_id: UUID) -> Any:
    """The case's patient row (patient_id, region, pin), or None."""
    return (
        await conn.execute(select(journal_patients).where(journal_patients.c.case_id == case_id))
    ).first()


async def case_events(conn: AsyncConnection, case_id: UUID) -> list[Event]:
    """Every event of a case the journal consumed (the event log, as received)."""
    rows = await conn.execute(
        select(journal_case_events.c.payload).where(journal_case_events.c.case_id == case_id)
    )
    return [parse_event(r.payload) for r in rows]


async def park(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Keep events until their case's patient is known (idempotent by event id)."""
    if not events:
        return
    await conn.execute(
        insert(journal_parked).on_conflict_do_nothing(),
        [{"case_id": e.case_id, "event_id": e.event_id, "payload": payload(e)} for e in events],
    )


async def unpark(conn: AsyncConnection, case_ids: Sequence[UUID]) -> list[Event]:
    """Take the parked events of these cases out of the parking, in arrival order."""
    if not case_ids:
        return []
    rows = (
        await conn.execute(
            select(journal_parked.c.id, journal_parked.c.payload)
            .where(journal_parked.c.case_id.in_(case_ids))
            .order_by(journal_parked.c.id)
        )
    ).all()
    if not rows:
        return []
    await conn.execute(journal_parked.delete().where(journal_parked.c.id.in_([r.id for r in rows])))
    return [parse_event(r.payload) for r in rows]


async def parked_event_ids(conn: AsyncConnection) -> set[UUID]:
    """Every parked event's id."""
    return set((await conn.execute(select(journal_parked.c.event_id))).scalars().all())
