"""Queue's database: the event store plus the waiting-room read model.

``waiting_cases`` is a projection of the event store, updated in the same
transaction as the events, and it is what staff claim from: ``FOR UPDATE SKIP
LOCKED`` hands each waiting case to exactly one claimer.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseQueued, Event, TurnReached
from careflow.kit.eventstore import Aggregate
from careflow.queue import domain

metadata = MetaData()

waiting_cases = Table(
    "waiting_cases",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("skill", String(32), nullable=False),
    Column("urgency", Integer, nullable=False),
    Column("waiting_since", DateTime(timezone=True), nullable=False),
    Index("waiting_cases_order_idx", "region", "skill", "urgency", "waiting_since"),
)

AGGREGATE = Aggregate(domain.QueuedCase, domain.evolve)


def stream_id(case_id: UUID) -> str:
    return f"queue-{case_id}"


async def project(conn: AsyncConnection, events: list[Event]) -> None:
    """Keep the waiting room in step with the events just appended."""
    for event in events:
        if isinstance(event, CaseQueued):
            row = {
                "case_id": event.case_id,
                "region": event.queue.region,
                "skill": event.queue.skill.value,
                "urgency": int(event.urgency),
                "waiting_since": event.waiting_since,
            }
            await conn.execute(
                insert(waiting_cases)
                .values(row)
                .on_conflict_do_update(index_elements=["case_id"], set_=row)
            )
        elif isinstance(event, TurnReached):
            await conn.execute(
                delete(waiting_cases).where(waiting_cases.c.case_id == event.case_id)
            )


async def next_waiting(conn: AsyncConnection, region: str, skills: list[str]) -> UUID | None:
    """Lock and return the most urgent, longest-waiting case no one else is claiming."""
    return (
        await conn.execute(
            select(waiting_cases.c.case_id)
            .where(waiting_cases.c.region == region, waiting_cases.c.skill.in_(skills))
            .order_by(
                waiting_cases.c.urgency, waiting_cases.c.waiting_since, waiting_cases.c.case_id
            )
            .limit(1)
            .with_for_update(skip_locked=True)
        )
    ).scalar_one_or_none()


async def position(conn: AsyncConnection, case_id: UUID) -> int | None:
    """1 for the next case to be helped in its queue; None when not waiting."""
    me = (
        await conn.execute(select(waiting_cases).where(waiting_cases.c.case_id == case_id))
    ).first()
    if me is None:
        return None
    ahead = await conn.execute(
        select(func.count())
        .select_from(waiting_cases)
        .where(
            waiting_cases.c.region == me.region,
            waiting_cases.c.skill == me.skill,
            or_(
                waiting_cases.c.urgency < me.urgency,
                and_(
                    waiting_cases.c.urgency == me.urgency,
                    tuple_(waiting_cases.c.waiting_since, waiting_cases.c.case_id)
                    < tuple_(me.waiting_since, me.case_id),
                ),
            ),
        )
    )
    return int(ahead.scalar_one()) + 1
