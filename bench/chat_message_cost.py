"""The cost of one chat message as a case grows: message 5 against message 500.

Service: ``careflow.chat.service.send`` exactly as the REST route and the live socket
call it (one transaction: the caller's access, the idempotency key, the participants,
the conversation's state, the decision, the event appended at its expected version, the
state row rewritten, the message projected and a NOTIFY), on real PostgreSQL, committed
durably. ``CHAT_COST_CASES`` cases (default 12) are each driven to 500 messages, patient
and nurse taking turns; the 5th and the 500th send of every case are timed, and the
statements each issues and the events it reads back from the stream are counted.

Baseline, same run, same cases: the way every message was sent before the state was
stored, folding the whole ``chat-<case>`` stream. It is reproduced by deleting the case's
state row just before a send (the send then folds the stream, as before, and stores the
state again): timed on the 6th and the 501st message of each case.

Reported per position: median, 10th and 90th percentile and spread (p90 - p10) in ms;
``ratio_message500_to_message5`` is the ratio of the medians (goal: at most 1.2).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, text

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
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade

CASES = int(os.environ.get("CHAT_COST_CASES", "12"))
MESSAGES = 500
EARLY = 5
SCHEMA = "chat_message_cost"
REGION = "Uppsala"
MIGRATIONS = Path(adapters.__file__).with_name("migrations")


@dataclass
class Sample:
    """One timed send: how long it took, the statements it issued, the events it loaded."""

    ms: float
    statements: int
    events_loaded: int


@dataclass
class Probe:
    """Counts what the sends under it do, through the engine's and the event store's hooks."""

    db: Database
    statements: int = 0
    events_loaded: int = 0
    _real_load: Any = field(default=None, repr=False)

    def __enter__(self) -> Probe:
        self._real_load = eventstore.load

        async def counting_load(*args: Any, **kwargs: Any) -> list[eventstore.StoredEvent]:
            loaded = await self._real_load(*args, **kwargs)
            self.events_loaded += len(loaded)
            return loaded

        eventstore.load = counting_load
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._count)
        eventstore.load = self._real_load

    def _count(self, *_: object) -> None:
        self.statements += 1

    async def time(self, action: Callable[[], Awaitable[object]]) -> Sample:
        statements, loaded = self.statements, self.events_loaded
        start = time.perf_counter()
        await action()
        ms = (time.perf_counter() - start) * 1000
        return Sample(ms, self.statements - statements, self.events_loaded - loaded)


async def _open_case(db: Database) -> tuple[uuid.UUID, Principal, Principal]:
    """A case at its turn, as CaseOpened and TurnReached leave it in chat's tables."""
    case_id = uuid.uuid4()
    patient = Principal(subject_id=f"sub_{case_id.hex[:10]}", role="patient", region=REGION)
    nurse = Professional(
        staff_id=f"SE-{case_id.hex[:8]}", name="Nina", title="nurse", care_unit="Bench"
    )
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        await record_case_opened(
            conn,
            CaseOpened(
                case_id=case_id,
                occurred_at=now,
                producer="triage",
                correlation_id=case_id,
                actor=Actor(id=patient.subject_id, role=ActorRole.PATIENT),
                patient_id=patient.subject_id,
                region=REGION,
            ),
        )
        await adapters.open_conversation(
            conn,
            TurnReached(
                case_id=case_id,
                occurred_at=now,
                producer="queue",
                correlation_id=case_id,
                actor=Actor(id=nurse.staff_id, role=ActorRole.STAFF),
                queue=QueueRef(region=REGION, skill=Skill.NURSE),
                professional=nurse,
                waited_seconds=1.0,
            ),
        )
    staff = Principal(subject_id=nurse.staff_id, role="staff", region=REGION, name="Nina")
    return case_id, patient, staff


async def _forget_state(db: Database, case_id: uuid.UUID) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            delete(eventstore.aggregate_states).where(
                eventstore.aggregate_states.c.stream_id == adapters.stream_id(case_id)
            )
        )


#: The measured sends: message number -> sample name (the next one after each refolds).
MEASURED = {EARLY: "early", MESSAGES: "late", EARLY + 1: "early_fold", MESSAGES + 1: "late_fold"}


async def _drive(db: Database, probe: Probe) -> dict[str, list[Sample]]:
    """Every case to ``MESSAGES`` + 1 messages; the samples at each measured position."""
    clock = SystemClock()
    samples: dict[str, list[Sample]] = {name: [] for name in MEASURED.values()}
    for _ in range(CASES):
        case_id, patient, nurse = await _open_case(db)
        for n in range(1, MESSAGES + 2):
            send = partial(
                service.send,
                db,
                clock,
                case_id,
                nurse if n % 2 else patient,
                f"message {n}",
                f"key-{n:06d}",
            )
            if MEASURED.get(n, "").endswith("_fold"):
                await _forget_state(db, case_id)  # this send folds the stream, as before
            if n in MEASURED:
                samples[MEASURED[n]].append(await probe.time(send))
            else:
                await send()
    return samples


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _figures(prefix: str, samples: list[Sample]) -> dict[str, float | int]:
    ms = [s.ms for s in samples]
    return {
        f"{prefix}_p50_ms": round(statistics.median(ms), 2),
        f"{prefix}_p10_ms": round(_pct(ms, 0.10), 2),
        f"{prefix}_p90_ms": round(_pct(ms, 0.90), 2),
        f"{prefix}_spread_ms": round(_pct(ms, 0.90) - _pct(ms, 0.10), 2),
        f"{prefix}_statements": max(s.statements for s in samples),
        f"{prefix}_events_loaded": max(s.events_loaded for s in samples),
    }


async def run(bootstrap: str, database_url: str) -> list[dict[str, object]]:
    """Message 5 against message 500 of one case, and the same with the stream refolded."""
    del bootstrap  # nothing here leaves PostgreSQL
    setup = Database(database_url, "public", pool_size=1)
    async with setup.transaction() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    await setup.dispose()
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, SCHEMA)
    db = Database(database_url, SCHEMA, pool_size=2)
    try:
        with Probe(db) as probe:
            samples = await _drive(db, probe)
    finally:
        await db.dispose()
    early, late = _figures("message5", samples["early"]), _figures("message500", samples["late"])
    early_fold = _figures("refold_message6", samples["early_fold"])
    late_fold = _figures("refold_message501", samples["late_fold"])
    return [
        {
            "name": "chat_message_cost",
            "cases": CASES,
            **early,
            **late,
            "ratio_message500_to_message5": round(
                late["message500_p50_ms"] / early["message5_p50_ms"], 2
            ),
            **early_fold,
            **late_fold,
            "refold_ratio_message501_to_message6": round(
                late_fold["refold_message501_p50_ms"] / early_fold["refold_message6_p50_ms"], 2
            ),
        }
    ]
