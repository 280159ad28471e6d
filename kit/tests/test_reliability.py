"""The kit's delivery guarantees, against real Kafka and PostgreSQL, with real SIGKILLs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import func, select, text

from careflow.contracts import Actor, ActorRole, CaseOpened
from careflow.kit import eventstore, faults
from careflow.kit.consumer import IdempotentConsumer, Rejected
from careflow.kit.db import Database
from careflow.kit.eventstore import ConcurrencyError
from careflow.kit.kafka import ensure_topics, make_producer

pytestmark = [pytest.mark.foundation, pytest.mark.integration]

HARNESS = Path(__file__).with_name("harness.py")
sys.path.insert(0, str(HARNESS.parent))


@dataclass
class KitEnv:
    schema: str
    topic: str
    dlq: str
    db: Database
    env: dict[str, str]


@pytest.fixture
async def kit_env(  # type: ignore[no-untyped-def]
    infra, unique, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[KitEnv]:
    schema = f"kit_{unique}"
    topic, dlq = f"kit-test-{unique}", f"kit-test-{unique}-dlq"
    # The harness reads them when first imported; restored after the test.
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.bootstrap_servers)
    from harness import effects, test_meta

    db = Database(infra.database_url, schema)
    async with db.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    async with db.transaction() as conn:
        await conn.run_sync(lambda c: eventstore.metadata.create_all(c))
        await conn.run_sync(lambda c: test_meta.create_all(c, tables=[effects]))
    await ensure_topics(infra.bootstrap_servers, [topic, dlq], partitions=3)
    env = {
        **os.environ,
        "DATABASE_URL": infra.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
    }
    env.pop("CAREFLOW_CRASH_AT", None)
    yield KitEnv(schema, topic, dlq, db, env)
    await db.dispose()


def run_harness(env: dict[str, str], *args: str, crash_at: str | None = None) -> int:
    run_env = dict(env)
    if crash_at:
        run_env["CAREFLOW_CRASH_AT"] = crash_at
    proc = subprocess.run(
        [sys.executable, str(HARNESS), *args],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"harness {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


async def count_messages(bootstrap: str, topic: str, partitions: int = 3) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        return sum(ends.values())
    finally:
        await consumer.stop()


async def scalar(db: Database, sql: str) -> int:
    async with db.transaction() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_sigkill_at_every_step_loses_nothing_and_applies_nothing_twice(
    kit_env: KitEnv, infra
) -> None:  # type: ignore[no-untyped-def]
    n, cases = 120, 7
    env = kit_env.env

    # 1. The service dies right after committing its events, before any publish.
    assert (
        run_harness(
            env, "append", kit_env.schema, str(n), str(cases), crash_at=faults.SERVICE_AFTER_COMMIT
        )
        == -signal.SIGKILL
    )
    assert await scalar(kit_env.db, "SELECT count(*) FROM events WHERE published_at IS NULL") == n

    # 2. The relay dies after Kafka confirmed a batch, before marking it published.
    assert (
        run_harness(
            env, "relay", kit_env.schema, kit_env.topic, crash_at=faults.RELAY_AFTER_PUBLISH
        )
        == -signal.SIGKILL
    )
    assert await scalar(kit_env.db, "SELECT count(*) FROM events WHERE published_at IS NULL") == n
    # 3. Restarted, it publishes everything; the first batch went out twice.
    assert run_harness(env, "relay", kit_env.schema, kit_env.topic) == 0
    assert await scalar(kit_env.db, "SELECT count(*) FROM events WHERE published_at IS NULL") == 0
    on_topic = await count_messages(infra.bootstrap_servers, kit_env.topic)
    assert on_topic == n + 20, "the crash should have caused one duplicated batch"

    # 4. The consumer dies after committing its effects, before committing offsets.
    group = f"harness-{kit_env.schema}"
    assert (
        run_harness(
            env,
            "consume",
            kit_env.schema,
            kit_env.topic,
            kit_env.dlq,
            group,
            str(n),
            crash_at=faults.CONSUMER_AFTER_COMMIT,
        )
        == -signal.SIGKILL
    )
    applied_before_crash = await scalar(kit_env.db, "SELECT count(*) FROM effects")
    assert applied_before_crash > 0
    # 5. Restarted, it gets the uncommitted batch again; the inbox makes it a no-op.
    assert (
        run_harness(env, "consume", kit_env.schema, kit_env.topic, kit_env.dlq, group, str(n)) == 0
    )

    assert await scalar(kit_env.db, "SELECT count(*) FROM effects") == n
    assert await scalar(kit_env.db, "SELECT count(DISTINCT event_id) FROM effects") == n
    assert await scalar(kit_env.db, "SELECT count(*) FROM inbox") == n

    # One case's events were applied in the order they were recorded.
    async with kit_env.db.transaction() as conn:
        rows = (
            await conn.execute(text("SELECT case_id, case_seq FROM effects ORDER BY seq"))
        ).all()
    per_case: dict[uuid.UUID, list[int]] = {}
    for case_id, case_seq in rows:
        per_case.setdefault(case_id, []).append(case_seq)
    assert len(per_case) == cases
    for seqs in per_case.values():
        assert seqs == list(range(1, len(seqs) + 1))


def _event(region: str = "Uppsala") -> CaseOpened:
    case = uuid.uuid4()
    return CaseOpened(
        case_id=case,
        occurred_at=datetime.now(UTC),
        producer="test",
        correlation_id=case,
        actor=Actor(id="p", role=ActorRole.PATIENT),
        patient_id="p",
        region=region,
    )


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    kit_env: KitEnv, infra
) -> None:  # type: ignore[no-untyped-def]
    from harness import effects
    from sqlalchemy import insert

    async def apply(conn, event: CaseOpened) -> None:  # type: ignore[no-untyped-def]
        if event.region == "Atlantis":
            raise Rejected("no such region")
        await conn.execute(
            insert(effects).values(event_id=event.event_id, case_id=event.case_id, case_seq=1)
        )

    good = _event()
    invalid = json.loads(_event().to_json())
    invalid["patient_id"] = ""
    poison = [
        b"{this is not json",
        json.dumps({"event_type": "CaseTeleported", "case_id": str(uuid.uuid4())}).encode(),
        json.dumps(invalid).encode(),
        _event(region="Atlantis").to_json(),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    key = b"same-key-so-one-partition"
    for value in poison:
        await producer.send_and_wait(kit_env.topic, value, key=key)
    await producer.send_and_wait(kit_env.topic, good.to_json(), key=key)
    await producer.stop()

    producer = make_producer(infra.bootstrap_servers, client_id="dlq-test")
    consumer = IdempotentConsumer(
        f"dlq-{kit_env.schema}",
        kit_env.db,
        producer,
        kit_env.dlq,
        {"CaseOpened": apply},
        retry_backoff_seconds=0.1,
    )
    consumer.subscribe(kit_env.topic)
    await producer.start()
    await consumer.start()
    try:
        for _ in range(150):
            if await scalar(kit_env.db, "SELECT count(*) FROM effects") == 1:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        await producer.stop()
    assert await scalar(kit_env.db, "SELECT count(*) FROM effects") == 1

    reader = AIOKafkaConsumer(
        kit_env.dlq,
        bootstrap_servers=infra.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await reader.start()
    letters = []
    try:
        while len(letters) < 4:
            batch = await reader.getmany(timeout_ms=5000)
            if not batch:
                break
            for records in batch.values():
                letters.extend(json.loads(r.value) for r in records)
    finally:
        await reader.stop()
    assert len(letters) == 4
    letters.sort(key=lambda d: d["origin"]["offset"])
    reasons = [d["reason"] for d in letters]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1] == "unknown event type"  # the sender's name for it is not repeated
    assert "patient_id" in reasons[2]
    assert reasons[3] == "rejected by handler: no such region"
    assert all(d["origin"]["topic"] == kit_env.topic for d in letters)
    assert [d["origin"]["offset"] for d in letters] == [0, 1, 2, 3]
    assert letters[0]["original"]["value"] == "{this is not json"


async def test_two_writers_racing_on_one_stream_one_wins(kit_env: KitEnv) -> None:
    stream = f"case-{uuid.uuid4()}"
    first_in = asyncio.Event()

    async def writer(hold: bool) -> str:
        async with kit_env.db.transaction() as conn:
            try:
                await eventstore.append(conn, stream, 0, [_event()])
            except ConcurrencyError:
                return "lost"
            if hold:
                first_in.set()
                await asyncio.sleep(0.3)  # the other writer blocks on the unique index meanwhile
            return "won"

    async def late_writer() -> str:
        await first_in.wait()
        return await writer(hold=False)

    results = await asyncio.gather(writer(hold=True), late_writer())
    assert sorted(results) == ["lost", "won"]
    async with kit_env.db.transaction() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(eventstore.events)
                .where(eventstore.events.c.stream_id == stream)
            )
        ).scalar_one()
    assert count == 1


async def _produce_over_partitions(bootstrap: str, topic: str, n: int) -> list[CaseOpened]:
    """``n`` events with distinct case ids, so they spread over every partition."""
    sent = [_event() for _ in range(n)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in sent:
            await producer.send(topic, event.to_json(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def _committed(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(offsets committed by ``group``, records on the topic), summed over its partitions."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await reader.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        committed = [await reader.committed(tp) or 0 for tp in parts]
        ends = await reader.end_offsets(parts)
        return sum(committed), sum(ends.values())
    finally:
        await reader.stop()


async def test_an_infrastructure_error_rewinds_every_partition_of_the_batch(
    kit_env: KitEnv, infra
) -> None:  # type: ignore[no-untyped-def]
    from harness import effects
    from sqlalchemy import insert

    n = 40
    await _produce_over_partitions(infra.bootstrap_servers, kit_env.topic, n)
    failures = {"left": 2}
    batches: list[set[int]] = []

    async def project(conn, events: list[CaseOpened]) -> None:  # type: ignore[no-untyped-def]
        await conn.execute(
            insert(effects),
            [{"event_id": e.event_id, "case_id": e.case_id, "case_seq": 1} for e in events],
        )
        if failures["left"]:
            failures["left"] -= 1
            # After writing: the rollback must undo the effects and the inbox rows.
            raise ConnectionError("database went away")

    producer = make_producer(infra.bootstrap_servers, client_id="rewind-test")
    group = f"rewind-{kit_env.schema}"
    consumer = IdempotentConsumer(
        group,
        kit_env.db,
        producer,
        kit_env.dlq,
        {"CaseOpened": _never_called},
        retry_backoff_seconds=0.1,
        projection=project,
    )
    original_process = consumer.process

    async def process(records):  # type: ignore[no-untyped-def]
        batches.append({r.partition for r in records})
        await original_process(records)

    consumer.process = process  # type: ignore[method-assign]
    consumer.subscribe(kit_env.topic)
    await producer.start()
    await consumer.start()
    try:
        for _ in range(150):
            if await scalar(kit_env.db, "SELECT count(*) FROM inbox") == n:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        await producer.stop()
    assert failures["left"] == 0
    assert len(batches[0]) > 1, "the failed batch spans several partitions"
    assert await scalar(kit_env.db, "SELECT count(*) FROM effects") == n
    assert await scalar(kit_env.db, "SELECT count(DISTINCT event_id) FROM effects") == n
    assert await _committed(infra.bootstrap_servers, group, kit_env.topic) == (n, n)


async def _never_called(conn, event) -> None:  # type: ignore[no-untyped-def]
    raise AssertionError("the projection applies every event")


async def test_a_graceful_stop_finishes_and_commits_the_batch_in_flight(
    kit_env: KitEnv, infra
) -> None:  # type: ignore[no-untyped-def]
    from harness import effects
    from sqlalchemy import insert

    n = 30
    await _produce_over_partitions(infra.bootstrap_servers, kit_env.topic, n)
    in_flight = asyncio.Event()

    async def slow_project(conn, events: list[CaseOpened]) -> None:  # type: ignore[no-untyped-def]
        in_flight.set()
        await asyncio.sleep(0.5)  # the stop arrives meanwhile
        await conn.execute(
            insert(effects),
            [{"event_id": e.event_id, "case_id": e.case_id, "case_seq": 1} for e in events],
        )

    producer = make_producer(infra.bootstrap_servers, client_id="stop-test")
    group = f"stop-{kit_env.schema}"
    consumer = IdempotentConsumer(
        group,
        kit_env.db,
        producer,
        kit_env.dlq,
        {"CaseOpened": _never_called},
        projection=slow_project,
    )
    consumer.subscribe(kit_env.topic, linger_ms=300)  # one batch takes every record
    await producer.start()
    await consumer.start()
    try:
        await asyncio.wait_for(in_flight.wait(), 30)
    finally:
        await consumer.stop()
        await producer.stop()
    applied = await scalar(kit_env.db, "SELECT count(*) FROM effects")
    assert applied > 0
    assert await scalar(kit_env.db, "SELECT count(*) FROM inbox") == applied
    committed, _ = await _committed(infra.bootstrap_servers, group, kit_env.topic)
    assert committed == applied, "exactly the applied batch is committed, no more, no less"


async def test_the_producer_reports_whether_kafka_answers(infra) -> None:  # type: ignore[no-untyped-def]
    producer = make_producer(infra.bootstrap_servers, client_id="ping-test")
    assert not await producer.ping(), "not started: not ready"
    await producer.start()
    try:
        assert await producer.ping()
    finally:
        await producer.stop()
    assert not await producer.ping()
