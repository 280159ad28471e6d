"""Staff claiming from a long queue: 10,000 waiting cases, 50 staff claiming at once.

Two paces: ``drain``, 50 staff claiming back to back until the queue is empty (latency
there is mostly queueing behind the other 49: throughput bound); ``paced``, 50 staff who
work 0.2-1 s between claims (still far busier than real staff) for 1,500 claims, where
latency is what one claim costs under contention.

Service: ``careflow.queue.service.claim_next`` exactly as the HTTP claim runs it (one
transaction: lock-and-remove the first waiting case with ``FOR UPDATE SKIP LOCKED``, fold
the case's stream, decide TurnReached, append it to the event store (outbox) with its
expected version, record the turn), on SQLAlchemy Core over asyncpg.
Baseline, same run, same database: the same statements in bare asyncpg (the claim query
that removes the case, records the turn and reads the stream; one event row with a
prepared payload; one access-log row; commit), without stream folding, pydantic or
SQLAlchemy, and with no connection reset between checkouts (nor does the service's pool).

Both are checked, not only timed: every case claimed exactly once (no double assignment,
none lost), each staff member handed cases in queue order, and no case claimed while a
more urgent or older one sat waiting unclaimed (a better case counts as "taken by someone
else" only if its claim began before this one ended).
Both commit durably (fsync and synchronous_commit on).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text

from bench._seed import seed_waiting
from careflow.contracts import Professional, QueueRef, Skill, Urgency
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade
from careflow.queue import adapters, domain, service
from careflow.queue.domain import Waiting

CASES = 10_000
CLAIMERS = 50
REGION = "Uppsala"
QUEUE = QueueRef(region=REGION, skill=Skill.NURSE)
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
MIGRATIONS = Path(adapters.__file__).with_name("migrations")


@dataclass(frozen=True)
class Claim:
    case_id: uuid.UUID
    claimer: int
    started: float
    ended: float

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000


def _cases(seed: int) -> list[Waiting]:
    rng = random.Random(seed)
    urgencies = [Urgency.ORANGE, Urgency.YELLOW, Urgency.GREEN, Urgency.BLUE]
    return [
        Waiting(
            uuid.uuid4(),
            QUEUE,
            rng.choice(urgencies),
            # Whole seconds: many ties, so the case-id tiebreak is exercised.
            START + timedelta(seconds=rng.randrange(0, 4 * 3600)),
        )
        for _ in range(CASES)
    ]


async def _seed(db: Database, cases: list[Waiting]) -> None:
    """A fresh waiting room of ``cases``, all placed at ``START``."""
    await seed_waiting(db, cases, placed_at=START, empty_first=True)


def _staff(i: int) -> domain.Staff:
    return domain.Staff(
        Professional(staff_id=f"SE-B{i:03d}", name="Bench", title="nurse", care_unit="1177"),
        REGION,
        frozenset({Skill.NURSE}),
    )


@dataclass(frozen=True)
class Pace:
    """How staff claim: back to back (``think`` None) or with work between claims."""

    think: tuple[float, float] | None = None
    claims: int | None = None  # stop after this many claims (None: drain the queue)


async def _claimers(pace: Pace, claim_one: Any, warm: Any) -> tuple[list[Claim], float]:
    """Run ``CLAIMERS`` staff, each calling ``claim_one(i)`` -> case id or None, at ``pace``.

    ``warm()`` opens one pooled connection first, so no claim pays for a connection setup.
    """
    go = asyncio.Event()
    taken = 0
    rng = random.Random(5)

    async def claimer(i: int) -> list[Claim]:
        nonlocal taken
        mine: list[Claim] = []
        await warm()
        await go.wait()
        if pace.think is not None:  # staff do not all start at the same instant
            await asyncio.sleep(rng.uniform(*pace.think))
        while pace.claims is None or taken < pace.claims:
            t0 = time.perf_counter()
            case_id = await claim_one(i)
            t1 = time.perf_counter()
            if case_id is None:
                break
            taken += 1
            mine.append(Claim(case_id, i, t0, t1))
            if pace.think is not None:
                await asyncio.sleep(rng.uniform(*pace.think))
        return mine

    tasks = [asyncio.create_task(claimer(i)) for i in range(CLAIMERS)]
    await asyncio.sleep(2.0)
    t = time.perf_counter()
    go.set()
    claims = [c for mine in await asyncio.gather(*tasks) for c in mine]
    return claims, time.perf_counter() - t


async def _service(db: Database, pace: Pace) -> tuple[list[Claim], float]:
    skills = frozenset({Skill.NURSE})
    staff = [_staff(i) for i in range(CLAIMERS)]

    clock = SystemClock()

    async def claim_one(i: int) -> uuid.UUID | None:
        got = await service.claim_next(db, clock, staff[i], skills)
        return got[1].case_id if got else None

    async def warm() -> None:
        async with db.engine.connect():
            await asyncio.sleep(0.5)  # held, so that every claimer opens its own

    return await _claimers(pace, claim_one, warm)


# The same work as the service's claim, statement for statement: the claim that removes the
# case, records the turn and reads the stream in one round trip; the TurnReached appended
# to the event store; the staff member's read written to the access log; one commit.
_BARE_CLAIM = """
WITH claimed AS (
    DELETE FROM waiting_cases
    WHERE case_id = (
        SELECT case_id FROM waiting_cases
        WHERE region = $1 AND skill = ANY($2::text[])
        ORDER BY urgency, waiting_since, case_id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING case_id, region, skill, waiting_since
), turn AS (
    INSERT INTO turns (case_id, region, skill, staff_id, reached_at, waited_seconds)
    SELECT case_id, region, skill, $3, $4,
           greatest(0, extract(epoch FROM $4::timestamptz - waiting_since))
    FROM claimed
)
SELECT claimed.case_id, events.version, events.payload
FROM claimed LEFT JOIN events ON events.stream_id = 'queue-' || claimed.case_id::text
ORDER BY events.version
"""
_BARE_EVENT = """
INSERT INTO events (stream_id, version, event_id, event_type, case_id, payload)
VALUES ($1, $2, $3, 'TurnReached', $4, $5::jsonb)
"""
_BARE_READ = """
INSERT INTO queue_access_log (at, reader_id, reader_role, reader_name, reader_title, care_unit,
                        case_id, what, basis, purpose)
VALUES ($1, $2, 'staff', 'Bench', 'nurse', '1177', $3, 'turn',
        'serves the region''s queues', 'help the region''s waiting patients in order of urgency')
"""


async def _no_reset(conn: asyncpg.Connection) -> None:
    """A released connection goes back as it is. asyncpg's default reset (a round trip of
    RESET ALL and friends) inside the timed claim made the baseline slower than the work;
    the service's pool only rolls back on return, which after a commit sends nothing."""


