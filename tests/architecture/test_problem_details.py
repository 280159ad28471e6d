"""Every error answer is RFC 9457 problem details, whatever went wrong and wherever.

Drives real service apps in-process over ASGI. The "database away" case points
the service at a PostgreSQL port nothing listens on: a real refused connection,
not a stand-in.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from careflow.kit.auth import Principal, issue_token
from careflow.kit.settings import DEV_TOKEN_SECRET
from careflow.queue import app as queue_app
from careflow.queue.settings import QueueSettings
from careflow.triage import app as triage_app
from careflow.triage.settings import TriageSettings

pytestmark = [pytest.mark.architecture, pytest.mark.integration]

PATIENT = Principal(
    subject_id="p-problem",
    role="patient",
    region="Uppsala",
    age_years=36,
    sex="female",
)
STAFF = Principal(subject_id="s-problem", role="staff", region="Uppsala", care_unit="u1")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bearer(who: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(DEV_TOKEN_SECRET, who)}"}


@pytest.fixture
async def triage() -> AsyncIterator[httpx.AsyncClient]:
    # No lifespan: these answers need neither Kafka nor the database.
    _, app = triage_app.build(TriageSettings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://triage"
    ) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


async def test_a_missing_token_is_a_problem_with_the_bearer_challenge(
    triage: httpx.AsyncClient,
) -> None:
    response = await triage.post("/triage/cases", json={})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_role_is_a_problem(triage: httpx.AsyncClient) -> None:
    assert_problem(await triage.post("/triage/cases", json={}, headers=_bearer(STAFF)), 403)


async def test_validation_errors_name_each_field(triage: httpx.AsyncClient) -> None:
    response = await triage.post(
        "/triage/cases/not-a-uuid/triage", json={"language": 7}, headers=_bearer(PATIENT)
    )
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}
    assert "path.case_id" in fields
    assert all({"field", "message", "type"} <= set(e) for e in body["errors"])


async def test_a_body_that_is_not_json_or_not_utf8_gets_the_same_problem(
    triage: httpx.AsyncClient,
) -> None:
    headers = {**_bearer(PATIENT), "content-type": "application/json"}
    not_json = await triage.post("/triage/cases", content=b"{not json", headers=headers)
    not_utf8 = await triage.post("/triage/cases", content=b'{"a": "\xff\xfe"}', headers=headers)
    first = assert_problem(not_json, 400)
    second = assert_problem(not_utf8, 400)
    assert first["type"] == second["type"] == "urn:careflow:problem:malformed-body"


async def test_a_database_that_is_away_gives_503_with_retry_after() -> None:
    away = f"postgresql+asyncpg://careflow:careflow@127.0.0.1:{_closed_port()}/careflow"
    _, app = queue_app.build(QueueSettings(database_url=away))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://queue"
    ) as client:
        response = await client.get("/queue/queues", headers=_bearer(STAFF))
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


async def test_openapi_documents_problems_not_fastapis_validation_shape(
    triage: httpx.AsyncClient,
) -> None:
    document = (await triage.get("/triage/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas and "HTTPValidationError" not in schemas
    operation = document["paths"]["/triage/cases/{case_id}/triage"]["post"]
    for status in ("401", "403", "422", "400", "503"):
        content = operation["responses"][status]["content"]
        assert content["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
