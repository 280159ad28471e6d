"""Helpers for the queue's tests on real PostgreSQL: a migrated schema of its own, cases."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from queue_model import case_uuid, triage_event
from sqlalchemy import func, select, text

from careflow.contracts import Actor, ActorRole, CaseOpened, QueueRef, Urgency
from careflow.kit import eventstore
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
                        personal_identity_number="191212121212",
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
    """Everything a schema's tables are made of, as PostgreSQL reports it: columns (type,
    nullability, default, identity), constraints and indexes, without the schema's name."""
    queries = {
        "columns": """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                   a.attidentity::text
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = :schema AND c.relkind = 'r' AND a.attnum > 0
              AND NOT a.attisdropped AND c.relname <> 'alembic_version'
        """,
        "constraints": """
            SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid)
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = :schema AND c.relname <> 'alembic_version'
        """,
        "indexes": """
            SELECT tablename, indexname, replace(indexdef, :schema || '.', '')
            FROM pg_indexes
            WHERE schemaname = :schema AND tablename <> 'alembic_version'
        """,
    }
    snapshot: dict[str, list[tuple[str, ...]]] = {}
    async with db.transaction() as conn:
        for kind, sql in queries.items():
            rows = (await conn.execute(text(sql), {"schema": schema})).all()
            snapshot[kind] = sorted(tuple(str(v) for v in row) for row in rows)
    return snapshot
