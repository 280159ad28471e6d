"""The queue keeps the one shape of a service (issue 12): pure rules, one command path,
the injected clock, frozen migrations and an API document that lists every answer."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from queue_docs import documented
from queue_model import START, case_uuid, staff, triage_event
from queue_pg import enqueue, migrated, schema_snapshot
from sqlalchemy import text

from careflow.contracts import CaseQueued, QueueRef, Skill, TurnReached, Urgency
from careflow.kit import eventstore
from careflow.kit.cases import metadata as cases_metadata
from careflow.kit.clock import FixedClock, SystemClock
from careflow.kit.db import Database
from careflow.queue import adapters, domain, http, service

pytestmark = [pytest.mark.queue, pytest.mark.architecture]

PACKAGE = Path(adapters.__file__).parent
MIGRATIONS = PACKAGE / "migrations" / "versions"
NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)

IO_LIBRARIES = (
    "sqlalchemy",
    "asyncpg",
    "aiokafka",
    "faststream",
    "fastapi",
    "httpx",
    "starlette",
    "os",
)
#: Calls that would read the time or draw an id behind the injected clock's back.
CLOCK_READS = {
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "time.time",
    "time.monotonic",
    "uuid4",
    "uuid.uuid4",
    "uuid1",
    "uuid.uuid1",
}


def _calls(path: Path) -> set[str]:
    """Dotted names of everything called in a module (``datetime.now``, ``uuid4``, ...)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            names.add(ast.unparse(node.func))
    return names


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.unit
def test_the_domain_imports_no_io_library_even_indirectly() -> None:
    probe = (
        "import sys; import careflow.queue.domain; "
        f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    # ``os`` is loaded by the interpreter itself: only the libraries past it can tell.
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert set(filter(None, loaded.split(","))) <= {"os"}
    for module in (PACKAGE / "domain").glob("*.py"):
        imported = {name.split(".")[0] for name in _imports(module)}
        assert not imported & set(IO_LIBRARIES), module.name


@pytest.mark.unit
def test_no_queue_module_reads_the_clock_or_draws_ids_itself() -> None:
    for module in PACKAGE.rglob("*.py"):
        if "migrations" in module.parts:
            continue
        reads = _calls(module) & CLOCK_READS
        assert not reads, f"{module.name} reads {reads}: take the time and ids from the Clock"


@pytest.mark.unit
def test_entry_points_only_call_commands() -> None:
    for name in ("http.py", "consumers.py", "app.py"):
        calls = _calls(PACKAGE / name)
        direct = {
            c for c in calls if c.startswith(("domain.", "adapters.AGGREGATE", "eventstore."))
        }
        assert not direct, f"{name} calls {direct}: go through careflow.queue.service"


@pytest.mark.unit
def test_migrations_are_frozen() -> None:
    for script in MIGRATIONS.glob("*.py"):
        imported = _imports(script)
        assert not {m for m in imported if m.startswith("careflow.queue")}, script.name
        assert "create_all" not in script.read_text(), script.name


async def test_the_migrations_make_exactly_the_tables_the_code_declares(infra, unique) -> None:  # type: ignore[no-untyped-def]
    """Frozen migrations and live table definitions may not drift apart."""
    migrated_schema, declared_schema = f"queue_m_{unique}", f"queue_d_{unique}"
    db = await migrated(infra.database_url, migrated_schema)
    declared = Database(infra.database_url, declared_schema)
    try:
        async with declared.transaction() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{declared_schema}"'))
            await conn.execute(text(f'SET search_path TO "{declared_schema}"'))
            for metadata, tables in (
                (eventstore.metadata, [eventstore.events, eventstore.inbox]),
                (cases_metadata, None),
                (adapters.metadata, None),
            ):
                await conn.run_sync(lambda c, m=metadata, t=tables: m.create_all(c, tables=t))
        assert await schema_snapshot(db, migrated_schema) == await schema_snapshot(
            declared, declared_schema
        )
    finally:
        await db.dispose()
        await declared.dispose()


@pytest.mark.unit
def test_every_route_declares_the_problems_it_can_answer() -> None:
    config = service.QueueConfig(regions=adapters.load_regions())
    routes = [r for r in http.router(None, SystemClock(), config).routes]  # type: ignore[arg-type]
    staff_command = {200, 401, 403, 404, 409, 422, 503}
    expected = {
        ("POST", "/claims"): {200, 204, 400, 401, 403, 409, 422, 503},
        ("POST", "/cases/{case_id}/take"): staff_command,
        ("POST", "/cases/{case_id}/requeue"): staff_command | {400},
        ("POST", "/cases/{case_id}/transfer"): staff_command | {400},
        ("POST", "/cases/{case_id}/close-unanswered"): staff_command,
        ("POST", "/cases/{case_id}/withdraw"): staff_command,
        ("GET", "/cases/{case_id}"): {200, 401, 404, 422, 503},
        ("GET", "/queues"): {200, 401, 403, 503},
        ("GET", "/queues/{skill}"): {200, 401, 403, 422, 503},
        ("GET", "/unreached"): {200, 401, 403, 503},
        ("GET", "/worklist"): {200, 401, 403, 422, 503},
        ("GET", "/guarantee"): {200, 401, 403, 503},
        # Public, no login: the regions' hours before starting.
        ("GET", "/regions"): {200, 503},
        ("GET", "/regions/{region}"): {200, 404, 422, 503},
    }
    found = {}
    for route in routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            found[(method, route.path_format)] = documented(route)
    assert found == expected


async def test_commands_take_time_and_ids_from_the_injected_clock(infra, unique) -> None:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}")
    clock = FixedClock(START + timedelta(minutes=7), seed="architecture")
    expected_ids = FixedClock(START, seed="architecture")
    try:
        await enqueue(db, [(1, START, Urgency.YELLOW, NURSES)])
        nurse = staff("Uppsala", frozenset({Skill.NURSE}))
        got = await service.claim_next(db, clock, nurse)
        assert got is not None
        _, turn = got
        assert turn.occurred_at == clock.now() and turn.waited_seconds == 7 * 60
        assert turn.event_id == expected_ids.new_id()
        async with db.transaction() as conn:
            stream = await eventstore.load(conn, adapters.stream_id(turn.case_id))
        stored = [s.event for s in stream]
        assert [type(e) for e in stored] == [CaseQueued, TurnReached]
        assert stored[1] == turn
    finally:
        await db.dispose()


