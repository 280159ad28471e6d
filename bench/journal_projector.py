"""The journal's projector and verifier, on real Kafka and PostgreSQL.

1. Projector throughput (entries/s from each path's first recorded entry to its last, so the
   consumer group's join is left out), same topics, same run:
   - baseline: aiokafka ``getmany`` + asyncpg batched inserts of the entry rows (parse,
     hash-chain in memory, ``executemany``, one commit per poll), no inbox, no parking;
   - the journal's batched path: the kit's idempotent consumer with the journal's batch
     handlers (inbox, case event log, lane heads, chained bulk insert), 500 per batch;
   - the journal's one-commit-per-event path: the same handlers, one event per batch.
2. ``journal verify`` over many entries (written with COPY), entries/s and the projected
   time for 1,000,000.

Sizes: JOURNAL_BENCH_CASES (default 800 cases, ~14 events each),
JOURNAL_BENCH_SINGLE_EVENTS (1000 events for the per-event path) and
JOURNAL_BENCH_VERIFY_ENTRIES (default 300,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from careflow.contracts import Event, parse_event
from careflow.journal import adapters, audit, consumers, domain
from careflow.journal.app import MIGRATIONS
from careflow.journal.samples import case_events
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import ensure_topics, make_producer
from careflow.kit.migrations import upgrade


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _publish(bootstrap: str, topics: dict[str, str], events: list[Event]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topics[type(e).OWNER], e.to_json(), key=e.key()) for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _migrated(url: str, schema: str) -> Database:
    await asyncio.to_thread(upgrade, MIGRATIONS, url, schema)
    return Database(url, schema, pool_size=4)


async def _entries(db: Database) -> int:
    async with db.transaction() as conn:
        query = select(func.count()).select_from(adapters.journal_entries)
        return int((await conn.execute(query)).scalar_one())


async def journal_path(
    bootstrap: str,
    url: str,
    topics: list[str],
    expected: int,
    batch: int,
) -> float:
    """Entries/s of the journal's projector recording ``expected`` entries from the topics,
    from its first entry on (the consumer group's join, paid once, left out)."""
    tag = uuid.uuid4().hex[:8]
    db = await _migrated(url, f"bench_journal_{tag}")
    broker = make_producer(bootstrap, client_id=f"bench-journal-{tag}")
    consumer = IdempotentConsumer(
        f"bench-journal-{tag}",
        db,
        broker,
        f"{topics[0]}-dlq",
        # The projection takes whole batches, as the journal service runs it.
        projection=consumers.PROJECTION,
        event_types=consumers.EVENT_TYPES,
    )
    consumer.subscribe(*topics, batch_size=batch, linger_ms=20 if batch > 1 else 0)
    await broker.start()
    await consumer.start(bootstrap)
    first: tuple[float, int] | None = None
    try:
        while True:
            n = await _entries(db)
            now = time.perf_counter()
            if n and first is None:
                first = (now, n)
            if n >= expected:
                assert first is not None
                return (expected - first[1]) / max(now - first[0], 1e-6)
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
        await broker.stop()
        await db.dispose()


async def baseline_path(bootstrap: str, url: str, topics: list[str], expected: int) -> float:
    """Entries/s for the same entries with bare aiokafka getmany and asyncpg batched inserts,
    from the first committed batch on."""
    tag = uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(_asyncpg_url(url))
    await conn.execute(
        f"CREATE TABLE bench_raw_{tag} (case_id uuid, lane text, sequence int, "
        "source_event_id uuid UNIQUE, kind text, occurred_at timestamptz, content jsonb, "
        "prev_hash text, entry_hash text)"
    )
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{tag}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
    )
    heads: dict[tuple[Any, str], tuple[int, str]] = {}
    done = 0
    first: tuple[float, int] | None = None
    await consumer.start()
    try:
        while done < expected:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            rows = []
            for records in batch.values():
                for r in records:
                    draft = domain.draft_for(parse_event(r.value or b""))
                    if draft is None:
                        continue
                    key = (draft.case_id, draft.lane)
                    seq, prev = heads.get(key, (0, domain.GENESIS))
                    # Hashed as the journal hashes new entries (its version, its encoding).
                    digest = domain.entry_hash(prev, seq + 1, draft, None, domain.HASH_VERSION)
                    heads[key] = (seq + 1, digest)
                    rows.append(
                        (
                            draft.case_id,
                            draft.lane,
                            seq + 1,
                            draft.source_event_id,
                            draft.kind,
                            draft.occurred_at,
                            json.dumps(draft.content),
                            prev,
                            digest,
                        )
                    )
            if rows:
                async with conn.transaction():
                    await conn.executemany(
                        f"INSERT INTO bench_raw_{tag} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)", rows
                    )
                done += len(rows)
                if first is None:
                    first = (time.perf_counter(), done)
            if batch:
                await consumer.commit()
        assert first is not None
        return (expected - first[1]) / max(time.perf_counter() - first[0], 1e-6)
    finally:
        await consumer.stop()
        await conn.close()


