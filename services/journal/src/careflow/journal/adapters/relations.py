"""Care relations: the care units and professionals each case's events named."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.journal import domain
from careflow.journal.adapters.tables import journal_care_relations


async def record_relations(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Remember who acted in each case (idempotent: the first event naming them wins)."""
    rows = [
        {"case_id": c, "staff_id": s, "care_unit": u, "event_id": e}
        for c, s, u, e in domain.relations_named(events)
    ]
    if rows:
        await conn.execute(insert(journal_care_relations).on_conflict_do_nothing(), rows)


async def relation_of(conn: AsyncConnection, case_id: UUID) -> domain.CareRelation:
    """The care units and professionals with a care relation to the case."""
    rows = (
        await conn.execute(
            select(journal_care_relations.c.staff_id, journal_care_relations.c.care_unit).where(
                journal_care_relations.c.case_id == case_id
            )
        )
    ).all()
    return domain.CareRelation(
        care_units=frozenset(r.care_unit for r in rows),
        professionals=frozenset(r.staff_id for r in rows),
    )
