"""Triage has the one shape of a service: pure rules fed the time and ids, a questionnaire
format with a schema, and an API document that says what an answer is and what can go wrong."""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from careflow.contracts import Event, TriageCompleted
from careflow.kit.clock import FixedClock
from careflow.kit.db import Database
from careflow.kit.problems import implied_statuses
from careflow.triage import app as triage_app
from careflow.triage import domain, http, service
from careflow.triage.lint import lint_directory
from careflow.triage.questionnaire import (
    DEFAULT_DIRECTORY,
    QuestionnaireError,
    catalogue_of,
    parse,
    questionnaire_files,
)
from careflow.triage.questionnaire.model import patient_context
from careflow.triage.questionnaire.schema import SCHEMA_PATH, schema_text
from careflow.triage.settings import TriageSettings

pytestmark = [pytest.mark.triage, pytest.mark.unit, pytest.mark.architecture]

SOURCE = Path(domain.__file__).parent
#: The rules: no I/O, no clock, no random ids; they may import only each other.
PURE = (
    "domain.py",
    "questionnaire/model.py",
    "questionnaire/engine.py",
    "questionnaire/paths.py",
    "questionnaire/catalogue.py",
    "questionnaire/document.py",
    "messages.py",
    "regions.py",
)
IO_LIBRARIES = {
    "aiokafka",
    "asyncpg",
    "fastapi",
    "faststream",
    "httpx",
    "os",
    "pathlib",
    "socket",
    "sqlalchemy",
    "starlette",
    "time",
    "yaml",
}
#: What a pure module may import of careflow beyond the other pure modules.
PURE_CAREFLOW = {"careflow.contracts", "careflow.kit.domain", "careflow.kit.clock"}
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ADULT = patient_context("199001012385", NOW.date())  # what a token tells triage
Q = {q.id: q for q in lint_directory()[0]}


def module_name(path: str) -> str:
    return "careflow.triage." + path.removesuffix(".py").replace("/", ".")


def imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def clock_reads(tree: ast.AST) -> list[str]:
    """Every place that reads the clock or draws a random id itself."""
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in {
                ("datetime", "now"),
                ("datetime", "utcnow"),
                ("date", "today"),
                ("time", "time"),
                ("time", "monotonic"),
                ("uuid", "uuid4"),
            }:
                reads.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        elif isinstance(node, ast.Name) and node.id == "uuid4":
            reads.append(f"uuid4 (line {node.lineno})")
    return reads


def test_the_rules_do_no_io_and_import_only_pure_modules() -> None:
    pure = {module_name(p) for p in PURE}
    for path in PURE:
        found = imports(ast.parse((SOURCE / path).read_text()))
        io = {m for m in found if m.split(".")[0] in IO_LIBRARIES}
        assert not io, f"{path} imports {sorted(io)}"
        ours = {m for m in found if m.startswith("careflow.")}
        impure = {
            m
            for m in ours
            if m not in pure and not any(m == p or m.startswith(p + ".") for p in PURE_CAREFLOW)
        }
        assert not impure, f"{path} imports {sorted(impure)}"


def test_no_triage_module_reads_the_clock_or_draws_ids_itself() -> None:
    """Only the injected Clock tells the time and draws ids (``service`` asks it)."""
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        reads = clock_reads(ast.parse(path.read_text()))
        assert not reads, f"{path.relative_to(SOURCE)}: {reads}"


# --- the stored state and deterministic decisions -------------------------------------------


def a_triaged_case(clock: FixedClock) -> tuple[domain.CaseTriage, list[Event]]:
    """A case opened, started and answered to the end, every id from ``clock``."""
    patient = domain.Patient("p-1", ADULT, "Uppsala")
    state, decided = domain.CaseTriage(), []

    def apply(events: list[Event]) -> None:
        nonlocal state
        decided.extend(events)
        for e in events:
            state = domain.evolve(state, e)

    apply(domain.decide_open(state, clock.new_id(), patient, clock.now()))
    apply(
        domain.decide_start(
            state, Q["fever"], "sv", "p-1", clock.now(), patient=ADULT, new_id=clock.new_id
        )
    )
    answers: dict[str, Any] = {
        "breathing": False,
        "spots": False,
        "temperature": 38.5,
        "days": 1,
        "symptoms": ["cough", "ear_pain"],
    }
    while state.status is domain.Status.IN_PROGRESS:
        assert state.session is not None and state.session.current is not None
        current = state.session.current
        apply(
            domain.decide_answer(
                state,
                Q["fever"],
                current,
                answers[current],
                "p-1",
                clock.now(),
                new_id=clock.new_id,
            )
        )
    return state, decided


