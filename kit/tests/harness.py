"""A small process around the kit's relay and idempotent consumer, for crash tests.

The reliability tests run it as a real subprocess, let it die with SIGKILL at a
crash point (``CAREFLOW_CRASH_AT``), restart it, and count effects in PostgreSQL.

  python kit/tests/harness.py append  SCHEMA N CASES   # append N events over CASES cases
  python kit/tests/harness.py relay   SCHEMA TOPIC     # publish until the outbox is empty
  python kit/tests/harness.py relay-replica SCHEMA TOPIC  # relay as a service does, until SIGTERM
  python kit/tests/harness.py consume SCHEMA TOPIC DLQ GROUP EXPECTED
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, Identity, Integer, MetaData, Table, func, insert, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from careflow.contracts import Actor, ActorRole, CaseOpened
from careflow.kit import eventstore, faults
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import make_producer
from careflow.kit.relay import OutboxRelay

test_meta = MetaData()
effects = Table(
    "effects",
    test_meta,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    # Deliberately no unique constraint: a duplicate effect must be visible.
    Column("event_id", PgUUID(as_uuid=True), nullable=False),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("case_seq", Integer, nullable=False),
)

URL = os.environ["DATABASE_URL"]
KAFKA = os.environ["KAFKA_BOOTSTRAP_SERVERS"]


def sample_event(case_id: uuid.UUID, n: int) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        occurred_at=datetime.now(UTC),
        producer="harness",
        correlation_id=case_id,
        actor=Actor(id=f"p{n}", role=ActorRole.PATIENT),
        patient_id=f"p{n}",
        region=f"seq-{n}",  # carries the per-case sequence number for order checks
    )


async def append(schema: str, n: int, cases: int) -> None:
    db = Database(URL, schema)
    case_ids = [uuid.uuid4() for _ in range(cases)]
    async with db.transaction() as conn:
        for i in range(n):
            case = case_ids[i % cases]
            seq = i // cases + 1
            await eventstore.append(conn, f"case-{case}", seq - 1, [sample_event(case, seq)])
    faults.crash_point(faults.SERVICE_AFTER_COMMIT)
    await db.dispose()


async def relay(schema: str, topic: str) -> None:
    db = Database(URL, schema)
    producer = make_producer(KAFKA, client_id="harness-relay")
    await producer.start()
    r = OutboxRelay(db, producer, topic, batch_size=20)
    while await r.publish_batch():
        pass
    await producer.stop()
    await db.dispose()


async def relay_replica(schema: str, topic: str) -> None:
    """The relay loop a service replica runs (the advisory lock decides who publishes), until
    SIGTERM: then it drains what is committed, as a service stopping does."""
    db = Database(URL, schema)
    producer = make_producer(KAFKA, client_id="harness-relay-replica")
    await producer.start()
    r = OutboxRelay(db, producer, topic, batch_size=20, idle_poll_seconds=0.02)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, r.stop)
    await r.run()
    await producer.stop()
    await db.dispose()


async def consume(schema: str, topic: str, dlq: str, group: str, expected: int) -> None:
    db = Database(URL, schema)
    producer = make_producer(KAFKA, client_id="harness-consumer")

    async def on_case_opened(conn, event: CaseOpened) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(
            insert(effects).values(
                event_id=event.event_id,
                case_id=event.case_id,
                case_seq=int(event.region.removeprefix("seq-")),
            )
        )

    consumer = IdempotentConsumer(
        group, db, producer, dlq, {"CaseOpened": on_case_opened}, retry_backoff_seconds=0.2
    )
    consumer.subscribe(topic, batch_size=int(os.environ.get("HARNESS_BATCH", "25")))
    await producer.start()
    await consumer.start()
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        async with db.transaction() as conn:
            distinct = (
                await conn.execute(select(func.count(func.distinct(effects.c.event_id))))
            ).scalar_one()
        if distinct >= expected:
            break
        await asyncio.sleep(0.2)
    await consumer.stop()
    await producer.stop()
    await db.dispose()


def main() -> None:
    mode, schema, *rest = sys.argv[1:]
    if mode == "append":
        asyncio.run(append(schema, int(rest[0]), int(rest[1])))
    elif mode == "relay":
        asyncio.run(relay(schema, rest[0]))
    elif mode == "relay-replica":
        asyncio.run(relay_replica(schema, rest[0]))
    elif mode == "consume":
        asyncio.run(consume(schema, rest[0], rest[1], rest[2], int(rest[3])))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
