"""Notify's sender: how fast planned notifications leave for a local HTTP SMS gateway.

The service figure runs the real ``Sender`` (claim with SKIP LOCKED, send, record the outcome
event, all on PostgreSQL) over N planned SMS deliveries. The baseline posts the same N
requests straight to the same gateway with the same concurrency and no database, so
``ratio_to_baseline`` is what durability (claim, record, outcome event) costs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import select, text

from careflow.contracts import Actor, ActorRole, QueueRef, Skill, TurnReached
from careflow.contracts.vocabulary import Professional
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade
from careflow.notify import adapters, domain
from careflow.notify.app import build_channels
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

MIGRATIONS = Path(adapters.__file__).with_name("migrations")
DELIVERIES = 500
CONCURRENCY = 50
NURSE = Professional(staff_id="SE-E1", name="N", title="nurse", care_unit="u")


async def _gateway() -> tuple[web.AppRunner, int, list[str]]:
    seen: list[str] = []

    async def sms(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request.headers.get("Idempotency-Key", ""))
        return web.json_response({"status": "queued"}, status=201)

    app = web.Application()
    app.router.add_post("/v1/sms", sms)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port, seen


def _planned(n: int) -> list[domain.PlannedDelivery]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        case_id = uuid.uuid4()
        turn = TurnReached(
            case_id=case_id,
            occurred_at=now,
            producer="queue",
            correlation_id=case_id,
            actor=Actor(id="SE-E1", role=ActorRole.STAFF),
            queue=QueueRef(region="R", skill=Skill.NURSE),
            professional=NURSE,
            waited_seconds=1.0,
        )
        prefs = domain.ContactPreferences(channels=frozenset({"sms"}), phone=f"+4670{i:07d}")
        out += domain.plan_deliveries(
            turn, "your_turn", f"sub_{i}", prefs, None, now, timedelta(hours=1)
        )
    return out


async def run(bootstrap: str, database_url: str) -> list[dict[str, Any]]:
    del bootstrap
    schema = f"bench_notify_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, schema)
    db = Database(database_url, schema, pool_size=4)
    runner, port, seen = await _gateway()
    url = f"http://127.0.0.1:{port}/v1/sms"
    try:
        settings = NotifySettings(
            database_url=database_url,
            sms_gateway_url=url,
            send_batch_size=CONCURRENCY,
            send_idle_poll_seconds=0.01,
        )
        planned = _planned(DELIVERIES)
        async with db.transaction() as conn:
            await adapters.enqueue(conn, planned, datetime.now(UTC))
        sender = Sender(db, settings, build_channels(settings), SystemClock())
        started = time.perf_counter()
        while await sender.run_once():
            pass
        for channel in sender.channels.values():
            await channel.close()  # type: ignore[attr-defined]
        service_seconds = time.perf_counter() - started
        async with db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(adapters.deliveries.c.created_at, adapters.deliveries.c.finished_at)
                )
            ).all()
        assert len(seen) == DELIVERIES and all(r.finished_at for r in rows)
        latencies = sorted((r.finished_at - r.created_at).total_seconds() * 1000 for r in rows)

        # Baseline: the same requests, the same concurrency, no database.
        body = {"to": "+46700000000", "from": "careflow", "text": "x" * 60}
        gate = asyncio.Semaphore(CONCURRENCY)

        async def post(client: httpx.AsyncClient, i: int) -> None:
            async with gate:
                await client.post(url, json=body, headers={"Idempotency-Key": f"b{i}"})

        started = time.perf_counter()
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(post(client, i) for i in range(DELIVERIES)))
        baseline_seconds = time.perf_counter() - started
    finally:
        await runner.cleanup()
        async with db.transaction() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await db.dispose()

    service_rate = DELIVERIES / service_seconds
    baseline_rate = DELIVERIES / baseline_seconds
    return [
        {
            "name": "notify_send_sms_service",
            "deliveries": DELIVERIES,
            "concurrency": CONCURRENCY,
            "deliveries_per_s": round(service_rate, 1),
            "planned_to_recorded_p50_ms": round(statistics.median(latencies), 1),
            "planned_to_recorded_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
            "ratio_to_baseline": round(service_rate / baseline_rate, 3),
        },
        {
            "name": "notify_send_sms_baseline_plain_http",
            "deliveries": DELIVERIES,
            "concurrency": CONCURRENCY,
            "deliveries_per_s": round(baseline_rate, 1),
        },
    ]