def test_the_same_command_at_the_same_instant_decides_the_same_events() -> None:
    _, first = a_triaged_case(FixedClock(NOW, "same"))
    _, again = a_triaged_case(FixedClock(NOW, "same"))
    _, other = a_triaged_case(FixedClock(NOW, "other"))
    assert first == again
    assert {e.event_id for e in first}.isdisjoint(e.event_id for e in other)
    # Events with a natural key get their id from it.
    opened, done = first[0], first[-1]
    assert opened.event_id == domain.opened_id(opened.case_id)
    assert isinstance(done, TriageCompleted)
    assert done.event_id == domain.completed_id(done.case_id, done.revision)


def test_the_case_state_round_trips_through_its_stored_form() -> None:
    """The state ``aggregate_states`` keeps (pydantic JSON) comes back exactly, types too."""
    adapter = TypeAdapter(domain.CaseTriage)
    state, _ = a_triaged_case(FixedClock(NOW))
    # A re-triage in progress, so both a session and a completion are stored.
    state = domain.evolve(
        state, domain.decide_start(state, Q["cough"], "en", "p-1", NOW, patient=ADULT)[0]
    )
    stored = json.loads(adapter.dump_json(state))
    back = adapter.validate_python(stored)
    assert back == state
    assert back.completion is not None and state.completion is not None
    assert back.completion.urgency is state.completion.urgency
    _, first_answers = a_triaged_case(FixedClock(NOW))
    answered = [e.answer.value for e in first_answers if hasattr(e, "answer")]
    assert [type(v) for v in answered] == [bool, bool, float, int, list]
    assert back.session is not None
    assert [type(v) for _, v in back.session.answers] == [
        type(v)
        for _, v in state.session.answers  # type: ignore[union-attr]
    ]


# --- the questionnaire file format ------------------------------------------------------------


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_committed_questionnaire_schema_is_current() -> None:
    assert SCHEMA_PATH.parent == DEFAULT_DIRECTORY
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "stale: run python -m careflow.triage.questionnaire.schema"
    )


@pytest.mark.parametrize("path", questionnaire_files(), ids=lambda p: p.name)
def test_every_shipped_questionnaire_validates_against_the_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def _yes_no_with_options(d: dict[str, Any]) -> None:
    d["questions"]["breathing"]["options"] = [{"id": "a", "text": {"sv": "a", "en": "a"}}]


def _number_without_max(d: dict[str, Any]) -> None:
    del d["questions"]["temperature"]["max"]


def _unknown_kind(d: dict[str, Any]) -> None:
    d["questions"]["spots"]["kind"] = "slider"


def _empty_condition(d: dict[str, Any]) -> None:
    d["questions"]["days"]["next"][0]["when"] = {}


def _answer_without_a_test(d: dict[str, Any]) -> None:
    d["questions"]["days"]["next"][0]["when"] = {"answer": "temperature"}


def _bad_urgency(d: dict[str, Any]) -> None:
    d["outcomes"]["self_care"]["urgency"] = "purple"


def _unknown_top_key(d: dict[str, Any]) -> None:
    d["author"] = "someone"


def _null_red_flags(d: dict[str, Any]) -> None:
    d["questions"]["breathing"]["red_flags"] = None


def _choice_without_options(d: dict[str, Any]) -> None:
    d["questions"]["symptoms"]["options"] = []


def _unknown_body_site(d: dict[str, Any]) -> None:
    d["questions"]["spots"] = {**d["questions"]["spots"], "kind": "body_site", "sites": ["tail"]}


