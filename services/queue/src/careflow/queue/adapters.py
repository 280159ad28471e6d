"""Queue's database: the tables, the queries on them and the projection that keeps them.

``waiting_cases`` is a projection of the event store, updated in the same
transaction as the events, and it is what staff claim from: ``FOR UPDATE SKIP
LOCKED`` hands each waiting case to exactly one claimer. ``turns`` records every
TurnReached (the queue's recent throughput, for patients' estimated waits).
``unreached_patients`` lists the patients notify could not reach. Patients'
ownership of cases comes from CaseOpened (the kit's ``case_patients``).

No rules here: the commands (``service``) decide, this module stores and finds.
The tables are created by the migrations, which spell them out on their own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import holidays
from sqlalchemy import (
    BigInteger,
    Boolean,
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

from careflow.contracts import CaseQueued, Event, Skill, TurnReached, parse_event
from careflow.contracts.notify_events import NotificationFailed
from careflow.contracts.queue_events import CaseRequeued, CaseTransferred, CaseWithdrawn
from careflow.kit.access_log import access_log_table
from careflow.kit.eventstore import Aggregate
from careflow.queue import domain

#: The queue's own tables, as the code reads and writes them (the migrations create them).
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
    # The worklist's scan of the longest-waiting cases for the care guarantee.
    Index("waiting_cases_age_idx", "region", "skill", "waiting_since", "case_id"),
)

turns = Table(
    "turns",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("region", String(64), nullable=False),
    Column("skill", String(32), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("reached_at", DateTime(timezone=True), nullable=False),
    Column("waited_seconds", Float, nullable=False),
    Index("turns_queue_time_idx", "region", "skill", "reached_at"),
)

#: Patients notify could not reach (NotificationFailed), shown to staff so that nobody
#: is left waiting silently.
unreached = Table(
    "unreached_patients",
    metadata,
    Column("notification_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
)

#: Each case against the care guarantee's assessment limit: from first contact (its first
#: CaseQueued) to the assessment (the contact's close, or the visit it booked).
care_guarantee = Table(
    "care_guarantee",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("first_contact_at", DateTime(timezone=True), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=True),
    Column("booked", Boolean, nullable=False, server_default=text("false")),
    Column("outcome", String(32), nullable=True),
    Index("care_guarantee_region_idx", "region", "first_contact_at"),
)

#: Every read of a case's health data (its urgency, place or a worklist naming it) by staff
#: or auditors. Only ever inserted.
access_log = access_log_table(metadata, "queue_access_log")

AGGREGATE = Aggregate(domain.QueuedCase, domain.evolve)

REGIONS_FILE = Path(__file__).with_name("regions.toml")


@cache
def public_holidays(country: str) -> Mapping[date, str]:
    """A country's public holidays, in its own language, for any year asked about.

    Sweden's include the de facto holidays (Midsummer Eve, Christmas Eve, New Year's Eve),
    on which care-seeking services close as on public holidays; Sundays are left to the
    weekly hours.
    """
    # Sweden's calendar counts every Sunday as a holiday unless told not to.
    options: dict[str, Any] = {"include_sundays": False} if country == "SE" else {}
    kind = holidays.country_holidays(country, **options)
    categories = tuple(c for c in ("public", "de_facto") if c in kind.supported_categories)
    return holidays.country_holidays(
        country, categories=categories, language=kind.default_language, **options
    )


@cache
def load_regions(path: Path = REGIONS_FILE) -> domain.Regions:
    """The regions' opening hours from the configuration file (read once)."""
    with path.open("rb") as f:
        return domain.regions_from_config(tomllib.load(f), public_holidays)


def stream_id(case_id: UUID) -> str:
    """The event stream of one case's place in the queue."""
    return f"queue-{case_id}"


# --- the projection -----------------------------------------------------------------------


