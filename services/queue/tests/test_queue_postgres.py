"""Claims on real PostgreSQL: atomic under concurrency, in strict order, nothing lost."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from queue_model import (
    START,
    Claim,
    Enqueue,
    Model,
    Retriage,
    Withdraw,
    case_uuid,
    operations,
    staff,
    triage_event,
)
from queue_pg import counts, enqueue, migrated, reset
from sqlalchemy import select

from careflow.contracts import QueueRef, Skill, Urgency
from careflow.kit import eventstore
from careflow.kit.auth import Principal
from careflow.kit.clock import FixedClock
from careflow.kit.domain import Conflict
from careflow.queue import adapters, domain, service, views

pytestmark = [pytest.mark.queue, pytest.mark.integration]

NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)
CONFIG = service.QueueConfig(regions=adapters.load_regions())
OWNER = Principal(subject_id="p-owner", role="patient", region="Uppsala")


async def test_many_claimers_at_once_never_share_a_case_and_lose_none(infra, unique) -> None:  # type: ignore[no-untyped-def]
    claimers, total = 24, 400
    db = await migrated(infra.database_url, f"queue_{unique}", pool_size=claimers)
    rng = random.Random(7)
    cases = [
        (
            n,
            START + timedelta(seconds=rng.randrange(0, 3600)),
            rng.choice(list(Urgency)[1:]),
            NURSES,
        )
        for n in range(total)
    ]
    await enqueue(db, cases)
    key = {case_uuid(n): domain.priority(u, at, case_uuid(n)) for n, at, u, _ in cases}
    nurses = frozenset({Skill.NURSE})
    clock = FixedClock(START + timedelta(hours=2))
    start = asyncio.Event()

    async def claimer(i: int) -> list:  # type: ignore[type-arg]
        me = staff("Uppsala", nurses, n=i)
        mine = []
        await start.wait()
        while True:
            got = await service.claim_next(db, clock, me, nurses)
            if got is None:
                return mine
            mine.append(got[1].case_id)

    tasks = [asyncio.create_task(claimer(i)) for i in range(claimers)]
    start.set()
    per_claimer = await asyncio.gather(*tasks)
    claimed = [c for mine in per_claimer for c in mine]
    try:
        assert len(claimed) == total and set(claimed) == set(key)  # none twice, none lost
        assert sum(1 for mine in per_claimer if mine) > 1  # they really did run side by side
        for mine in per_claimer:  # each claimer is handed cases in the queue's order
            assert [key[c] for c in mine] == sorted(key[c] for c in mine)
        async with db.transaction() as conn:
            turns = (
                (
                    await conn.execute(
                        select(eventstore.events.c.case_id).where(
                            eventstore.events.c.event_type == "TurnReached"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert Counter(turns) == Counter(key.keys())  # exactly one TurnReached per case
        assert await counts(db) == (0, 2 * total, total)
    finally:
        await db.dispose()


async def test_take_and_claim_racing_for_one_case_give_it_to_one(infra, unique) -> None:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}", pool_size=4)
    nurses = frozenset({Skill.NURSE})
    clock = FixedClock(START)
    try:
        for round_ in range(10):
            await enqueue(db, [(1000 + round_, START, Urgency.YELLOW, NURSES)])

            async def by_claim() -> str:
                got = await service.claim_next(db, clock, staff("Uppsala", nurses, 1), nurses)
                return "claimed" if got else "empty"

            async def by_take(case: int = 1000 + round_) -> str:
                try:
                    await service.take(db, clock, staff("Uppsala", nurses, 2), case_uuid(case))
                    return "taken"
                except Conflict:
                    return "refused"

            results = sorted(await asyncio.gather(by_claim(), by_take()))
            assert results in (["claimed", "refused"], ["empty", "taken"]), results
        assert (await counts(db))[2] == 10
    finally:
        await db.dispose()


async def test_a_withdrawal_racing_a_claim_leaves_one_outcome(infra, unique) -> None:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}", pool_size=4)
    nurses = frozenset({Skill.NURSE})
    clock = FixedClock(START)
    try:
        for round_ in range(10):
            case = case_uuid(2000 + round_)
            await enqueue(db, [(2000 + round_, START, Urgency.YELLOW, NURSES)])

            async def by_claim() -> str:
                got = await service.claim_next(db, clock, staff("Uppsala", nurses), nurses)
                return "claimed" if got else "empty"

            async def by_withdrawal(case: uuid.UUID = case) -> str:
                try:
                    await service.withdraw(db, clock, CONFIG, OWNER, case)
                    return "withdrawn"
                except Conflict:
                    return "refused"

            results = sorted(await asyncio.gather(by_claim(), by_withdrawal()))
            assert results in (["claimed", "refused"], ["empty", "withdrawn"]), results
            async with db.transaction() as conn:
                state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case))
            assert state.status in (domain.Status.IN_CONTACT, domain.Status.WITHDRAWN)
        waiting, events, _ = await counts(db)
        assert (waiting, events) == (0, 20)  # each case: queued, then exactly one outcome
    finally:
        await db.dispose()


# --- the ordering property, against the real claim query ------------------------------------


@pytest.fixture(scope="module")
def pg_schema(infra) -> str:  # type: ignore[no-untyped-def]
    schema = f"queue_prop_{uuid.uuid4().hex[:8]}"

    async def make() -> None:
        db = await migrated(infra.database_url, schema)
        await db.dispose()

    asyncio.run(make())
    return schema


async def _run_against_postgres(url: str, schema: str, ops: list) -> None:  # type: ignore[type-arg]
    from careflow.kit.db import Database

    db = Database(url, schema, pool_size=2)
    try:
        await reset(db)
        model = Model()
        now = START
        clock = FixedClock(START)
        for op, step in ops:
            now += step
            clock.advance(step)
            if isinstance(op, Enqueue):
                model.enqueue(op.case, now, op.urgency, op.queue)
                await enqueue(db, [(op.case, now, op.urgency, op.queue)])
            elif isinstance(op, Retriage):
                revision = model.retriage(op.case, now, op.urgency, op.queue)
                async with db.transaction() as conn:
                    await service.record_triaged_case(
                        conn, clock, triage_event(op.case, now, op.urgency, op.queue, revision)
                    )
            elif isinstance(op, Claim):
                expected = model.expected_claim(op.region, op.skills)
                got = await service.claim_next(db, clock, staff(op.region, op.skills), op.skills)
                assert (got[1].case_id if got else None) == (
                    case_uuid(expected) if expected is not None else None
                )
                if expected is not None:
                    model.claimed(expected)
            else:
                assert isinstance(op, Withdraw)
                allowed = model.withdraw(op.case)
                try:
                    await service.withdraw(db, clock, CONFIG, OWNER, case_uuid(op.case))
                    assert allowed
                except Conflict:
                    assert not allowed
    finally:
        await db.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations(max_ops=30))
def test_postgres_claims_follow_the_rule_for_any_interleaving(infra, pg_schema, ops) -> None:  # type: ignore[no-untyped-def]
    """The same property as the pure test, with the real claim query deciding."""
    asyncio.run(_run_against_postgres(infra.database_url, pg_schema, ops))


@pytest.mark.performance
async def test_a_long_queues_overview_names_a_few_cases_near_the_limit_and_counts_the_rest(
    infra, unique
) -> None:  # type: ignore[no-untyped-def]
    """The worklist names (and logs the reading of) only the few most at risk; the count says
    how many more there are, up to the cases scanned."""
    db = await migrated(infra.database_url, f"queue_{unique}")
    # 30 cases waiting since the day before: all past same-day contact; 5 fresh ones not.
    old = [(n, START - timedelta(days=1, minutes=n), Urgency.GREEN, NURSES) for n in range(30)]
    fresh = [(30 + n, START + timedelta(minutes=n), Urgency.GREEN, NURSES) for n in range(5)]
    await enqueue(db, old + fresh)
    config = service.QueueConfig(
        regions=CONFIG.regions, read=views.ReadSettings(near_limit_scan=25, near_limit_shown=4)
    )
    nurse = staff("Uppsala", frozenset({Skill.NURSE}))
    clock = FixedClock(START + timedelta(minutes=10))
    [view] = await service.overviews(db, clock, config, nurse, [Skill.NURSE])
    # The four longest waiting, oldest first; every scanned old case counted, all overdue.
    assert [c["case_id"] for c in view["near_guarantee_limit"]] == [
        case_uuid(n) for n in (29, 28, 27, 26)
    ]
    assert view["near_guarantee_limit_count"] == 25 and view["overdue_count"] == 25
    assert view["near_limit_scanned"] == 25 and view["waiting"] == 35
    async with db.transaction() as conn:
        logged = (await conn.execute(select(adapters.access_log.c.case_id))).scalars().all()
    assert sorted(logged) == sorted(case_uuid(n) for n in (29, 28, 27, 26))
    await db.dispose()
