"""The journal has the one shape of a service (issue 12).

A pure domain package (no I/O library, no clock, no id drawn), one command
module that every entry point calls, frozen migrations that create exactly the
tables the adapters describe, every route's problem statuses documented, and
the time and ids of decided events taken from the injected clock.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData

from careflow.contracts import CaseOpened, CasePatientIdentified
from careflow.journal import adapters, domain, service
from careflow.journal.app import MIGRATIONS, build
from careflow.journal.checkpoints import signing_key
from careflow.journal.samples import case_events
from careflow.journal.settings import DEV_SIGNING_KEY, JournalSettings
from careflow.kit import eventstore
from careflow.kit.auth import Principal
from careflow.kit.clock import FixedClock, natural_id
from careflow.kit.db import Database

pytestmark = [pytest.mark.journal, pytest.mark.architecture]

PACKAGE = Path(service.__file__).parent
IO_LIBRARIES = frozenset(
    {"sqlalchemy", "asyncpg", "aiokafka", "faststream", "fastapi", "httpx", "os", "starlette"}
)
#: Python itself loads ``os``: checked as a direct import only.
ALWAYS_LOADED = frozenset({"os"})
#: Reading the clock or drawing an id: what only the injected Clock does.
CLOCK_READS = frozenset({"now", "utcnow", "today", "uuid4", "uuid1", "time", "monotonic"})


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_the_domain_loads_no_io_library_even_indirectly() -> None:
    probe = (
        "import sys, careflow.journal.domain\n"
        f"io = {sorted(IO_LIBRARIES - ALWAYS_LOADED)!r}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(io)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


@pytest.mark.unit
def test_the_domain_never_reads_the_clock_or_draws_an_id() -> None:
    modules = sorted((PACKAGE / "domain").glob("*.py"))
    assert {m.stem for m in modules} >= {
        "entries",
        "holdback",
        "checkpoints",
        "verification",
        "corrections",
        "timeline",
        "consent",
        "access",
    }
    for module in modules:
        for call in (n for n in ast.walk(_tree(module)) if isinstance(n, ast.Call)):
            f = call.func
            name = (
                f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            )
            assert name not in CLOCK_READS, f"{module.name}:{call.lineno} calls {name}()"
        assert not {n.split(".")[0] for n in _imported(module)} & IO_LIBRARIES, module.name


@pytest.mark.unit
def test_entry_points_go_through_the_commands_only() -> None:
    for entry_point in ("http.py", "consumers.py"):
        imported = _imported(PACKAGE / entry_point)
        assert "careflow.journal.service" in imported, entry_point
        reaching_past = {
            n
            for n in imported
            if n.startswith(("careflow.journal.adapters", "careflow.kit.eventstore"))
            or n in ("careflow.journal.adapters", "careflow.kit.eventstore")
        }
        assert not reaching_past, (entry_point, reaching_past)
    # No entry point executes an aggregate or appends to the event store itself.
    for entry_point in ("http.py", "consumers.py", "checkpoints.py", "app.py"):
        source = (PACKAGE / entry_point).read_text()
        assert ".execute(" not in source and "eventstore.append" not in source, entry_point


@pytest.mark.unit
def test_migrations_are_frozen() -> None:
    for script in sorted((MIGRATIONS / "versions").glob("*.py")):
        ours = {n for n in _imported(script) if n.startswith("careflow.")}
        # Only the kit's versioned helpers, which never change once written.
        helpers = {n for n in ours if re.fullmatch(r"careflow\.kit\.migrations\.\w+_v\d+", n)}
        assert ours - helpers <= {"careflow.kit.migrations"}, script.name
        assert "create_all" not in script.read_text(), script.name


@pytest.mark.unit
def test_every_route_documents_the_problems_it_can_answer() -> None:
    _, app = build(JournalSettings(journal_checkpoint_interval_seconds=0))
    paths = app.openapi()["paths"]
    documented = {
        (method.upper(), path): {int(s) for s in op["responses"] if s.isdigit()}
        for path, ops in paths.items()
        if path.startswith(("/journal/cases/", "/journal/me/"))
        for method, op in ops.items()
    }
    # What the journal's own code can raise: NotFound (404) for a case the caller may not
    # see, ConcurrencyError (409) where a command appends to a stream. The kit documents
    # what it wraps every route in (401, 403, 422, 400, 503) itself.
    case = "/journal/cases/{case_id}"
    expected = {
        ("GET", f"{case}/entries"): {404, 422},
        ("GET", f"{case}/verify"): {404, 422},
        ("GET", f"{case}/timeline"): {404, 422},
        ("GET", f"{case}/fhir"): {404, 422},
        ("POST", f"{case}/entries/{{source_event_id}}/corrections"): {404, 409, 422},
        ("POST", f"{case}/consents"): {404, 409, 422},
        ("DELETE", f"{case}/consents/{{provider}}"): {404, 409, 422},
        ("PUT", f"{case}/block"): {404, 409, 422},
        ("DELETE", f"{case}/block"): {404, 409, 422},
        ("GET", f"{case}/consents"): {404, 422},
        ("GET", "/journal/me/access-log"): set(),
        ("GET", "/journal/me/unsigned-notes"): set(),
        ("POST", f"{case}/entries/{{source_event_id}}/signature"): {403, 404, 409, 422},
    }
    assert set(expected) == set(documented)
    for route, statuses in expected.items():
        assert statuses <= documented[route], route


@pytest.mark.unit
def test_an_entry_waits_for_its_patient_and_released_entries_come_first() -> None:
    events = case_events(messages=2, video=False)
    identified = next(e for e in events if isinstance(e, CasePatientIdentified))
    rest = [e for e in events if e is not identified]
    assert isinstance(rest[0], CaseOpened)
    case = identified.case_id

    early = domain.hold_back(rest, released=[], patient_known=set())
    assert early.ready == [] and early.park == [e for e in rest if domain.draft_for(e)]
    # CaseOpened names the patient by subject id only: it releases nothing.
    assert domain.to_release(rest) == []

    assert domain.to_release([identified]) == [case]
    later = domain.hold_back([identified], released=early.park, patient_known={case})
    assert [d.source_event_id for d in later.ready] == [e.event_id for e in early.park]
    assert later.park == []

    # The patient is known: entries are chained at once, in arrival order.
    known = domain.hold_back(rest, released=[], patient_known={case})
    assert [d.source_event_id for d in known.ready] == [e.event_id for e in early.park]


@pytest.mark.integration
async def test_the_migrated_schema_is_the_one_the_adapters_describe(journal_db: Database) -> None:
    """The migrations never read the adapters' tables, so nothing keeps them in step but this."""
    ours = set(adapters.schema.tables)

    def journal_tables(obj: Any, name: Any, kind: str, reflected: bool, compare_to: Any) -> bool:
        # The kit's tables (events, inbox) are the kit's to describe.
        table = name if kind == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in ours

    def differences(sync_conn: Any, metadata: MetaData) -> list[Any]:
        context = MigrationContext.configure(
            sync_conn, opts={"include_object": journal_tables, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    # The comparison sees a difference where there is one...
    drifted = MetaData()
    for table in adapters.schema.tables.values():
        table.to_metadata(drifted)
    drifted.tables["journal_parked"].append_column(Column("drifted", Integer))
    async with journal_db.engine.connect() as conn:
        assert [d[0] for d in await conn.run_sync(differences, drifted)] == ["add_column"]
        # ...and none between the migrated schema and the adapters' tables.
        assert await conn.run_sync(differences, adapters.schema) == []


@pytest.mark.integration
async def test_decided_events_take_their_time_and_id_from_the_injected_clock(
    journal_db: Database, tmp_path: Path
) -> None:
    at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    clock = FixedClock(at, seed="journal-architecture")
    expected_ids = FixedClock(at, seed="journal-architecture")
    events = case_events(messages=1, video=False)
    case = events[0].case_id
    async with journal_db.transaction() as conn:
        await service.record(conn, events)
        entry = (await adapters.entries(conn, case))[-1]
    patient = Principal(subject_id=events[0].actor.id, role="patient", region="Uppsala")
    nurse = Principal(
        subject_id="SE-nurse",
        role="staff",
        region="Uppsala",
        name="Nina Sjöberg",
        title="nurse",
        care_unit="1177 direkt",
    )

    _, given = await service.give_consent(journal_db, clock, patient, case, "Västmanland")
    corrected = await service.correct(
        journal_db, clock, nurse, case, entry["source_event_id"], "typo", "rätt text"
    )
    cp = await service.checkpoint(journal_db, clock, signing_key(DEV_SIGNING_KEY))

    assert [e.event_id for e in (*given, corrected)] == [
        expected_ids.new_id(),
        expected_ids.new_id(),
    ]
    assert {e.occurred_at for e in (*given, corrected)} == {at}
    assert cp is not None and cp.created_at == at
    async with journal_db.transaction() as conn:
        (published,) = await eventstore.load(conn, adapters.CHECKPOINT_STREAM)
    assert published.event.event_id == natural_id("journal-checkpoint", cp.checkpoint_hash)
    assert published.event.occurred_at == at