@pytest.mark.parametrize(
    "breakage",
    [
        _yes_no_with_options,
        _number_without_max,
        _unknown_kind,
        _empty_condition,
        _answer_without_a_test,
        _bad_urgency,
        _unknown_top_key,
        _null_red_flags,
        _choice_without_options,
        _unknown_body_site,
    ],
)
def test_the_schema_and_the_reader_refuse_the_same_shapes(
    breakage: Callable[[dict[str, Any]], None], validator: jsonschema.Draft202012Validator
) -> None:
    document = yaml.safe_load((DEFAULT_DIRECTORY / "fever.yaml").read_text())
    parse(copy.deepcopy(document), "fever.yaml")
    breakage(document)
    assert list(validator.iter_errors(document)), "the schema accepts it"
    with pytest.raises(QuestionnaireError) as refused:
        parse(document, "fever.yaml")
    assert refused.value.problems, "the reader names no place"


def test_the_reader_reports_every_shape_problem_with_where_it_is() -> None:
    document = yaml.safe_load((DEFAULT_DIRECTORY / "fever.yaml").read_text())
    _number_without_max(document)
    _bad_urgency(document)
    document["questions"]["days"]["next"][0]["goto"] = ""
    with pytest.raises(QuestionnaireError) as refused:
        parse(document, "fever.yaml")
    where = [w for w, _ in refused.value.problems]
    assert where == [
        "questions.temperature.max",
        "questions.days.next[0].goto",
        "outcomes.self_care.urgency",
    ], refused.value.problems


# --- the API document -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    _, app = triage_app.build(TriageSettings(environment="test"))
    document: dict[str, Any] = app.openapi()
    return document


def test_the_answer_body_says_what_a_value_must_be(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    value = schemas["AnswerIn"]["properties"]["value"]
    shapes = {s.get("type"): s for s in value["anyOf"]}
    assert set(shapes) == {"boolean", "integer", "number", "string", "array"}
    assert "yes_no" in shapes["boolean"]["description"]
    assert "option id" in shapes["string"]["description"]
    assert shapes["array"]["items"] == {"type": "string"}
    assert "multiple_choice" in shapes["array"]["description"]
    question = schemas["QuestionView"]["properties"]
    assert {"kind", "answer_with", "options"} <= set(question)
    assert "option id" in question["options"]["description"]


ROUTE_PROBLEMS = {
    ("GET", "/regions"): {503},
    ("GET", "/questionnaires"): {422, 503},
    ("GET", "/questionnaires/{questionnaire_id}"): {404, 422, 503},
    ("POST", "/cases"): {400, 401, 403, 404, 422, 503},
    ("POST", "/cases/{case_id}/triage"): {400, 401, 403, 404, 409, 422, 503},
    ("GET", "/cases/{case_id}/triage"): {401, 403, 404, 422, 503},
    ("DELETE", "/cases/{case_id}/triage"): {401, 403, 404, 409, 422, 503},
    ("POST", "/cases/{case_id}/triage/answers"): {400, 401, 403, 404, 409, 422, 503},
    ("POST", "/cases/{case_id}/triage/back"): {401, 403, 404, 409, 422, 503},
    ("GET", "/cases/{case_id}/outcome"): {401, 403, 404, 422, 503},
}


def test_every_route_declares_the_problems_it_can_answer(openapi: dict[str, Any]) -> None:
    """What a route declares (``responses=problems(...)``) plus what the kit adds for its
    token, role, inputs and database is every problem status the route can answer."""
    ctx = service.Context(
        Database("postgresql+asyncpg://nowhere/none", "triage"),
        FixedClock(NOW),
        catalogue_of(Q.values()),
    )
    answered: dict[tuple[str, str], set[int]] = {}
    for route in http.router(ctx).routes:
        assert isinstance(route, APIRoute)
        declared = {int(s) for s in route.responses if int(s) >= 400}
        for method in route.methods:
            answered[(method, route.path)] = declared | implied_statuses(route)
            documented = openapi["paths"][f"/triage{route.path}"][method.lower()]["responses"]
            for status in declared:
                assert "application/problem+json" in documented[str(status)]["content"]
    assert answered == ROUTE_PROBLEMS
