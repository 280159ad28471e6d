"""Helpers for the queue's tests on real PostgreSQL: a migrated schema of its own, cases."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from queue_model import case_uuid, triage_event
from sqlalchemy import func, select, text

from careflow.contracts import Actor, ActorRole, CaseOpened, QueueRef, Urgency
from careflow.kit import eventstore, migrations
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import FixedClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade
from careflow.queue import adapters, service

MIGRATIONS = Path(adapters.__file__).with_name("migrations")


async def migrated(url: str, schema: str, pool_size: int = 10) -> Database:
    """A fresh schema brought to the newest migration (Alembic runs in a thread: it is sync)."""
    await asyncio.to_thread(upgrade, MIGRATIONS, url, schema)
    return Database(url, schema, pool_size=pool_size)


async def enqueue(
    db: Database,
    cases: list[tuple[int, datetime, Urgency, QueueRef | None]],
    patient: str = "p-owner",
    revision: int = 1,
) -> None:
    """Open and triage cases as the triage topic would deliver them, in one transaction;
    each is placed at the time of its triage."""
    async with db.transaction() as conn:
        for n, at, urgency, queue in cases:
            if revision == 1:
                await record_case_opened(
                    conn,
                    CaseOpened(
                        case_id=case_uuid(n),
                        occurred_at=at,
                        producer="triage",
                        correlation_id=case_uuid(n),
                        actor=Actor(id=patient, role=ActorRole.PATIENT),
                        patient_id=patient,
                        region=queue.region if queue else "Uppsala",
                    ),
                )
            await service.record_triaged_case(
                conn, FixedClock(at), triage_event(n, at, urgency, queue, revision)
            )


async def counts(db: Database) -> tuple[int, int, int]:
    """(waiting rows, events, turns): what a refused command must leave unchanged."""
    async with db.transaction() as conn:
        waiting = (
            await conn.execute(select(func.count()).select_from(adapters.waiting_cases))
        ).scalar_one()
        events = (
            await conn.execute(select(func.count()).select_from(eventstore.events))
        ).scalar_one()
        turns = (await conn.execute(select(func.count()).select_from(adapters.turns))).scalar_one()
    return int(waiting), int(events), int(turns)


async def reset(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            text("TRUNCATE waiting_cases, events, turns, case_patients, inbox, unreached_patients")
        )


async def schema_snapshot(db: Database, schema: str) -> dict[str, list[tuple[str, ...]]]:
    """The kit's snapshot of ``schema`` (columns, constraints, indexes)."""
    async with db.transaction() as conn:
        return await migrations.schema_snapshot(conn, schema)