async def project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Keep the waiting room and the turns in step with the events just appended."""
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
            await remove_waiting(conn, event.case_id)
            await _record_turn(conn, event)
        elif isinstance(event, CaseWithdrawn):
            await remove_waiting(conn, event.case_id)
            await settle_guarantee(conn, event.case_id, "withdrawn", None, False)
        if isinstance(event, CaseQueued):
            # The first CaseQueued is the first contact; a re-triage keeps it.
            await conn.execute(
                insert(care_guarantee)
                .values(
                    case_id=event.case_id,
                    region=event.queue.region,
                    first_contact_at=event.waiting_since,
                )
                .on_conflict_do_nothing()
            )


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


# --- locks on the waiting room --------------------------------------------------------------


async def lock_waiting(conn: AsyncConnection, case_id: UUID) -> None:
    """Lock the case's waiting row (if it waits) until the transaction ends.

    Taken before a command on a case, as a claim takes it, so that a command racing a
    claim waits for it (and then sees its turn) instead of deadlocking on the stream.
    """
    await conn.execute(
        select(waiting_cases.c.case_id).where(waiting_cases.c.case_id == case_id).with_for_update()
    )


async def remove_waiting(conn: AsyncConnection, case_id: UUID) -> None:
    """Take the case out of the waiting room (waits for whoever holds its row)."""
    await conn.execute(delete(waiting_cases).where(waiting_cases.c.case_id == case_id))


@dataclass(frozen=True)
class ClaimedCase:
    """The case a claim locked and removed from the waiting room, with its stream folded."""

    case_id: UUID
    state: domain.QueuedCase
    version: int


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


async def claim_waiting(
    conn: AsyncConnection, region: str, skills: frozenset[Skill], staff_id: str, now: datetime
) -> ClaimedCase | None:
    """Lock and remove the most urgent, longest-waiting case no one else is claiming.

    Atomic under any concurrency: the row is locked (others skip it) and deleted in one
    statement, which also records the turn (the TurnReached projection) and returns the
    case's stream. None when nobody waits in ``region`` for ``skills``.
    """
    params = {
        "region": region,
        "skills": sorted(s.value for s in skills),
        "staff_id": staff_id,
        "now": now,
    }
    rows = (await conn.execute(_CLAIM_NEXT, params)).all()
    if not rows:
        return None
    state, version = AGGREGATE.initial(), 0
    for row in rows:
        if row.version is not None:
            state, version = AGGREGATE.evolve(state, parse_event(row.payload)), row.version
    return ClaimedCase(rows[0].case_id, state, version)


# --- queries --------------------------------------------------------------------------------


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


async def waiting_by_urgency(
    conn: AsyncConnection, region: str, skill: Skill
) -> list[tuple[int, int, datetime]]:
    """(urgency, how many wait, since when the longest) for each urgency with someone waiting."""
    rows = await conn.execute(
        select(waiting_cases.c.urgency, func.count(), func.min(waiting_cases.c.waiting_since))
        .where(waiting_cases.c.region == region, waiting_cases.c.skill == skill.value)
        .group_by(waiting_cases.c.urgency)
    )
    return [(int(u), int(n), first) for u, n, first in rows]


# The worklist's statements are written out once: building and keying a query construct
# on every request cost each as much again as running it.
_WAITING_BY_SKILL_AND_URGENCY = text(
    """
    SELECT skill, urgency, count(*), min(waiting_since) FROM waiting_cases
    WHERE region = :region
    GROUP BY skill, urgency
    """
)


async def waiting_by_skill_and_urgency(
    conn: AsyncConnection, region: str
) -> list[tuple[str, int, int, datetime]]:
    """(skill, urgency, how many wait, since when the longest) of every queue of ``region``
    with someone waiting: one round trip for a worklist of all the region's queues."""
    rows = await conn.execute(_WAITING_BY_SKILL_AND_URGENCY, {"region": region})
    return [(str(s), int(u), int(n), first) for s, u, n, first in rows]


_TURNS_BY_SKILL_SINCE = text(
    """
    SELECT skill, count(*) FROM turns
    WHERE region = :region AND reached_at >= :since
    GROUP BY skill
    """
)


async def turns_by_skill_since(
    conn: AsyncConnection, region: str, since: datetime
) -> dict[str, int]:
    """How many turns each of ``region``'s queues gave since ``since``."""
    rows = await conn.execute(_TURNS_BY_SKILL_SINCE, {"region": region, "since": since})
    return {str(s): int(n) for s, n in rows}