async def verify_path(url: str, total: int) -> tuple[float, float, int, int]:
    """(seconds to write, seconds to verify, entries verified, bytes stored with indexes)
    for ``total`` entries, hashed with the version the journal writes."""
    tag = uuid.uuid4().hex[:8]
    schema = f"bench_verify_{tag}"
    db = await _migrated(url, schema)
    conn = await asyncpg.connect(_asyncpg_url(url), server_settings={"search_path": schema})
    rng = random.Random(1)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    columns = [
        "case_id", "lane", "sequence", "source_event_id", "kind", "occurred_at", "patient_pin",
        "author_id", "author_role", "professional_name", "professional_title", "care_unit",
        "content", "corrects_event_id", "hash_version", "prev_hash", "entry_hash", "id",
        "recorded_at",
    ]  # fmt: skip
    written, next_id, recorded = 0, 1, datetime(2026, 6, 1, tzinfo=UTC)
    start = time.perf_counter()
    while written < total:
        records = []
        for _ in range(2000):
            case = uuid.uuid4()
            n = rng.randint(3, 12)
            drafts = [
                (
                    domain.EntryDraft(
                        case_id=case,
                        source_event_id=uuid.uuid4(),
                        kind="message",
                        occurred_at=t0 + timedelta(seconds=i),
                        author_id="staff-1",
                        author_role="staff",
                        professional_name="Nina Sjöberg",
                        professional_title="nurse",
                        care_unit="1177 direkt",
                        content={"sequence": i, "text": f"meddelande {i} " * 8},
                        lane="chat",
                    ),
                    "191212121212",
                )
                for i in range(1, n + 1)
            ]
            # Numbered and timed here, as the journal numbers rows before hashing them, so
            # the entries carry the version new entries are written with.
            ids = [(next_id + i, recorded) for i in range(len(drafts))]
            next_id += len(drafts)
            for s in domain.chain(drafts, 0, domain.GENESIS, ids):
                d = s.draft
                records.append(
                    (
                        d.case_id, d.lane, s.sequence, d.source_event_id, d.kind, d.occurred_at,
                        s.patient_pin, d.author_id, d.author_role, d.professional_name,
                        d.professional_title, d.care_unit, json.dumps(d.content), None,
                        s.hash_version, s.prev_hash, s.entry_hash, s.id, s.recorded_at,
                    )
                )  # fmt: skip
        await conn.copy_records_to_table("journal_entries", records=records, columns=columns)
        written += len(records)
    write_s = time.perf_counter() - start
    stored_bytes = int(await conn.fetchval("SELECT pg_total_relation_size('journal_entries')"))
    await conn.close()
    start = time.perf_counter()
    async with db.transaction() as c:
        report = await audit.verify_database(c, None)
    verify_s = time.perf_counter() - start
    await db.dispose()
    assert report.valid, report.problems[:3]
    return write_s, verify_s, report.entries, stored_bytes


async def run(bootstrap: str, url: str) -> list[dict[str, object]]:
    cases = int(os.environ.get("JOURNAL_BENCH_CASES", "800"))
    single = int(os.environ.get("JOURNAL_BENCH_SINGLE_EVENTS", "1000"))
    verify_total = int(os.environ.get("JOURNAL_BENCH_VERIFY_ENTRIES", "300000"))
    rng = random.Random(2)
    tag = uuid.uuid4().hex[:8]
    # Every service whose events the journal records (identity names the patient).
    topics = {s: f"bench-journal-{tag}-{s}" for s in ("identity", "triage", "queue", "chat")}
    await ensure_topics(bootstrap, [*topics.values(), f"{topics['triage']}-dlq"])
    events = [e for _ in range(cases) for e in case_events(messages=rng.randint(4, 12))]
    await _publish(bootstrap, topics, events)
    expected = sum(1 for e in events if e.event_type in audit.DOCUMENTED)
    names = list(topics.values())

    base_eps = await baseline_path(bootstrap, url, names, expected)
    batched_eps = await journal_path(bootstrap, url, names, expected, batch=500)

    # The per-event path on a prefix of whole cases (it is two orders of magnitude slower).
    small_topics = {s: f"bench-journal-{tag}-single-{s}" for s in topics}
    await ensure_topics(bootstrap, list(small_topics.values()))
    prefix: list[Event] = []
    for e in events:
        if len(prefix) >= single and e.event_type == "CaseOpened":
            break
        prefix.append(e)
    await _publish(bootstrap, small_topics, prefix)
    single_expected = sum(1 for e in prefix if e.event_type in audit.DOCUMENTED)
    small = list(small_topics.values())
    single_eps = await journal_path(bootstrap, url, small, single_expected, batch=1)

    write_s, verify_s, verified, stored = await verify_path(url, verify_total)
    return [
        {
            "name": "journal_projector_batched",
            "events": len(events),
            "entries": expected,
            "entries_per_s": round(batched_eps, 1),
            "baseline_entries_per_s": round(base_eps, 1),
            "ratio_to_baseline": round(batched_eps / base_eps, 3),
        },
        {
            "name": "journal_projector_per_event",
            "entries": single_expected,
            "entries_per_s": round(single_eps, 1),
            "batched_entries_per_s": round(batched_eps, 1),
            "batched_to_per_event_ratio": round(batched_eps / single_eps, 1),
        },
        {
            "name": "journal_verify",
            "entries": verified,
            "verify_s": round(verify_s, 2),
            "entries_per_s": round(verified / verify_s, 1),
            "projected_1m_entries_s": round(1_000_000 * verify_s / verified, 1),
            "copy_write_s": round(write_s, 2),
            "hash_version": domain.HASH_VERSION,
            "stored_bytes_per_entry": round(stored / verified),
        },
    ]
