"""The kit's aggregate: decide, append, store the state and project in one transaction,
at a cost that does not grow with the stream; and the injected clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kit_testkit import event_store_schema
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Actor, ActorRole, CaseOpened, Event
from careflow.kit import eventstore
from careflow.kit.clock import FixedClock, SystemClock, natural_id, today_in_sweden
from careflow.kit.db import Database
from careflow.kit.eventstore import Aggregate, ConcurrencyError

read_meta = MetaData()
counts = Table(
    "counts",
    read_meta,
    Column("stream_id", String(200), primary_key=True),
    Column("n", Integer, nullable=False),
)


@dataclass(frozen=True)
class Tally:
    """A toy aggregate state: how many events the stream holds, and the last region."""

    n: int = 0
    last: str | None = None


def evolve(state: Tally, event: Event) -> Tally:
    assert isinstance(event, CaseOpened)
    return replace(state, n=state.n + 1, last=event.region)


def opened(case_id: uuid.UUID, n: int) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        occurred_at=datetime.now(UTC),
        producer="kit-test",
        correlation_id=case_id,
        actor=Actor(id="p1", role=ActorRole.PATIENT),
        patient_id="p1",
        region=f"r{n}",
    )


async def count_projection(conn: AsyncConnection, new: Sequence[Event]) -> None:
    for e in new:
        stream = f"tally-{e.case_id}"
        await conn.execute(
            text(
                "INSERT INTO counts (stream_id, n) VALUES (:s, 1) "
                "ON CONFLICT (stream_id) DO UPDATE SET n = counts.n + 1"
            ),
            {"s": stream},
        )


@pytest.fixture
async def db(infra: Any, unique: str) -> AsyncIterator[Database]:
    database = await event_store_schema(infra.database_url, f"kit_agg_{unique}", read_meta)
    yield database
    await database.dispose()


@pytest.mark.integration
@pytest.mark.architecture
async def test_execute_appends_stores_state_and_projects_in_one_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    agg = Aggregate(Tally, evolve, state_type=Tally)
    case_id = uuid.uuid4()
    stream = f"tally-{case_id}"
    folded: list[int] = []
    real_load = eventstore.load

    async def counting_load(
        conn: AsyncConnection, stream_id: str, after_version: int = 0
    ) -> list[eventstore.StoredEvent]:
        loaded = await real_load(conn, stream_id, after_version)
        folded.append(len(loaded))
        return loaded

    monkeypatch.setattr(eventstore, "load", counting_load)
    for n in range(1, 301):
        async with db.transaction() as conn:
            state, new = await agg.execute(
                conn, stream, lambda s, n=n: [opened(case_id, n)], project=count_projection
            )
        assert state == Tally(n=n, last=f"r{n}") and len(new) == 1
    # With the stored state no command refolds the stream: the 300th reads what the 1st did.
    assert folded == [0] * 300
    async with db.transaction() as conn:
        row = (await conn.execute(select(counts.c.n).where(counts.c.stream_id == stream))).one()
        assert row.n == 300
        stored = (await conn.execute(text("SELECT version FROM aggregate_states"))).scalar_one()
        assert stored == 300


@pytest.mark.integration
@pytest.mark.architecture
async def test_a_stream_without_stored_state_is_folded_and_a_rolled_back_command_leaves_nothing(
    db: Database,
) -> None:
    case_id = uuid.uuid4()
    stream = f"tally-{case_id}"
    plain = Aggregate(Tally, evolve)  # an older stream: events only
    for n in (1, 2, 3):
        async with db.transaction() as conn:
            await plain.execute(conn, stream, lambda s, n=n: [opened(case_id, n)])
    stored = Aggregate(Tally, evolve, state_type=Tally)
    async with db.transaction() as conn:
        state, _ = await stored.rehydrate(conn, stream)
    assert state == Tally(n=3, last="r3")

    with pytest.raises(RuntimeError, match="projection failed"):
        async with db.transaction() as conn:

            async def failing(conn: AsyncConnection, new: Sequence[Event]) -> None:
                raise RuntimeError("projection failed")

            await stored.execute(conn, stream, lambda s: [opened(case_id, 4)], project=failing)
    async with db.transaction() as conn:
        state, version = await stored.rehydrate(conn, stream)
        assert (state.n, version) == (3, 3)  # neither the event nor the state row stayed
        await conn.execute(delete(eventstore.aggregate_states))


@pytest.mark.integration
@pytest.mark.architecture
async def test_two_writers_deciding_from_one_version_race_and_one_loses(db: Database) -> None:
    agg = Aggregate(Tally, evolve, state_type=Tally)
    case_id = uuid.uuid4()
    stream = f"tally-{case_id}"

    async def second_writer() -> None:
        async with db.transaction() as second:
            await agg.execute(second, stream, lambda s: [opened(case_id, 2)])

    async with db.transaction() as first:
        await agg.execute(first, stream, lambda s: [opened(case_id, 1)])
        # The second decides from version 0 too; its append waits for the first to commit.
        racing = asyncio.create_task(second_writer())
        await asyncio.sleep(0.3)
    with pytest.raises(ConcurrencyError):
        await racing


@pytest.mark.unit
@pytest.mark.architecture
def test_clocks_are_injected_and_repeatable() -> None:
    at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    clock = FixedClock(at, seed="t")
    again = FixedClock(at, seed="t")
    assert [clock.new_id() for _ in range(3)] == [again.new_id() for _ in range(3)]
    assert str(today_in_sweden(clock)) == "2027-01-01"  # past midnight in Stockholm
    clock.advance(timedelta(minutes=5))
    assert clock.now() == at + timedelta(minutes=5)
    assert natural_id("case", "1") == natural_id("case", "1") != natural_id("case", "2")
    assert SystemClock().now().tzinfo is not None
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))
