"""Notify keeps the one shape of a service (issue 12): pure, repeatable rules, time and ids
from the injected clock, frozen migrations, every problem status documented."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notify_testkit import turn_reached

from careflow.kit.clock import natural_id
from careflow.kit.problems import documented_statuses
from careflow.notify import domain
from careflow.notify.app import build
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.unit, pytest.mark.architecture]

PACKAGE = Path(domain.__file__).parent
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

#: Reading the time or drawing an id; only the injected Clock may (entry points pass it on).
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}
ID_DRAWS = {"uuid1", "uuid4"}


def _calls(path: Path) -> set[str]:
    """Every ``a.b(...)`` and ``f(...)`` a module calls, as written."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            found.add(f"{func.value.id}.{func.attr}")
        elif isinstance(func, ast.Attribute):
            found.add(func.attr)
        elif isinstance(func, ast.Name):
            found.add(func.id)
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_no_module_reads_the_clock_or_draws_ids_itself(module: str) -> None:
    calls = _calls(PACKAGE / module)
    reads = {c for c in calls if tuple(c.split(".")) in CLOCK_READS}
    draws = {c for c in calls if c.split(".")[-1] in ID_DRAWS}
    assert not reads and not draws, f"{module} reads {reads} / draws {draws}: use the Clock"


def test_the_domain_imports_neither_randomness_nor_the_clock() -> None:
    tree = ast.parse((PACKAGE / "domain.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert not imported & {"random", "time", "secrets", "os"}


def test_deciding_a_turn_twice_decides_the_same_notification() -> None:
    turn = turn_reached(uuid.uuid4())
    first = domain.decide_your_turn(domain.CaseNotifications(), turn, NOW)
    again = domain.decide_your_turn(domain.CaseNotifications(), turn, NOW)
    assert first == again and len(first) == 1
    [told] = first
    assert told.occurred_at == NOW
    assert told.notification_id == domain.notification_id(turn.event_id, "your_turn")  # type: ignore[attr-defined]
    assert told.event_id == natural_id("notify", "PatientNotified", str(told.notification_id))  # type: ignore[attr-defined]


def test_a_deliverys_outcome_is_decided_once_with_the_same_event() -> None:
    [planned] = domain.plan_deliveries(
        turn_reached(uuid.uuid4()),
        "your_turn",
        "sub_1",
        domain.ContactPreferences(channels=frozenset({"sms"}), phone="+46701234567"),
        None,
        NOW,
        timedelta(minutes=15),
    )
    open_ = domain.DeliveryOutcome()
    first = domain.decide_outcome(open_, planned, "sent", 1, "accepted", NOW)
    assert first == domain.decide_outcome(open_, planned, "sent", 1, "accepted", NOW)
    [sent] = first
    assert sent.event_id == natural_id("notify", "delivery-outcome", str(planned.delivery_id))
    closed = domain.evolve_delivery(open_, sent)
    assert domain.decide_outcome(closed, planned, "sent", 1, "accepted", NOW) == []


@pytest.mark.parametrize(
    "migration", sorted(p.name for p in (PACKAGE / "migrations" / "versions").glob("0*.py"))
)
def test_migrations_are_frozen(migration: str) -> None:
    """A migration creates what it created the day it was written: no live table metadata."""
    tree = ast.parse((PACKAGE / "migrations" / "versions" / migration).read_text())
    modules = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not {m for m in modules if m.startswith("careflow.notify")}
    assert "create_all" not in _calls(PACKAGE / "migrations" / "versions" / migration)


def test_every_route_documents_its_problem_statuses() -> None:
    _, app = build(NotifySettings())
    documented = documented_statuses(app)
    expected = {
        ("GET", "/notify/cases/{case_id}/notifications"): {401, 404, 422, 503},
        ("GET", "/notify/cases/{case_id}/deliveries"): {401, 404, 422, 503},
        ("POST", "/notify/cases/{case_id}/notifications/{notification_id}/seen"): {
            401,
            403,
            404,
            422,
            503,
        },
        ("GET", "/notify/preferences"): {401, 403, 503},
        ("PUT", "/notify/preferences"): {400, 401, 403, 422, 503},
        ("GET", "/notify/push/public-key"): {401, 403, 404},
    }
    for route, statuses in expected.items():
        assert statuses <= documented[route], route
    ours = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "notify" in operation.get("tags", ())
    }
    assert ours == set(expected), "a notify route without its documented statuses here"