async def test_a_triage_decided_twice_decides_the_same_event(infra, unique) -> None:  # type: ignore[no-untyped-def]
    """CaseQueued is keyed on its TriageCompleted, so its id does not depend on when or
    how often it is decided."""
    db = await migrated(infra.database_url, f"queue_{unique}")
    triaged = triage_event(3, START, Urgency.GREEN, NURSES, 1)
    try:
        for later in (timedelta(0), timedelta(hours=1)):  # redelivered past the inbox
            async with db.transaction() as conn:
                await service.record_triaged_case(conn, FixedClock(START + later), triaged)
        async with db.transaction() as conn:
            [stored] = await eventstore.load(conn, adapters.stream_id(case_uuid(3)))
        assert stored.event.event_id == domain.placement_id(triaged)
        [again] = domain.decide_place(domain.QueuedCase(), triaged, START + timedelta(hours=2))
        assert again.event_id == stored.event.event_id
    finally:
        await db.dispose()


async def test_claims_and_commands_still_race_safely_through_the_service(infra, unique) -> None:  # type: ignore[no-untyped-def]
    """A claim and a requeue by its holder race on one case: one order or the other."""
    db = await migrated(infra.database_url, f"queue_{unique}", pool_size=4)
    clock = FixedClock(START)
    config = service.QueueConfig(regions=adapters.load_regions())
    nurses = frozenset({Skill.NURSE})
    try:
        await enqueue(db, [(5, START, Urgency.YELLOW, NURSES)])
        first = staff("Uppsala", nurses, 1)
        assert await service.claim_next(db, clock, first) is not None
        second = staff("Uppsala", nurses, 2)
        requeued, claimed = await asyncio.gather(
            service.requeue(db, clock, config, first, case_uuid(5), "wrong patient"),
            service.claim_next(db, clock, second),
        )
        assert requeued["status"] is domain.Status.WAITING
        async with db.transaction() as conn:
            state, version = await adapters.AGGREGATE.rehydrate(
                conn, adapters.stream_id(case_uuid(5))
            )
        # Queued, first turn, requeued, and the second claim if it came after the requeue.
        assert version == (4 if claimed else 3)
        assert state.status is (domain.Status.IN_CONTACT if claimed else domain.Status.WAITING)
    finally:
        await db.dispose()
