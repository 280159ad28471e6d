"""SIGTERM, as Kubernetes and docker-compose send it, mid-flight: nothing is lost or half done.

One real queue service process consumes a burst of TriageCompleted events from real Kafka into
its own (fresh) PostgreSQL database. It is sent SIGTERM while work remains. Then:

- it exits by itself, having logged ``service_stopped`` (no SIGKILL needed);
- exactly the events it applied are the events whose Kafka offsets it committed: no effect
  without its commit (which would be redone) and no commit without its effect (which would be
  lost);
- restarted, it applies the rest, each event exactly once, and its relay publishes every
  event recorded before and after the stop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from careflow.contracts import PARTITIONS, topic_for_service

# SIGTERM runs start whole services and take a minute: `make test-long` runs them.
pytestmark = [pytest.mark.deploy, pytest.mark.integration, pytest.mark.long]

EXAMPLE = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "TriageCompleted.v1.json"
GROUP = "queue.triaged-cases"
EVENTS = 3000


async def _sql(url: str, statement: str, **params: Any) -> Any:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            result = await conn.execute(text(statement), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


@pytest.fixture
def database(infra: Any, unique: str) -> Iterator[str]:
    """A database of its own, so the queue schema holds only this test's work."""
    name = f"deploy_{unique}"
    asyncio.run(_sql(infra.database_url, f'CREATE DATABASE "{name}"'))
    yield make_url(infra.database_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_sql(infra.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _publish(bootstrap: str, count: int) -> dict[str, tuple[int, int, str]]:
    """Publish ``count`` TriageCompleted events; (partition, offset, case id) by event id."""
    template = json.loads(EXAMPLE.read_text())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = []
        for _ in range(count):
            event = {**template, "event_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4())}
            pending.append(
                (
                    event["event_id"],
                    event["case_id"],
                    await producer.send(
                        topic_for_service("triage"),
                        json.dumps(event).encode(),
                        key=event["case_id"].encode(),
                    ),
                )
            )
        placed = {}
        for event_id, case_id, future in pending:
            metadata = await future
            placed[event_id] = (metadata.partition, metadata.offset, case_id)
        return placed
    finally:
        await producer.stop()


async def _committed(bootstrap: str) -> dict[int, int]:
    """The queue consumer group's committed offset per partition of the triage topic."""
    topic = topic_for_service("triage")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        offsets = {}
        for p in range(PARTITIONS):
            committed = await consumer.committed(TopicPartition(topic, p))
            offsets[p] = committed if committed is not None else 0
        return offsets
    finally:
        await consumer.stop()


def _applied(database: str, event_ids: list[str]) -> set[str]:
    async def query() -> set[str]:
        engine = create_async_engine(database)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT event_id::text FROM queue.inbox "
                        "WHERE consumer = :consumer AND event_id::text = ANY(:ids)"
                    ),
                    {"consumer": GROUP, "ids": event_ids},
                )
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    try:
        return asyncio.run(query())
    except Exception:  # the schema may not exist yet while the service migrates
        return set()


def _start(infra: Any, database: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": database,
        "CAREFLOW_HTTP_PORT": str(port),
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        # Small batches, so a SIGTERM lands with batches committed and batches still to come.
        "CAREFLOW_CONSUMER_BATCH_SIZE": "100",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "careflow.queue"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"queue not ready: {log.read_text()[-3000:]}")


def _wait_until(what: str, probe: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_sigterm_mid_flight_commits_what_was_done_and_loses_nothing(
    infra: Any, database: str, service_ports: dict[str, int], tmp_path: Path
) -> None:
    port = service_ports["queue"]
    log = tmp_path / "queue.log"
    proc = _start(infra, database, port, log)
    try:
        _wait_ready(proc, port, log)
        placed = asyncio.run(_publish(infra.bootstrap_servers, EVENTS))
        ids = list(placed)
        _wait_until("the first batch applied", lambda: _applied(database, ids))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # It stopped by itself and said so (uvicorn re-raises SIGTERM after its shutdown).
    assert code in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert '"service_stopped"' in log.read_text()

    applied = _applied(database, ids)
    assert 0 < len(applied) < EVENTS, "SIGTERM came after all the work: raise EVENTS"
    committed = asyncio.run(_committed(infra.bootstrap_servers))
    below_commit = {i for i, (p, offset, _) in placed.items() if offset < committed.get(p, 0)}
    # Applied exactly when committed: nothing half done, nothing skipped.
    assert below_commit == applied
    # Every effect committed came with its CaseQueued in the outbox. (The relay stops after
    # its current iteration rather than draining, so some may still wait to be published; the
    # outbox keeps them for the next relay, checked below.)
    recorded = asyncio.run(_sql(database, "SELECT count(*) FROM queue.events"))
    assert recorded >= len(applied)

    # Restarted, it picks up where it committed and applies the rest, each once.
    proc = _start(infra, database, port, log)
    try:
        _wait_ready(proc, port, log)
        _wait_until("every event applied", lambda: len(_applied(database, ids)) == EVENTS)
        _wait_until(
            "the outbox published",
            lambda: (
                asyncio.run(
                    _sql(database, "SELECT count(*) FROM queue.events WHERE published_at IS NULL")
                )
                == 0
            ),
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cases = [case for _, _, case in placed.values()]
    queued = asyncio.run(
        _sql(
            database,
            "SELECT count(*) FROM queue.events"
            " WHERE event_type = 'CaseQueued' AND case_id::text = ANY(:cases)",
            cases=cases,
        )
    )
    assert queued == EVENTS  # every case placed in the queue exactly once


MIGRATE = Path(__file__).resolve().parents[2] / "deploy" / "tools" / "migrate.py"


def _migrate(service: str, database: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MIGRATE), service],
        env={**os.environ, "DATABASE_URL": database, "CAREFLOW_LOG_JSON": "true", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", ["identity", "journal"])
def test_the_migration_job_migrates_one_service_schema_and_is_idempotent(
    database: str, service: str
) -> None:
    for _ in range(2):
        done = _migrate(service, database, CAREFLOW_ENVIRONMENT="test")
        assert done.returncode == 0, done.stderr[-3000:]
    tables = asyncio.run(
        _sql(
            database,
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = :s AND table_name IN ('events', 'inbox', 'alembic_version')",
            s=service,
        )
    )
    assert tables == 3
    others = asyncio.run(
        _sql(
            database,
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = ANY(:names)",
            names=[
                s
                for s in ("identity", "triage", "queue", "chat", "journal", "notify")
                if s != service
            ],
        )
    )
    assert others == 0  # one job, one schema


def test_the_migration_job_refuses_development_secrets_in_production(database: str) -> None:
    refused = _migrate("queue", database, CAREFLOW_ENVIRONMENT="production")
    assert refused.returncode != 0
    assert "CAREFLOW_TOKEN_SECRET" in refused.stderr
