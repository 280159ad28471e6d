"""Chat's commands in process, on real PostgreSQL: cost per message, races, the clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, event

from careflow.chat import adapters, service
from careflow.contracts import (
    Actor,
    ActorRole,
    CaseOpened,
    Professional,
    QueueRef,
    Skill,
    TurnReached,
)
from careflow.kit import eventstore
from careflow.kit.auth import Principal
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import FixedClock, SystemClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade

pytestmark = [pytest.mark.chat, pytest.mark.integration]

MIGRATIONS = Path(adapters.__file__).with_name("migrations")
REGION = "Uppsala"
CLOCK = SystemClock()


@dataclass(frozen=True)
class Case:
    case_id: uuid.UUID
    patient: Principal
    nurse: Principal


@pytest.fixture(scope="module")
async def db(infra) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    schema = f"chat_commands_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(upgrade, MIGRATIONS, infra.database_url, schema)
    database = Database(infra.database_url, schema, pool_size=6)
    yield database
    await database.dispose()


async def open_case(db: Database) -> Case:
    """A case at its turn, as CaseOpened and TurnReached leave it in chat's tables."""
    case_id = uuid.uuid4()
    patient = Principal(subject_id=f"sub_{case_id.hex[:10]}", role="patient", region=REGION)
    nurse = Professional(
        staff_id=f"SE-{case_id.hex[:8]}", name="Nina", title="nurse", care_unit="1177 direkt"
    )
    now = datetime.now(UTC)
    opened = CaseOpened(
        case_id=case_id,
        occurred_at=now,
        producer="triage",
        correlation_id=case_id,
        actor=Actor(id=patient.subject_id, role=ActorRole.PATIENT),
        patient_id=patient.subject_id,
        region=REGION,
    )
    turn = TurnReached(
        case_id=case_id,
        occurred_at=now,
        producer="queue",
        correlation_id=case_id,
        actor=Actor(id=nurse.staff_id, role=ActorRole.STAFF),
        queue=QueueRef(region=REGION, skill=Skill.NURSE),
        professional=nurse,
        waited_seconds=1.0,
    )
    async with db.transaction() as conn:
        await record_case_opened(conn, opened)
        await adapters.open_conversation(conn, turn)
    staff = Principal(subject_id=nurse.staff_id, role="staff", region=REGION, name="Nina")
    return Case(case_id, patient, staff)


@dataclass
class Cost:
    statements: list[str]
    events_loaded: int = 0


@contextmanager
def measured(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cost]:
    """The SQL statements a block issues and the events it reads back from the store."""
    cost = Cost([])
    real_load = eventstore.load

    async def counting_load(*args: Any, **kwargs: Any) -> list[eventstore.StoredEvent]:
        loaded = await real_load(*args, **kwargs)
        cost.events_loaded += len(loaded)
        return loaded

    def before(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        cost.statements.append(statement)

    monkeypatch.setattr(eventstore, "load", counting_load)
    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield cost
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
        monkeypatch.setattr(eventstore, "load", real_load)


async def send(db: Database, case: Case, n: int, caller: Principal | None = None) -> int:
    made = await service.send(
        db, CLOCK, case.case_id, caller or case.patient, f"message {n}", f"key-{n:06d}"
    )
    return int(made["sequence"])


@pytest.mark.architecture
async def test_a_message_costs_the_same_on_the_300th_as_on_the_5th(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversation's state is read from one row: no send refolds the case's stream."""
    case = await open_case(db)
    for n in range(1, 5):
        await send(db, case, n)
    with measured(db, monkeypatch) as fifth:
        assert await send(db, case, 5) == 5
    for n in range(6, 301):
        await send(db, case, n, case.nurse if n % 2 else None)
    with measured(db, monkeypatch) as later:
        assert await send(db, case, 301) == 301
    assert fifth.events_loaded == later.events_loaded == 0
    assert len(later.statements) == len(fifth.statements), (fifth.statements, later.statements)


@pytest.mark.architecture
async def test_a_case_without_a_stored_state_is_folded_once_then_read_from_its_row(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conversations begun before the state row existed (migration 0003) keep working."""
    case = await open_case(db)
    for n in range(1, 8):
        await send(db, case, n)
    async with db.transaction() as conn:
        await conn.execute(
            delete(eventstore.aggregate_states).where(
                eventstore.aggregate_states.c.stream_id == adapters.stream_id(case.case_id)
            )
        )
    with measured(db, monkeypatch) as first:
        assert await send(db, case, 8) == 8
    with measured(db, monkeypatch) as then:
        assert await send(db, case, 9) == 9
    assert (first.events_loaded, then.events_loaded) == (7, 0)


async def test_racing_senders_are_numbered_one_after_another(db: Database) -> None:
    """Message ids come from (case, sequence): a lost race is renumbered, never refused."""
    case = await open_case(db)
    await send(db, case, 1)
    senders = [case.nurse if n % 2 else case.patient for n in range(2, 8)]
    made = await asyncio.gather(
        *(
            service.send(db, CLOCK, case.case_id, who, f"race {n}", f"race-key-{n:04d}")
            for n, who in enumerate(senders, start=2)
        )
    )
    assert sorted(m["sequence"] for m in made) == list(range(2, 8))
    assert len({m["message_id"] for m in made}) == len(made)
    history = await service.messages(db, CLOCK, case.case_id, case.patient, 0)
    assert [m["sequence"] for m in history] == list(range(1, 8))


@pytest.mark.architecture
async def test_commands_take_the_time_and_new_ids_from_the_injected_clock(db: Database) -> None:
    case = await open_case(db)
    at = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    clock, twin = FixedClock(at, seed="chat"), FixedClock(at, seed="chat")
    made = await service.send(db, clock, case.case_id, case.patient, "hej", "clock-key-1")
    assert made["sent_at"] == at
    started = await service.start_video(db, clock, case.case_id, case.nurse)
    assert started.video_contact_id == twin.new_id()
    assert started.occurred_at == at


@pytest.mark.web
async def test_staff_messages_carry_the_writers_name_and_title(db: Database) -> None:
    """The web page shows who in the care staff wrote; the patient's own messages carry none."""
    case = await open_case(db)
    await send(db, case, 1)
    await send(db, case, 2, case.nurse)
    rows = await service.messages(db, CLOCK, case.case_id, case.patient, 0)
    assert [(r["sender_role"], r.get("sender_name"), r.get("sender_title")) for r in rows] == [
        ("patient", None, None),
        ("staff", "Nina", "nurse"),
    ]