# Each queue's scan comes back as three arrays in one row: the driver decodes them in one
# go, where hundreds of rows cost the worklist milliseconds of row handling.
_LONGEST_WAITING = text(
    """
    SELECT s.skill, w.case_ids, w.urgencies, w.since
    FROM unnest(CAST(:skills AS text[])) AS s(skill)
    CROSS JOIN LATERAL (
        SELECT array_agg(case_id ORDER BY waiting_since, case_id) AS case_ids,
               array_agg(urgency ORDER BY waiting_since, case_id) AS urgencies,
               array_agg(waiting_since ORDER BY waiting_since, case_id) AS since
        FROM (
            SELECT case_id, urgency, waiting_since FROM waiting_cases
            WHERE region = :region AND skill = s.skill
            ORDER BY waiting_since, case_id
            LIMIT :n
        ) AS oldest
    ) AS w
    """
)


async def longest_waiting(
    conn: AsyncConnection, region: str, skills: Sequence[str], limit: int
) -> dict[str, list[tuple[UUID, int, datetime]]]:
    """(case id, urgency, waiting since) of the ``limit`` longest-waiting cases of each of
    ``skills``' queues of ``region``, longest first; a queue nobody waits in is left out."""
    if not skills or limit <= 0:
        return {}
    rows = await conn.execute(
        _LONGEST_WAITING, {"skills": list(skills), "region": region, "n": limit}
    )
    return {
        str(skill): list(zip(ids, urgencies, since, strict=True))
        for skill, ids, urgencies, since in rows
        if ids
    }


# The first ``n`` of each queue in the order staff are handed them, one index range scan per
# queue (the claim index) rather than a sort of the whole region.
_FIRST_WAITING = text(
    """
    SELECT w.case_id, s.skill, w.urgency, w.waiting_since
    FROM unnest(CAST(:skills AS text[])) AS s(skill)
    CROSS JOIN LATERAL (
        SELECT case_id, urgency, waiting_since FROM waiting_cases
        WHERE region = :region AND skill = s.skill
        ORDER BY urgency, waiting_since, case_id
        LIMIT :n
    ) AS w
    """
)


async def first_waiting(
    conn: AsyncConnection, region: str, skills: Sequence[str], n: int
) -> list[tuple[UUID, str, int, datetime]]:
    """(case id, skill, urgency, waiting since) of the first ``n`` waiting cases of each of
    ``skills``' queues of ``region``, in queue order: most urgent, then longest waiting."""
    if not skills or n <= 0:
        return []
    rows = await conn.execute(_FIRST_WAITING, {"skills": list(skills), "region": region, "n": n})
    return [(case_id, str(s), int(u), since) for case_id, s, u, since in rows]


# --- patients notify could not reach --------------------------------------------------------


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


_UNREACHED_IN_REGION = text(
    """
    SELECT u.notification_id, u.case_id, u.kind, u.channel, u.reason, u.failed_at
    FROM unreached_patients AS u JOIN case_patients AS p ON p.case_id = u.case_id
    WHERE p.region = :region
    ORDER BY u.failed_at DESC
    """
)


async def unreached_in_region(conn: AsyncConnection, region: str) -> list[dict[str, Any]]:
    """Failed notifications of the region's cases, newest first."""
    rows = await conn.execute(_UNREACHED_IN_REGION, {"region": region})
    return [dict(r._mapping) for r in rows]


# --- the care guarantee's assessment limit --------------------------------------------------


async def settle_guarantee(
    conn: AsyncConnection,
    case_id: UUID,
    outcome: str,
    assessed_at: datetime | None,
    booked: bool,
) -> None:
    """The case's contact ended: assessed then (or at the booked visit), or withdrawn."""
    await conn.execute(
        care_guarantee.update()
        .where(care_guarantee.c.case_id == case_id, care_guarantee.c.outcome.is_(None))
        .values(outcome=outcome, assessed_at=assessed_at, booked=booked)
    )


async def guarantee_rows(conn: AsyncConnection, region: str, limit: int = 500) -> list[Any]:
    """The region's cases not yet assessed, and those assessed (or booked) late."""
    rows = await conn.execute(
        select(care_guarantee)
        .where(
            care_guarantee.c.region == region,
            or_(
                care_guarantee.c.outcome.is_(None),
                care_guarantee.c.assessed_at
                > care_guarantee.c.first_contact_at + text("interval '3 days'"),
            ),
        )
        .order_by(care_guarantee.c.first_contact_at)
        .limit(limit)
    )
    return list(rows)