async def _baseline(dsn: str, schema: str, pace: Pace) -> tuple[list[Claim], float]:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=CLAIMERS,
        max_size=CLAIMERS,
        server_settings={"search_path": schema},
        reset=_no_reset,
    )
    payload = json.dumps({"event_type": "TurnReached", "bench": True})

    async def claim_one(i: int) -> uuid.UUID | None:
        async with pool.acquire() as conn, conn.transaction():
            now = datetime.now(UTC)
            rows = await conn.fetch(_BARE_CLAIM, REGION, ["nurse"], f"SE-B{i:03d}", now)
            if not rows:
                return None
            case_id: uuid.UUID = rows[0]["case_id"]
            # The stream is read, as the service folds it; the payloads are not parsed here.
            version = max((r["version"] or 0) for r in rows)
            await conn.execute(
                _BARE_EVENT, f"queue-{case_id}", version + 1, uuid.uuid4(), case_id, payload
            )
            await conn.execute(_BARE_READ, now, f"SE-B{i:03d}", case_id)
            return case_id

    async def warm() -> None:
        async with pool.acquire():
            await asyncio.sleep(0.5)

    try:
        return await _claimers(pace, claim_one, warm)
    finally:
        await pool.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _check(
    name: str, cases: list[Waiting], claims: list[Claim], seconds: float, drained: bool
) -> dict[str, Any]:
    key = {w.case_id: w.key for w in cases}
    ids = [c.case_id for c in claims]
    double = len(ids) - len(set(ids))
    lost = len(set(key) - set(ids)) if drained else 0
    # Each staff member's own claims must come in queue order.
    per_staff: dict[int, list[Claim]] = {}
    for c in sorted(claims, key=lambda c: c.started):
        per_staff.setdefault(c.claimer, []).append(c)
    staff_violations = sum(
        1
        for mine in per_staff.values()
        for a, b in itertools.pairwise(mine)
        if key[b.case_id] < key[a.case_id]
    )
    # Globally: a claim is out of order if a better case was claimed by a claim that
    # began only after this one had ended (so it sat waiting, unlocked, all along).
    violations, latest_better_start = 0, float("-inf")
    for c in sorted(claims, key=lambda c: key[c.case_id]):
        if latest_better_start > c.ended:
            violations += 1
        latest_better_start = max(latest_better_start, c.started)
    latencies = [c.ms for c in claims]
    return {
        "name": name,
        "cases": len(cases),
        "claimers": CLAIMERS,
        "claims": len(claims),
        "double_assignments": double,
        "lost_cases": lost,
        "order_violations": violations,
        "per_staff_order_violations": staff_violations,
        "claims_per_s": round(len(claims) / seconds, 1),
        "p50_ms": round(_pct(latencies, 0.50), 2),
        "p99_ms": round(_pct(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


async def run(bootstrap: str, database_url: str) -> list[dict[str, Any]]:
    """Seed 10,000 waiting cases and let 50 staff claim them all, back to back; then 50
    staff who work between claims (0.2-1 s, still far busier than real staff); each for
    the service and the bare-asyncpg baseline."""
    del bootstrap  # claims touch PostgreSQL only
    schema = f"bench_queue_{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, schema)
    db = Database(database_url, schema, pool_size=CLAIMERS)
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    cases = _cases(seed=11)
    results: list[dict[str, Any]] = []
    try:
        for label, pace in (
            ("drain", Pace()),
            ("paced", Pace(think=(0.2, 1.0), claims=1500)),
        ):
            await _seed(db, cases)
            claims, seconds = await _service(db, pace)
            service = _check(
                f"queue_claims_{label}_service", cases, claims, seconds, not pace.claims
            )
            await _seed(db, cases)
            bare, bare_seconds = await _baseline(dsn, schema, pace)
            baseline = _check(
                f"queue_claims_{label}_baseline_asyncpg", cases, bare, bare_seconds, not pace.claims
            )
            service["p99_ratio_to_baseline"] = round(service["p99_ms"] / baseline["p99_ms"], 2)
            service["throughput_ratio_to_baseline"] = round(
                service["claims_per_s"] / baseline["claims_per_s"], 2
            )
            results += [service, baseline]
        async with db.transaction() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await db.dispose()
    return results
