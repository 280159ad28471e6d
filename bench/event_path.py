"""The kit's event path against a bare baseline, on real Kafka and PostgreSQL.

Kit: events appended to the event store (outbox) -> OutboxRelay -> Kafka ->
IdempotentConsumer (inbox + one effect row per event, written by a projection)
-> PostgreSQL, with aiokafka producing and consuming.
FastStream: the same kit core with FastStream producing (``KafkaBroker.publish``)
and consuming (a batch subscriber with manual acknowledgement): the alternative
the kit was measured against when it chose one Kafka library.
Baseline, same run, same broker and database, the same work done with bare
libraries: asyncpg outbox rows -> a raw relay loop with the aiokafka producer
(the same record headers) -> Kafka -> aiokafka ``getmany`` -> asyncpg inbox
insert and ``executemany`` of the same effect rows.
All commit durably (fsync and synchronous_commit on). Each figure is the median
of three rounds with min and max; a round runs the three paths one after another,
and a ratio compares the kit with the baseline of its own round.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, Table, insert, text
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Actor, ActorRole, CaseOpened
from careflow.kit import eventstore
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import Producer, ensure_topics, make_producer
from careflow.kit.relay import OutboxRelay

bench_meta = MetaData()
effects = Table(
    "effects",
    bench_meta,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column(
        "applied_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("clock_timestamp()"),
    ),
)


@dataclass
class Figures:
    events: int
    seconds: float
    lags_ms: list[float]

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        if not self.lags_ms:
            return float("nan")
        ordered = sorted(self.lags_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _event(case_id: uuid.UUID) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        occurred_at=datetime.now(UTC),
        producer="bench",
        correlation_id=case_id,
        actor=Actor(id="p-bench", role=ActorRole.PATIENT),
        patient_id="p-bench",
        region="Uppsala",
    )


async def _schema(url: str, schema: str) -> Database:
    db = Database(url, schema, pool_size=5)
    async with db.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    async with db.transaction() as conn:
        await conn.run_sync(lambda c: eventstore.metadata.create_all(c))
        await conn.run_sync(lambda c: bench_meta.create_all(c))
    return db


async def _lags(db: Database) -> list[float]:
    async with db.transaction() as conn:
        rows = await conn.execute(
            text("SELECT extract(epoch FROM applied_at - occurred_at) * 1000 FROM effects")
        )
        return [float(r[0]) for r in rows]


async def _count(db: Database) -> int:
    async with db.transaction() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM effects"))).scalar_one())


async def _offer(db: Database, total: int, rate_per_s: float) -> float:
    """Append ``total`` events at ``rate_per_s``, 50 per transaction; returns the start time."""
    cases = [uuid.uuid4() for _ in range(200)]
    chunk = 50
    started = time.perf_counter()
    for i in range(0, total, chunk):
        due = started + i / rate_per_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        async with db.transaction() as conn:
            await eventstore.append_many(
                conn,
                [
                    (f"case-{j}", 0, [_event(cases[j % len(cases)])])
                    for j in range(i, min(total, i + chunk))
                ],
            )
    return started


async def _project(conn: AsyncConnection, events: list[CaseOpened]) -> None:
    # One statement for the batch's fresh events, as a read model's projection writes them.
    await conn.execute(
        insert(effects),
        [{"event_id": e.event_id, "occurred_at": e.occurred_at} for e in events],
    )


async def kit_path(bootstrap: str, url: str, total: int, rate_per_s: float) -> Figures:
    """Offer ``total`` events at ``rate_per_s`` through the kit; measure until all are applied."""
    tag = uuid.uuid4().hex[:8]
    schema, topic = f"bench_kit_{tag}", f"bench-kit-{tag}"
    await ensure_topics(bootstrap, [topic, f"{topic}-dlq"])
    db = await _schema(url, schema)
    producer = make_producer(bootstrap, client_id="bench-kit")
    consumer = IdempotentConsumer(
        f"bench-{tag}",
        db,
        producer,
        f"{topic}-dlq",
        {"CaseOpened": _unused_handler},
        projection=_project,
    )
    consumer.subscribe(topic, batch_size=500)
    relay = OutboxRelay(db, producer, topic, batch_size=500, idle_poll_seconds=0.02)
    await producer.start()
    await consumer.start()
    relay_task = asyncio.create_task(relay.run())
    started = await _offer(db, total, rate_per_s)
    while await _count(db) < total:  # noqa: ASYNC110 - polling the database, not a flag
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    relay.stop()
    await relay_task
    await consumer.stop()
    await producer.stop()
    lags = await _lags(db)
    await db.dispose()
    return Figures(total, elapsed, lags)


async def _unused_handler(conn: AsyncConnection, event: CaseOpened) -> None:
    raise AssertionError("the projection applies every event")


async def faststream_path(bootstrap: str, url: str, total: int, rate_per_s: float) -> Figures:
    """The same path with FastStream producing and consuming: the alternative the kit was
    measured against before it settled on aiokafka alone (docs/architecture.md).

    The relay publishes through ``KafkaBroker.publish`` (the envelope's correlation id passed
    as FastStream's own); the consumer is a FastStream batch subscriber with
    ``AckPolicy.MANUAL`` running the kit's inbox core (``IdempotentConsumer.process``):
    ``msg.ack()`` after the database commit (it commits the consumer's positions, which are
    exactly past the batch since the subscriber reads one batch at a time), ``msg.nack()``
    on an infrastructure error (it seeks every partition of the batch back).
    """
    from faststream.kafka import KafkaBroker
    from faststream.kafka.annotations import KafkaMessage
    from faststream.middlewares import AckPolicy

    tag = uuid.uuid4().hex[:8]
    schema, topic = f"bench_fs_{tag}", f"bench-fs-{tag}"
    await ensure_topics(bootstrap, [topic, f"{topic}-dlq"])
    db = await _schema(url, schema)
    broker = KafkaBroker(
        bootstrap,
        client_id="bench-fs",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        log_level=logging.DEBUG,
        graceful_timeout=20.0,
    )

    class BrokerProducer(Producer):
        """The kit's producer interface over the FastStream broker."""

        async def send(
            self, topic: str, value: bytes, *, key: bytes | None, headers: Mapping[str, str]
        ) -> asyncio.Future[Any]:
            rest = {k: v for k, v in headers.items() if k != "correlation_id"}
            return await broker.publish(  # type: ignore[no-any-return]
                value,
                topic,
                key=key,
                headers=rest,
                correlation_id=headers.get("correlation_id"),
                no_confirm=True,
            )

    producer = BrokerProducer(bootstrap, "bench-fs")
    core = IdempotentConsumer(
        f"bench-fs-{tag}",
        db,
        producer,
        f"{topic}-dlq",
        {"CaseOpened": _unused_handler},
        projection=_project,
    )

    async def keep_raw(msg: Any) -> None:
        return None  # the core parses the records itself

    @broker.subscriber(
        topic,
        batch=True,
        group_id=core.name,
        auto_offset_reset="earliest",
        max_records=500,
        batch_timeout_ms=200,
        ack_policy=AckPolicy.MANUAL,
        decoder=keep_raw,
    )
    async def handle(msg: KafkaMessage) -> None:
        try:
            await core.process(msg.raw_message)
        except Exception:
            await msg.nack()
            await asyncio.sleep(core.retry_backoff_seconds)
            return
        await msg.ack()

    relay = OutboxRelay(db, producer, topic, batch_size=500, idle_poll_seconds=0.02)
    await broker.start()
    relay_task = asyncio.create_task(relay.run())
    started = await _offer(db, total, rate_per_s)
    while await _count(db) < total:  # noqa: ASYNC110 - polling the database, not a flag
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    relay.stop()
    await relay_task
    await broker.stop()
    lags = await _lags(db)
    await db.dispose()
    return Figures(total, elapsed, lags)


async def baseline_path(bootstrap: str, url: str, total: int, rate_per_s: float) -> Figures:
    """The same workload with bare aiokafka and asyncpg: an outbox table, a relay loop,
    ``getmany`` and ``executemany`` into an inbox and the effects, all durable."""
    tag = uuid.uuid4().hex[:8]
    schema, topic = f"bench_base_{tag}", f"bench-base-{tag}"
    await ensure_topics(bootstrap, [topic])
    db = await _schema(url, schema)
    await db.dispose()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    settings = {"search_path": schema}
    writer_pg = await asyncpg.connect(dsn, server_settings=settings)
    relay_pg = await asyncpg.connect(dsn, server_settings=settings)
    consumer_pg = await asyncpg.connect(dsn, server_settings=settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"base-{tag}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    applied = 0
    writing = True

    async def relay() -> None:
        while writing or applied < total:
            rows = await relay_pg.fetch(
                "SELECT position, case_id::text, event_id::text, event_type, "
                "payload->>'correlation_id', payload::text FROM events "
                "WHERE published_at IS NULL ORDER BY position LIMIT 500"
            )
            if not rows:
                await asyncio.sleep(0.02)
                continue
            futures = [
                await producer.send(
                    topic,
                    r[5].encode(),
                    key=r[1].encode(),
                    headers=[
                        ("content-type", b"application/json"),
                        ("event_type", r[3].encode()),
                        ("event_id", r[2].encode()),
                        ("correlation_id", r[4].encode()),
                    ],
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await relay_pg.execute(
                "UPDATE events SET published_at = now() WHERE position = ANY($1::bigint[])",
                [r[0] for r in rows],
            )

    async def consume() -> None:
        nonlocal applied
        while applied < total:
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            events = [
                CaseOpened.model_validate_json(r.value)
                for records in batch.values()
                for r in records
            ]
            if not events:
                continue
            async with consumer_pg.transaction():
                fresh = {
                    row[0]
                    for row in await consumer_pg.fetch(
                        "INSERT INTO inbox (consumer, event_id) SELECT 'base', unnest($1::uuid[]) "
                        "ON CONFLICT DO NOTHING RETURNING event_id",
                        [e.event_id for e in events],
                    )
                }
                await consumer_pg.executemany(
                    "INSERT INTO effects (event_id, occurred_at) VALUES ($1, $2)",
                    [(e.event_id, e.occurred_at) for e in events if e.event_id in fresh],
                )
            await consumer.commit()
            applied += len(events)

    tasks = [asyncio.create_task(relay()), asyncio.create_task(consume())]
    cases = [uuid.uuid4() for _ in range(200)]
    chunk = 50
    started = time.perf_counter()
    for i in range(0, total, chunk):
        due = started + i / rate_per_s
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        rows = []
        for j in range(i, min(total, i + chunk)):
            e = _event(cases[j % len(cases)])
            rows.append((f"case-{j}", 1, e.event_id, e.event_type, e.case_id, e.to_json().decode()))
        async with writer_pg.transaction():
            await writer_pg.executemany(
                "INSERT INTO events (stream_id, version, event_id, event_type, case_id, payload) "
                "VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                rows,
            )
    writing = False
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    for conn in (writer_pg, relay_pg, consumer_pg):
        await conn.close()
    db = Database(url, schema)
    lags = await _lags(db)
    await db.dispose()
    return Figures(total, elapsed, lags)


def _spread(values: list[float], digits: int = 1) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


async def _measured(
    path: Callable[[str, str, int, float], Awaitable[Figures]],
    bootstrap: str,
    url: str,
    total: int,
    rate: float,
) -> tuple[Figures, float]:
    """A path's figures and the CPU seconds this process spent per 1,000 events."""
    cpu = time.process_time()
    figures = await path(bootstrap, url, total, rate)
    return figures, (time.process_time() - cpu) * 1000 / total


def _faststream_available() -> bool:
    try:
        import faststream.kafka  # noqa: F401
    except ImportError:
        return False
    return True


#: Runs its own rounds and reports their median and spread.
REPEATS_ITSELF = True


async def run(bootstrap: str, url: str, rounds: int = 3) -> list[dict[str, object]]:
    """Saturation (offered far above capacity) and a steady 1,000 events/s: the kit, the
    FastStream variant and the bare baseline, ``rounds`` times each."""
    paths: dict[str, Callable[[str, str, int, float], Awaitable[Figures]]] = {
        "kit": kit_path,
        "baseline": baseline_path,
    }
    if _faststream_available():
        paths["faststream"] = faststream_path
    results: list[dict[str, object]] = []
    for name, total, rate in (("saturated", 20_000, 1_000_000.0), ("steady_1000", 10_000, 1000.0)):
        runs: dict[str, list[tuple[Figures, float]]] = {p: [] for p in paths}
        for _ in range(rounds):
            for label, path in paths.items():
                runs[label].append(await _measured(path, bootstrap, url, total, rate))
        result: dict[str, object] = {
            "name": f"event_path_{name}",
            "events": total,
            "offered_events_per_s": rate if rate < 1e6 else None,
            "rounds": rounds,
        }
        for label, measured in runs.items():
            prefix = "" if label == "kit" else f"{label}_"
            result[f"{prefix}events_per_s"] = _spread([f.events_per_s for f, _ in measured])
            result[f"{prefix}p50_lag_ms"] = _spread([f.pct(0.50) for f, _ in measured])
            result[f"{prefix}p99_lag_ms"] = _spread([f.pct(0.99) for f, _ in measured])
            result[f"{prefix}cpu_ms_per_1000_events"] = _spread([c * 1000 for _, c in measured])
            if label != "baseline":
                result[f"{prefix}ratio_to_baseline"] = _spread(
                    [
                        f.events_per_s / b.events_per_s
                        for (f, _), (b, _) in zip(measured, runs["baseline"], strict=True)
                    ],
                    digits=3,
                )
        results.append(result)
    return results
