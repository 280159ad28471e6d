"""A real journal process SIGKILLed at random moments while events flow: nothing lost,
nothing doubled, every chain verifies, and so do the checkpoints it exported."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from journal_testing import migrated
from sqlalchemy import text
from test_journal_rebuild import publish

from careflow.contracts import Event
from careflow.journal import audit, checkpoints, domain
from careflow.journal.samples import case_events
from careflow.journal.settings import DEV_SIGNING_KEY
from careflow.kit.kafka import ensure_topics

# Crash runs take a minute: `make test-long` runs them.
pytestmark = [pytest.mark.journal, pytest.mark.integration, pytest.mark.long]


def start_journal(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "careflow.journal"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


async def test_a_journal_killed_at_random_points_loses_and_doubles_nothing(
    infra,
    unique,
    service_ports,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    bootstrap = infra.bootstrap_servers
    topics = {s: f"jc-{unique}-{s}" for s in ("triage", "identity", "queue", "chat")}
    await ensure_topics(bootstrap, list(topics.values()))
    schema = f"journal_crash_{unique}"
    env = {
        **os.environ,
        "DATABASE_URL": infra.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_HTTP_PORT": str(service_ports["journal"] + 50),
        "CAREFLOW_JOURNAL_SCHEMA": schema,
        "CAREFLOW_JOURNAL_SOURCE_TOPICS": json.dumps(list(topics.values())),
        "CAREFLOW_JOURNAL_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "CAREFLOW_JOURNAL_CHECKPOINT_INTERVAL_SECONDS": "0.3",
        "CAREFLOW_CONSUMER_BATCH_SIZE": "15",
        "CAREFLOW_CONSUMER_RETRY_BACKOFF_SECONDS": "0.2",
    }
    rng = random.Random(int(unique, 16))
    cases = [case_events(messages=rng.randint(1, 6)) for _ in range(80)]
    events = [e for case in cases for e in case]
    documented = {e.event_id for e in events if e.event_type in audit.DOCUMENTED}

    parts = [[e for case in cases[i::5] for e in case] for i in range(5)]

    async def trickle(part: list[Event]) -> None:
        # Small bursts over a second or two, so a kill lands while events are arriving.
        for i in range(0, len(part), 10):
            await publish(bootstrap, topics, part[i : i + 10])
            await asyncio.sleep(0.05)

    async def ready() -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    r = await http.get(f"http://127.0.0.1:{env['CAREFLOW_HTTP_PORT']}/readyz")
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"journal not ready:\n{log.read_text()[-3000:]}")

    log = tmp_path / "journal.log"
    kills = 0
    for part in parts[:4]:
        proc = start_journal(env, log)
        await ready()
        flowing = asyncio.create_task(trickle(part))
        await asyncio.sleep(rng.uniform(0.1, 1.5))
        if proc.poll() is not None:
            raise AssertionError(f"journal exited by itself:\n{log.read_text()[-3000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        await flowing
    proc = start_journal(env, log)
    await trickle(parts[4])
    db = await migrated(infra.database_url, schema)
    try:
        for _ in range(600):
            async with db.transaction() as conn:
                n = (await conn.execute(text("SELECT count(*) FROM journal_entries"))).scalar_one()
            if n >= len(documented):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a last checkpoint
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        async with db.transaction() as conn:
            ids = [
                r[0]
                for r in await conn.execute(text("SELECT source_event_id FROM journal_entries"))
            ]
            parked = (await conn.execute(text("SELECT count(*) FROM journal_parked"))).scalar_one()
            cp = checkpoints.latest_exported(tmp_path / "checkpoints" / schema)
            report = await audit.verify_database(
                conn, cp, domain.public_key_hex(checkpoints.signing_key(DEV_SIGNING_KEY))
            )
    finally:
        if proc.poll() is None:
            proc.kill()
        await db.dispose()
    assert kills == 4
    assert log.read_text().count('"service_started"') == 5  # each kill hit a running journal
    assert len(ids) == len(set(ids)) == len(documented)  # none doubled
    assert set(ids) == documented  # none missing
    assert parked == 0
    assert cp is not None and cp.entries == len(documented)
    assert report.valid, report.problems
