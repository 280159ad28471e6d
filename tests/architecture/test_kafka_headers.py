"""Kafka headers tell the truth: what the relay publishes carries the envelope's own ids.

Real Kafka and PostgreSQL. One event of every type (from the contracts' golden
examples, each with a fresh correlation id unlike its case id) goes through the
event store and the kit's real relay; a plain consumer reads the records back.
A downstream system must be able to trust the headers, or find none: every
record's ``correlation_id`` header equals the envelope's, ``event_id`` and
``event_type`` match too, and no library adds a correlation header of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy import text

from careflow.contracts import Event, parse_event
from careflow.kit import eventstore
from careflow.kit.db import Database
from careflow.kit.kafka import ensure_topics, make_producer
from careflow.kit.relay import OutboxRelay

pytestmark = [pytest.mark.architecture, pytest.mark.integration]

EXAMPLES = Path(__file__).parents[2] / "contracts" / "examples"
PARTITIONS = 3


def every_event_type() -> list[Event]:
    """One event of each example, with fresh ids and a correlation id of its own."""
    events = []
    for path in sorted(EXAMPLES.glob("*.json")):
        example = parse_event(path.read_bytes())
        events.append(
            example.model_copy(
                update={
                    "event_id": uuid.uuid4(),
                    "case_id": uuid.uuid4(),
                    "correlation_id": uuid.uuid4(),
                }
            )
        )
    return events


@pytest.fixture
async def db(infra, unique) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    database = Database(infra.database_url, f"headers_{unique}")
    async with database.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA "headers_{unique}"'))
    async with database.transaction() as conn:
        await conn.run_sync(lambda c: eventstore.metadata.create_all(c))
    yield database
    await database.dispose()


async def read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record on the topic, with a plain consumer outside any group."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        reader.assign(parts)
        await reader.seek_to_beginning(*parts)
        ends = await reader.end_offsets(parts)
        records: list[ConsumerRecord[Any, Any]] = []
        for tp in parts:
            while await reader.position(tp) < ends[tp]:
                batch = await reader.getmany(tp, timeout_ms=1000)
                records.extend(batch.get(tp, []))
        return records
    finally:
        await reader.stop()


async def test_headers_carry_the_envelopes_correlation_id_and_nothing_invented(
    infra, db: Database, unique: str
) -> None:  # type: ignore[no-untyped-def]
    topic = f"headers-{unique}"
    await ensure_topics(infra.bootstrap_servers, [topic], partitions=PARTITIONS)
    sent = every_event_type()
    assert len({e.event_type for e in sent}) >= 20, "the examples cover the event types"
    async with db.transaction() as conn:
        for event in sent:
            await eventstore.append(conn, f"headers-{event.case_id}", 0, [event])

    producer = make_producer(infra.bootstrap_servers, client_id=f"headers-{unique}")
    await producer.start()
    try:
        relay = OutboxRelay(db, producer, topic, batch_size=7)
        while await relay.publish_batch():
            pass
    finally:
        await producer.stop()

    records = await read_all(infra.bootstrap_servers, topic)
    assert len(records) == len(sent)
    by_id = {str(e.event_id): e for e in sent}
    for record in records:
        envelope = json.loads(record.value)
        names = [name for name, _ in record.headers]
        headers = {name: value.decode() for name, value in record.headers}
        assert len(names) == len(set(names)), f"a header repeats: {names}"
        correlation_headers = [
            n for n in names if "correlation" in n.lower().replace("-", "_").replace(".", "_")
        ]
        assert correlation_headers == ["correlation_id"], names
        assert headers["correlation_id"] == envelope["correlation_id"]
        assert headers["event_id"] == envelope["event_id"]
        assert headers["event_type"] == envelope["event_type"]
        assert record.key == envelope["case_id"].encode()
        original = by_id.pop(envelope["event_id"])
        assert envelope["correlation_id"] == str(original.correlation_id)
        assert envelope["correlation_id"] != envelope["case_id"]
    assert not by_id, "every event was published once"
