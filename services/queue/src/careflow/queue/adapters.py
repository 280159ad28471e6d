"""Queue's database: the event store plus the waiting-room read models.

``waiting_cases`` is a projection of the event store, updated in the same
transaction as the events, and it is what staff claim from: ``FOR UPDATE SKIP
LOCKED`` hands each waiting case to exactly one claimer. ``turns`` records every
TurnReached (the queue's recent throughput, for patients' estimated waits).
Patients' ownership of cases comes from CaseOpened (the kit's ``case_patients``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Identity,
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
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseQueued, Event, Skill, TurnReached, Urgency, parse_event
from careflow.contracts.notify_events import NotificationFailed
from careflow.contracts.queue_events import CaseRequeued, CaseTransferred, CaseWithdrawn
from careflow.kit import eventstore
from careflow.kit.cases import case_patients
from careflow.kit.eventstore import Aggregate
from careflow.queue import domain

#: Tables of the first migration (0001 creates whatever this holds).
metadata = MetaData()

waiting_cases = Table(
    "waiting_cases",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("skill", String(32), nullable=False),
    Column("urgency", Integer, nullable=False),
    Column("waiting_since", DateTime(timezone=True), nullable=False),
    Index("waiting_cases_claim_idx", "region", "skill", "urgency", "waiting_since", "case_id"),
)

#: Tables added by migration 0002.
turns_metadata = MetaData()

turns = Table(
    "turns",
    turns_metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("region", String(64), nullable=False),
    Column("skill", String(32), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("reached_at", DateTime(timezone=True), nullable=False),
    Column("waited_seconds", Float, nullable=False),
    Index("turns_queue_time_idx", "region", "skill", "reached_at"),
)

AGGREGATE = Aggregate(domain.QueuedCase, domain.evolve)

REGIONS_FILE = Path(__file__).with_name("regions.toml")


@cache
def load_regions(path: Path = REGIONS_FILE) -> domain.Regions:
    """The regions' opening hours from the configuration file (read once)."""
    with path.open("rb") as f:
        return domain.regions_from_config(tomllib.load(f))


