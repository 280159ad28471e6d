"""The record does not depend on how the topics interleave: a rebuild is identical.

Real Kafka, real PostgreSQL, the journal's real projector (the kit's idempotent
consumer with the journal's handlers). One journal reads the queue and chat
topics first, alone, and the triage and identity topics only afterwards, so every
entry waits for its case's patient to be identified (CasePatientIdentified); the
other reads all topics at once in big batches.
Both must hold the same entries in the same places of the same chains (the hashes,
since version 3, cover also each row's id and recording time, which are the journal
instance's own), each chain valid, and a completeness check
against the topics must find nothing missing, until an entry is removed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer
from journal_testing import migrated
from sqlalchemy import func, select, text

from careflow.cli.replay import read_log
from careflow.contracts import Event
from careflow.journal import adapters, audit, consumers
from careflow.journal.samples import case_events
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.eventstore import inbox
from careflow.kit.kafka import ensure_topics, make_producer

pytestmark = [pytest.mark.journal, pytest.mark.integration]


async def publish(bootstrap: str, topics: dict[str, str], events: Sequence[Event]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send(topics[type(e).OWNER], e.to_json(), key=e.key())
        await producer.flush()
    finally:
        await producer.stop()


async def project_until(
    db: Database, bootstrap: str, group: str, topics: list[str], batch: int, done
) -> None:  # type: ignore[no-untyped-def]
    broker = make_producer(bootstrap, client_id=group)
    consumer = IdempotentConsumer(
        group,
        db,
        broker,
        f"{topics[0]}-dlq",
        retry_backoff_seconds=0.2,
        projection=consumers.PROJECTION,
        event_types=consumers.EVENT_TYPES,
    )
    consumer.subscribe(*topics, batch_size=batch, linger_ms=5)
    await broker.start()
    await consumer.start(bootstrap)
    try:
        for _ in range(600):
            if await done():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{group} did not finish")
    finally:
        await consumer.stop()
        await broker.stop()


async def count(db: Database, query) -> int:  # type: ignore[no-untyped-def]
    async with db.transaction() as conn:
        return int((await conn.execute(query)).scalar_one())


async def snapshot(db: Database) -> list[tuple[str, ...]]:
    async with db.transaction() as conn:
        rows = await conn.execute(
            text(
                # Every column but the row id, the recording time and the hashes that cover
                # them (hash version 3): those say where and when each journal recorded it.
                "SELECT case_id::text, lane, sequence::text, source_event_id::text, kind, "
                "occurred_at::text, patient_pin, author_id, author_role, professional_name, "
                "professional_title, care_unit, content::text, corrects_event_id::text, "
                "hash_version::text FROM journal_entries ORDER BY 1, 2, 3"
            )
        )
        return [tuple(r) for r in rows]


async def test_a_rebuild_in_another_interleaving_gives_the_same_entries(
    infra,
    unique,  # type: ignore[no-untyped-def]
) -> None:
    bootstrap = infra.bootstrap_servers
    topics = {s: f"jr-{unique}-{s}" for s in ("triage", "identity", "queue", "chat", "journal")}
    await ensure_topics(bootstrap, [*topics.values(), f"{topics['triage']}-dlq"])
    rng = random.Random(3)
    cases = [case_events(messages=rng.randint(1, 6), video=rng.random() < 0.5) for _ in range(30)]
    events = [e for case in cases for e in case]
    # A relay that crashed after publishing publishes again: duplicates later in the log.
    events += rng.sample(events, 15)
    await publish(bootstrap, topics, events)
    documented = {e.event_id for e in events if e.event_type in audit.DOCUMENTED}

    live = await migrated(infra.database_url, f"journal_live_{unique}")
    rebuilt = await migrated(infra.database_url, f"journal_rebuilt_{unique}")
    entries = select(func.count()).select_from(adapters.journal_entries)
    try:
        first_part = {e.event_id for e in events if type(e).OWNER in ("queue", "chat")}

        async def first_part_read() -> bool:
            return await count(live, select(func.count()).select_from(inbox)) >= len(first_part)

        await project_until(
            live, bootstrap, "live", [topics["chat"], topics["queue"]], 3, first_part_read
        )
        assert await count(live, entries) == 0  # every entry waits for its patient

        async def all_read(db: Database = live) -> bool:
            return await count(db, entries) >= len(documented)

        await project_until(
            live,
            bootstrap,
            "live",
            [topics["chat"], topics["queue"], topics["triage"], topics["identity"]],
            3,
            all_read,
        )

        async def rebuilt_all() -> bool:
            return await all_read(rebuilt)

        await project_until(
            rebuilt,
            bootstrap,
            "rebuild",
            [topics["triage"], topics["identity"], topics["queue"], topics["chat"]],
            500,
            rebuilt_all,
        )
        a, b = await snapshot(live), await snapshot(rebuilt)
        assert len(a) == len(documented)
        assert a == b
        async with rebuilt.transaction() as conn:
            report = await audit.verify_database(conn, None)
            assert report.valid and report.entries == len(documented), report.problems

            log = [i.event for i in await read_log(bootstrap, list(topics.values()))]
            assert len(log) == len(events)
            complete = await audit.completeness(conn, log)
            assert complete.complete and complete.events_checked == len(documented)

        gone = next(e for e in cases[0] if e.event_type == "MessageSent")
        async with rebuilt.transaction() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(
                text("DELETE FROM journal_entries WHERE source_event_id = :e"), {"e": gone.event_id}
            )
        async with rebuilt.transaction() as conn:
            report2 = await audit.completeness(conn, log)
        assert report2.missing == [("MessageSent", gone.event_id, gone.case_id)]
    finally:
        await live.dispose()
        await rebuilt.dispose()
