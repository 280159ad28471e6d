"""The staff worklist page with 10,000 waiting cases in the nurse's queue.

Issue 14 asks that the worklist pages render server-side in under 50 ms p99 with 10,000
waiting cases in the staff's queue. identity, queue and the web front end run as real
processes (``careflow.cli.platform``, the ``test`` environment, durable commits); 10,000
cases wait in Västmanland's nurse queue, seeded into queue's schema as the TriageCompleted
handler would write them (events plus waiting rows, as ``bench.queue_claims`` does), each
waiting up to four hours. A nurse of that region logs in through the web's own e-ID pages
(the test e-ID app, as the browser tests do, here with plain HTTP) and then:

- ``web_worklist_page``: ``GET /staff``, the page (queue's ``/worklist``, every queue with
  its first 30 waiting cases in order and the patients a notification missed, called once
  with the nurse's token kept server-side, then the template rendered);
- ``web_worklist_queue_api``: queue's ``GET /worklist?first=30`` on its own, with a staff
  token: the part of the page's time spent in queue;
- ``web_trivial_page``: ``GET /staff/login`` on the web front end, no upstream call: the
  web stack's floor (session lookup, CSRF, template, security headers).

Each is requested ``SEQUENTIAL`` times one after another, then by ``CONCURRENT`` clients
at once (``PER_CLIENT`` requests each). The times are the response times the client sees
on the same machine (loopback HTTP, connection kept alive), so they include the client's
own share of the two cores: an upper bound of the server's time.

``BENCH_PROFILE=1`` also writes py-spy flame graphs of queue and web while the page is
timed, to ``bench/results/profiles/{queue,web}-web-worklist.svg``.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from bench import _context
from bench._seed import seed_waiting
from careflow.cli.platform import Platform
from careflow.contracts import QueueRef, Skill, Urgency
from careflow.kit.db import Database
from careflow.queue.domain import Waiting

CASES = 10_000
REGION = "Västmanland"
QUEUE = QueueRef(region=REGION, skill=Skill.NURSE)
NURSE_PIN = "197505179882"  # Nina Sjöberg, nurse, 1177 direkt Västmanland (seeded)
SEQUENTIAL = 200
CONCURRENT = 10
PER_CLIENT = 20
SLOT = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
BASE_PORT = 36011 + 20 * SLOT  # beside full_path's ports, never on them
SERVICES = ("identity", "queue", "web")
LISTED = 30  # the waiting cases the page lists of the queue, in order


def cases(seed: int, now: datetime) -> list[Waiting]:
    """``CASES`` waiting cases of the nurse's queue, each waiting up to four hours."""
    rng = random.Random(seed)
    urgencies = [Urgency.ORANGE, Urgency.YELLOW, Urgency.GREEN, Urgency.BLUE]
    return [
        Waiting(
            uuid.uuid4(),
            QUEUE,
            rng.choice(urgencies),
            now - timedelta(seconds=rng.randrange(60, 4 * 3600)),
        )
        for _ in range(CASES)
    ]


async def seed(db: Database, waiting: list[Waiting]) -> None:
    """Queue every case as the TriageCompleted handler would: events plus waiting rows."""
    await seed_waiting(db, waiting)


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_ORDER = re.compile(r"/eid/test-app\?order=([^\"&]+)")


def csrf_of(html: str) -> str:
    """The page's CSRF token, as its forms carry it."""
    found = _CSRF.search(html)
    if found is None:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


async def staff_login(web: httpx.AsyncClient, pin: str) -> None:
    """The staff e-ID login as the browser does it: start, open the test e-ID app, identify,
    follow the order; ``web`` keeps the session cookie."""
    page = await web.get("/staff/login")
    page.raise_for_status()
    started = await web.post("/login", data={"realm": "staff", "csrf": csrf_of(page.text)})
    if started.status_code != 303:
        raise RuntimeError(f"login start: {started.status_code}")
    wait = await web.get("/login/wait")
    wait.raise_for_status()
    order = _ORDER.search(wait.text)
    if order is None:
        raise RuntimeError("no test e-ID link on the waiting page")
    csrf = csrf_of(wait.text)
    approved = await web.post(
        "/eid/test-app", data={"order": order.group(1), "pin": pin, "csrf": csrf}
    )
    if approved.status_code != 303:
        raise RuntimeError(f"test e-ID: {approved.status_code}")
    for _ in range(60):
        r = await web.post("/login/status", headers={"x-csrf-token": csrf})
        r.raise_for_status()
        answer = r.json()
        if answer["status"] == "complete":
            return
        if answer["status"] == "failed":
            raise RuntimeError(f"login failed: {answer['message']}")
        await asyncio.sleep(0.2)
    raise RuntimeError("login did not complete")


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank, never interpolated above the largest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def figures(name: str, sequential: list[float], concurrent: list[float]) -> dict[str, Any]:
    """One result: p50/p99/max (ms) of the sequential and the concurrent requests."""
    return {
        "name": name,
        "cases_waiting": CASES,
        "requests_sequential": len(sequential),
        "p50_ms": round(pct(sequential, 0.50), 2),
        "p99_ms": round(pct(sequential, 0.99), 2),
        "max_ms": round(max(sequential), 2),
        "concurrent_clients": CONCURRENT,
        "requests_concurrent": len(concurrent),
        "concurrent_p50_ms": round(pct(concurrent, 0.50), 2),
        "concurrent_p99_ms": round(pct(concurrent, 0.99), 2),
        "concurrent_max_ms": round(max(concurrent), 2),
        "timed_as": "response time seen by a client on the same machine (loopback, keep-alive)",
    }