def stream_id(case_id: UUID) -> str:
    return f"queue-{case_id}"


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Keep the waiting room in step with the events just appended."""
    for event in events:
        if isinstance(event, CaseQueued | CaseRequeued | CaseTransferred):
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
            await _record_turn(conn, event)
        elif isinstance(event, CaseWithdrawn):
            await conn.execute(
                delete(waiting_cases).where(waiting_cases.c.case_id == event.case_id)
            )


async def execute(
    conn: AsyncConnection,
    case_id: UUID,
    decide: Callable[[domain.QueuedCase], Sequence[Event]],
) -> tuple[domain.QueuedCase, list[Event]]:
    """Run one command on a case: fold its stream, decide, append, project.

    The case's waiting row is locked first, as a claim does, so that a command racing
    a claim waits for it (and then sees its turn) instead of deadlocking on the stream.
    """
    await conn.execute(
        select(waiting_cases.c.case_id).where(waiting_cases.c.case_id == case_id).with_for_update()
    )
    state, new = await AGGREGATE.execute(conn, stream_id(case_id), decide)
    await project(conn, new)
    return state, new


# Locks and removes the first waiting case no one else is claiming, records the turn
# and reads the case's stream, in one round trip. Should the rules then refuse the
# claim, the transaction rolls all of it back.
_CLAIM_NEXT = text(
    """
    WITH claimed AS (
        DELETE FROM waiting_cases
        WHERE case_id = (
            SELECT case_id FROM waiting_cases
            WHERE region = :region AND skill = ANY(:skills)
            ORDER BY urgency, waiting_since, case_id
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        RETURNING case_id, region, skill, waiting_since
    ), turn AS (
        INSERT INTO turns (case_id, region, skill, staff_id, reached_at, waited_seconds)
        SELECT case_id, region, skill, :staff_id, :now,
               greatest(0, extract(epoch FROM CAST(:now AS timestamptz) - waiting_since))
        FROM claimed
    )
    SELECT claimed.case_id, events.version, events.payload
    FROM claimed LEFT JOIN events ON events.stream_id = 'queue-' || claimed.case_id::text
    ORDER BY events.version
    """
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


async def claim_next(
    conn: AsyncConnection, staff: domain.Staff, skills: frozenset[Skill], now: datetime
) -> tuple[domain.QueuedCase, TurnReached] | None:
    """Give ``staff`` the next case of their region and ``skills``; None when nobody waits.

    Atomic under any concurrency: the row is locked (others skip it) and deleted
    in one statement, and the TurnReached is appended with the stream's expected
    version in the same transaction.
    """
    params = {
        "region": staff.region,
        "skills": sorted(s.value for s in skills),
        "staff_id": staff.professional.staff_id,
        "now": now,
    }
    rows = (await conn.execute(_CLAIM_NEXT, params)).all()
    if not rows:
        return None
    case_id = rows[0].case_id
    state, version = AGGREGATE.initial(), 0
    for row in rows:
        if row.version is not None:
            state, version = AGGREGATE.evolve(state, parse_event(row.payload)), row.version
    new = domain.decide_take(state, staff, now)
    await eventstore.append(conn, stream_id(case_id), version, new)
    turn = new[0]
    assert isinstance(turn, TurnReached)
    return domain.evolve(state, turn), turn


async def _record_turn(conn: AsyncConnection, turn: TurnReached) -> None:
    await conn.execute(
        turns.insert().values(
            case_id=turn.case_id,
            region=turn.queue.region,
            skill=turn.queue.skill.value,
            staff_id=turn.professional.staff_id,
            reached_at=turn.occurred_at,
            waited_seconds=turn.waited_seconds,
        )
    )


async def take(
    conn: AsyncConnection, staff: domain.Staff, case_id: UUID, now: datetime
) -> tuple[domain.QueuedCase, TurnReached]:
    """Give ``staff`` one particular case (it must wait in their region and skills)."""
    # Waits for a concurrent claimer of the same row; then the stream shows its turn.
    await conn.execute(delete(waiting_cases).where(waiting_cases.c.case_id == case_id))
    state, new = await execute(conn, case_id, lambda s: domain.decide_take(s, staff, now))
    turn = new[0]
    assert isinstance(turn, TurnReached)
    return state, turn


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


async def turns_since(conn: AsyncConnection, region: str, skill: str, since: datetime) -> int:
    """How many turns a queue gave since ``since`` (its recent throughput)."""
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(turns)
                .where(
                    turns.c.region == region, turns.c.skill == skill, turns.c.reached_at >= since
                )
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class Settings:
    """The tunable numbers of the queue's read side."""

    throughput_window: timedelta = timedelta(hours=1)
    guarantee_warning: timedelta = timedelta(hours=1)
    near_limit_scan: int = 200


async def place(
    conn: AsyncConnection,
    state: domain.QueuedCase,
    now: datetime,
    regions: domain.Regions,
    settings: Settings,
) -> dict[str, Any]:
    """A case's place for its patient: position, estimated wait and opening hours."""
    out: dict[str, Any] = {
        "status": state.status,
        "queue": state.queue,
        "urgency": state.urgency,
        "waiting_since": state.waiting_since,
        "position": None,
        "estimated_wait_seconds": None,
        "region_open": None,
        "opens_at": None,
    }
    if state.status is not domain.Status.WAITING or state.queue is None or state.case_id is None:
        return out
    calendar = regions.calendar(state.queue.region)
    opens = calendar.opens_at(now)
    pos = await position(conn, state.case_id)
    recent = await turns_since(
        conn, state.queue.region, state.queue.skill.value, now - settings.throughput_window
    )
    until_open = (opens - now) if opens is not None else timedelta(0)
    out.update(
        position=pos,
        region_open=calendar.is_open(now),
        opens_at=opens,
        estimated_wait_seconds=(
            domain.estimate_wait(pos, recent, settings.throughput_window, until_open)
            if pos is not None
            else None
        ),
    )
    return out


async def overview(
    conn: AsyncConnection,
    region: str,
    skill: Skill,
    now: datetime,
    regions: domain.Regions,
    settings: Settings,
) -> dict[str, Any]:
    """Staff's view of one queue: counts per urgency, longest wait, care-guarantee risks."""
    rows = (
        await conn.execute(
            select(
                waiting_cases.c.urgency,
                func.count(),
                func.min(waiting_cases.c.waiting_since),
            )
            .where(waiting_cases.c.region == region, waiting_cases.c.skill == skill.value)
            .group_by(waiting_cases.c.urgency)
        )
    ).all()
    counts = {u.name.lower(): 0 for u in Urgency}
    oldest: datetime | None = None
    for urgency, n, first in rows:
        counts[Urgency(urgency).name.lower()] = int(n)
        oldest = first if oldest is None else min(oldest, first)
    calendar = regions.calendar(region)
    near: list[dict[str, Any]] = []
    # Due times grow with waiting time, so the oldest cases are the ones at risk.
    candidates = await conn.execute(
        select(waiting_cases.c.case_id, waiting_cases.c.urgency, waiting_cases.c.waiting_since)
        .where(waiting_cases.c.region == region, waiting_cases.c.skill == skill.value)
        .order_by(waiting_cases.c.waiting_since)
        .limit(settings.near_limit_scan)
    )
    for case_id, urgency, since in candidates:
        status = domain.guarantee(calendar, since, now, settings.guarantee_warning)
        if not status.near:
            break
        near.append(
            {
                "case_id": case_id,
                "urgency": Urgency(urgency),
                "waiting_since": since,
                "contact_due": status.contact_due,
                "assessment_due": status.assessment_due,
                "overdue": status.overdue,
            }
        )
    recent = await turns_since(conn, region, skill.value, now - settings.throughput_window)
    return {
        "region": region,
        "skill": skill,
        "waiting": sum(counts.values()),
        "by_urgency": counts,
        "longest_wait_seconds": (now - oldest).total_seconds() if oldest else None,
        "turns_last_window": recent,
        "window_seconds": settings.throughput_window.total_seconds(),
        "region_open": calendar.is_open(now),
        "opens_at": calendar.opens_at(now),
        "near_guarantee_limit": near,
    }


#: Tables of migration 0003.
metadata_0003 = MetaData()

#: Patients notify could not reach (NotificationFailed), shown to staff so that nobody
#: is left waiting silently.
unreached = Table(
    "unreached_patients",
    metadata_0003,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)


async def record_unreached(conn: AsyncConnection, failed: NotificationFailed) -> None:
    """Remember a patient notify gave up on (idempotent per notification)."""
    await conn.execute(
        insert(unreached)
        .values(
            notification_id=failed.notification_id,
            case_id=failed.case_id,
            kind=failed.kind,
            channel=failed.channel,
            reason=failed.reason,
            failed_at=failed.occurred_at,
        )
        .on_conflict_do_nothing()
    )


async def unreached_in_region(conn: AsyncConnection, region: str) -> list[dict[str, Any]]:
    """Failed notifications of the region's cases, newest first."""
    rows = await conn.execute(
        select(unreached)
        .join(case_patients, case_patients.c.case_id == unreached.c.case_id)
        .where(case_patients.c.region == region)
        .order_by(unreached.c.failed_at.desc())
    )
    return [dict(r._mapping) for r in rows]
