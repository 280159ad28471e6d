"""schemathesis against all six services' OpenAPI documents, as a patient, a nurse and an auditor.

The services run as real processes on real PostgreSQL and Kafka. For every operation of every
document, schemathesis generates valid and invalid requests (a fixed seed and a few examples
each, so a run takes minutes and fails the same way twice) and holds each answer to the
document: no 5xx, the status is documented, the body matches the documented schema and the
content type is the documented one. Half of the requests naming a case name a real one,
triaged and claimed by the nurse (and a real questionnaire), so reads and commands reach data,
not only 404s. Nothing is excluded: no operation sends SMS or e-mail here (the platform runs
without notify's channels), and the chat WebSocket is not in the OpenAPI documents.
"""

from __future__ import annotations

import copy
import importlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from careflow.cli.flow import reach_turn
from careflow.cli.platform import SERVICES, Platform

pytestmark = [pytest.mark.security, pytest.mark.e2e]

ROLES = ("patient", "nurse", "auditor")
AUDITOR_PIN = "196604208576"  # the seeded auditor of Västmanland (identity/seed/staff.json)
EXAMPLES_PER_OPERATION = 5
SEED = 13
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]


@dataclass(frozen=True)
class Session:
    """Who calls: one bearer token per role, and a case the patient opened and the nurse claimed."""

    tokens: dict[str, str]
    case_id: str


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    with Platform.running(
        service_ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(tmp_path_factory.mktemp("fuzz-logs")),
    ) as running:
        yield running


def _staff_login(identity: str, pin: str) -> str:
    # The test e-ID app, as staff log in: one browser session holds the login cookie.
    with httpx.Client(base_url=identity, timeout=10.0) as browser:
        order = browser.post("/identity/eid/orders", json={"realm": "staff"}).json()
        browser.post(
            f"/identity/eid/test-app/{order['order_ref']}/approve",
            json={"personal_identity_number": pin},
        ).raise_for_status()
        login = browser.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()
    token: str = login["login"]["access_token"]
    return token


@pytest.fixture(scope="module")
def session(platform: Platform) -> Session:
    turn = reach_turn(platform.url)
    turn.http.close()
    auditor = _staff_login(platform.url("identity"), AUDITOR_PIN)
    return Session({"patient": turn.patient, "nurse": turn.nurse, "auditor": auditor}, turn.case_id)


def _document(service: str) -> dict[str, Any]:
    _, app = importlib.import_module(f"careflow.{service}.app").build()
    doc: dict[str, Any] = app.openapi()
    return doc


# The documents are built in-process so pytest can collect one test per operation; the test
# below checks they are the documents the running services serve.
DOCUMENTS = {service: _document(service) for service in SERVICES}
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES_PER_OPERATION},
        # The coverage phase's boundary values are unbounded in number: explicit examples and
        # fuzzing keep the run to a few minutes.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
_turns = itertools.count()
# The probes at the root run the same handlers as the prefixed ones, which are fuzzed.
ROOT_PROBES = r"^/(healthz|readyz|metrics)$"


def test_the_fuzzed_documents_are_the_ones_served(platform: Platform) -> None:
    for service, document in DOCUMENTS.items():
        served = httpx.get(f"{platform.url(service)}/{service}/openapi.json").json()
        assert served == document, service


@pytest.mark.parametrize("role", ROLES)
@schemathesis.pytest.parametrize(
    **{
        s: schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENTS[s]), config=CONFIG).exclude(
            path_regex=ROOT_PROBES
        )
        for s in SERVICES
    }
)
def test_every_operation_answers_as_documented(
    case: Any, role: str, platform: Platform, session: Session
) -> None:
    service = _service_of(case)
    known = {"case_id": session.case_id, "questionnaire_id": "fever"}
    named = [name for name in known if name in case.path_parameters]
    if named and next(_turns) % 2:
        case.path_parameters.update({name: known[name] for name in named})
    case.call_and_validate(
        base_url=platform.url(service),
        headers={"Authorization": f"Bearer {session.tokens[role]}"},
        checks=CHECKS,
    )


def _service_of(case: Any) -> str:
    title = case.operation.schema.raw_schema["info"]["title"]
    return next(s for s in SERVICES if DOCUMENTS[s]["info"]["title"] == title)