Request = Callable[[], Awaitable[httpx.Response]]


async def timed(request: Request, n: int) -> list[float]:
    """``n`` requests one after another; each must answer 200."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await request()
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{r.request.url.path}: {r.status_code}")
    return out


async def measure(name: str, clients: list[Request]) -> dict[str, Any]:
    """Warm up, then ``SEQUENTIAL`` requests on the first client, then all at once."""
    await timed(clients[0], 10)
    sequential = await timed(clients[0], SEQUENTIAL)
    each = await asyncio.gather(*(timed(c, PER_CLIENT) for c in clients))
    return figures(name, sequential, [ms for one in each for ms in one])


async def run(bootstrap: str, database_url: str) -> list[dict[str, Any]]:
    """Start identity, queue and web; seed 10,000 waiting cases; time the worklist page,
    queue's call behind it and a trivial page."""
    ports = {s: BASE_PORT + i for i, s in enumerate(SERVICES)}
    env = {
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_LOG_LEVEL": "WARNING",
    }
    logs = tempfile.mkdtemp(prefix="bench-web-worklist-")
    platform = Platform(ports, SERVICES)
    await asyncio.to_thread(platform.start, bootstrap, database_url, env, logs)
    queue_db = Database(database_url, "queue")
    results: list[dict[str, Any]] = []
    try:
        async with queue_db.transaction() as conn:
            await conn.execute(text("DELETE FROM waiting_cases WHERE region = :r"), {"r": REGION})
        await seed(queue_db, cases(17, datetime.now(UTC)))
        limits = httpx.Limits(max_keepalive_connections=CONCURRENT + 1)
        webs = [
            httpx.AsyncClient(base_url=platform.url("web"), timeout=30, limits=limits)
            for _ in range(CONCURRENT)
        ]
        api = httpx.AsyncClient(base_url=platform.url("queue"), timeout=30, limits=limits)
        try:
            for web in webs:
                await staff_login(web, NURSE_PIN)
            shown = await webs[0].get("/staff")
            shown.raise_for_status()
            if f"<td>{CASES}</td>" not in shown.text:
                raise RuntimeError("the worklist does not show the 10,000 waiting cases")
            if shown.text.count("<tr data-case=") != LISTED:
                raise RuntimeError(f"the worklist does not list the first {LISTED} in order")
            token = await _staff_token(platform)
            auth = {"Authorization": f"Bearer {token}"}
            pids = {s: p.pid for s, p in platform.processes.items()}
            meter = _context.CpuMeter(pids)
            spies = None
            if os.environ.get("BENCH_PROFILE"):  # flame graphs of the page's services
                folder = os.path.join(os.path.dirname(__file__), "results", "profiles")
                only = {s: pids[s] for s in ("queue", "web")}
                spies = _context.Profiles(only, folder, "web-worklist")
                spies.start()
            meter.start()
            page = await measure("web_worklist_page", [_get(w, "/staff") for w in webs])
            page["cpu_s"] = meter.stop()
            if spies is not None:
                await asyncio.to_thread(spies.stop)
            page["page_bytes"] = len(shown.content)
            page["near_guarantee_limit_listed"] = shown.text.count("<li>")
            queue_api = await measure(
                "web_worklist_queue_api",
                [_get(api, f"/queue/worklist?first={LISTED}", auth) for _ in range(CONCURRENT)],
            )
            trivial = await measure("web_trivial_page", [_get(w, "/staff/login") for w in webs])
            results = [page, queue_api, trivial]
        finally:
            for web in webs:
                await web.aclose()
            await api.aclose()
    finally:
        await queue_db.dispose()
        await asyncio.to_thread(platform.stop)
    return results


def _get(client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None) -> Request:
    return lambda: client.get(path, headers=headers)


async def _staff_token(platform: Platform) -> str:
    """A nurse's token of the region, from identity's development shortcut."""
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(
            f"{platform.url('identity')}/identity/dev/staff-tokens",
            json={
                "hsa_id": f"SE2321000131-E{uuid.uuid4().hex[:8]}",
                "name": "Bench Nurse",
                "title": "nurse",
                "region": REGION,
                "care_unit": f"1177 direkt {REGION}",
            },
        )
        r.raise_for_status()
        token: str = r.json()["access_token"]
        return token
