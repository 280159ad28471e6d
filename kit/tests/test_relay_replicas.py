"""Outbox relays of two replicas on one schema, in processes of their own, as a service's
replicas run them (issue 15): while events are committed, replicas stop and start (a rolling
update) and the relay passes from one to the other, and the topic ends up holding every event
exactly once, each case's in the order recorded."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from test_reliability import HARNESS, KitEnv, kit_env, scalar

from careflow.kit import eventstore

pytestmark = [
    pytest.mark.long,
    pytest.mark.foundation,
    pytest.mark.ops,
    pytest.mark.integration,
    pytest.mark.timeout(900),
]

__all__ = ["kit_env"]  # the fixture, shared with the reliability tests


async def _append(kit: KitEnv, n: int, cases: int) -> None:
    """``n`` events over ``cases`` new cases, in one transaction, as the harness appends them."""
    from harness import sample_event

    case_ids = [uuid.uuid4() for _ in range(cases)]
    async with kit.db.transaction() as conn:
        for i in range(n):
            case, seq = case_ids[i % cases], i // cases + 1
            await eventstore.append(conn, f"case-{case}", seq - 1, [sample_event(case, seq)])


async def _until(kit: KitEnv, sql: str, limit: float) -> None:
    """Poll ``sql`` (a boolean) until it holds; fail after ``limit`` seconds."""
    async with asyncio.timeout(limit):
        for _ in iter(int, 1):
            async with kit.db.transaction() as conn:
                if (await conn.execute(text(sql))).scalar_one():
                    return
            await asyncio.sleep(0.3)


def _replica(env: dict[str, str], schema: str, topic: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HARNESS), "relay-replica", schema, topic],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]


async def _read_topic(bootstrap: str, topic: str, partitions: int = 3) -> list[dict[str, str]]:
    """Every record of the topic, partition by partition, in offset order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        ends = await consumer.end_offsets(parts)
        for part in parts:
            consumer.seek(part, 0)
        records: list[dict[str, str]] = []
        async with asyncio.timeout(60):
            while [await consumer.position(p) for p in parts] != [ends[p] for p in parts]:
                batch = await consumer.getmany(timeout_ms=500)
                for part in parts:
                    records.extend(json.loads(r.value) for r in batch.get(part, []))
        return records
    finally:
        await consumer.stop()


async def test_two_relays_on_one_schema_double_nothing_lose_nothing_keep_each_cases_order(
    kit_env: KitEnv, infra
) -> None:  # type: ignore[no-untyped-def]
    env, schema, topic = kit_env.env, kit_env.schema, kit_env.topic
    rounds, per_round, cases = 6, 60, 5
    a, b = _replica(env, schema, topic), _replica(env, schema, topic)
    replicas = [a, b]
    try:
        # Both replicas up (their relays running) before the first event is committed.
        connected = (
            "SELECT count(*) >= 2 FROM pg_stat_activity "
            f"WHERE application_name = '{schema}' AND pid <> pg_backend_pid()"
        )
        await _until(kit_env, connected, 300)
        for i in range(rounds):
            await _append(kit_env, per_round, cases)
            await asyncio.sleep(0.5)
            if i == 1:
                # A rolling update: A stops (B relays from now on, if it did not already)
                # and a new replica C starts, standing by...
                await asyncio.to_thread(_stop, a)
                replicas.append(_replica(env, schema, topic))
            if i == 3:
                # ...then B, the only relay since A stopped, stops too: C takes over.
                await asyncio.to_thread(_stop, b)
        total = rounds * per_round
        await _until(kit_env, "SELECT count(*) = 0 FROM events WHERE published_at IS NULL", 300)
    finally:
        for proc in replicas:
            if proc.poll() is None:
                await asyncio.to_thread(_stop, proc)
    assert await scalar(kit_env.db, "SELECT count(*) FROM events") == total
    records = await _read_topic(infra.bootstrap_servers, topic)
    ids = [r["event_id"] for r in records]
    assert len(ids) == total and len(set(ids)) == total  # nothing lost, nothing doubled
    order: dict[str, list[int]] = defaultdict(list)
    for r in records:  # one case is one key, so one partition: its offsets are its order
        order[r["case_id"]].append(int(r["region"].removeprefix("seq-")))
    assert len(order) == rounds * cases
    for seqs in order.values():
        assert seqs == list(range(1, per_round // cases + 1))
