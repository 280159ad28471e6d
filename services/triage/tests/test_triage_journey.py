"""The care journey before and around triage, over HTTP on a real PostgreSQL: a patient
may choose another region where its service allows it; every patient-facing text comes in
the language the patient asks for (``Accept-Language``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from careflow.contracts import CaseOpened
from careflow.kit.auth import Principal, issue_token
from careflow.kit.eventstore import load
from careflow.kit.migrations import upgrade
from careflow.triage import adapters
from careflow.triage import app as triage_app
from careflow.triage.settings import TriageSettings

pytestmark = [pytest.mark.triage, pytest.mark.journey, pytest.mark.integration]

SECRET = "triage-journey-test-secret-of-32-bytes-at-least"
TODAY = datetime.now(UTC).date()


def token(region: str = "Uppsala", age: int = 36, subject: str | None = None) -> dict[str, str]:
    principal = Principal(
        subject_id=subject or f"p-{uuid.uuid4().hex[:8]}",
        role="patient",
        region=region,
        age_years=age,
        sex="female",
    )
    return {"Authorization": f"Bearer {issue_token(SECRET, principal)}"}


@pytest.fixture(scope="module")
async def client(infra) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:  # type: ignore[no-untyped-def]
    settings = TriageSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        db_schema=f"triage_{uuid.uuid4().hex[:10]}",
        token_secret=SECRET,
        environment="test",
    )
    await asyncio.to_thread(
        upgrade,
        Path(triage_app.__file__).with_name("migrations"),
        infra.database_url,
        settings.db_schema,
    )
    runtime, app = triage_app.build(settings)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://triage")
    yield http, runtime
    await http.aclose()
    await runtime.db.dispose()


async def opened_region(runtime: Any, case_id: str) -> str:
    async with runtime.db.transaction() as conn:
        stored = await load(conn, adapters.stream_id(uuid.UUID(case_id)))
    [opened] = [s.event for s in stored if isinstance(s.event, CaseOpened)]
    return opened.region


async def test_a_patient_may_choose_another_region_only_where_it_allows_it(client) -> None:  # type: ignore[no-untyped-def]
    http, runtime = client
    rules = (await http.get("/triage/regions")).json()  # public: no login
    by_name = {r["region"]: r["patients_from_other_regions"] for r in rules}
    assert by_name["Västmanland"] is True and by_name["Gotland"] is False and len(by_name) == 12

    # Own region by default; another that allows it (any spelling of its name).
    own = await http.post("/triage/cases", headers=token(), json={})
    assert own.status_code == 201, own.text
    assert await opened_region(runtime, own.json()["case_id"]) == "Uppsala"
    chosen = await http.post("/triage/cases", headers=token(), json={"region": "västmanland"})
    assert chosen.status_code == 201, chosen.text
    assert await opened_region(runtime, chosen.json()["case_id"]) == "Västmanland"

    # A region that serves only its own residents refuses, with a reason; no case is opened.
    refused = await http.post("/triage/cases", headers=token(), json={"region": "Gotland"})
    assert refused.status_code == 403
    assert "Gotland" in refused.json()["detail"] and "Uppsala" in refused.json()["detail"]
    # ...but takes its own residents.
    home = await http.post("/triage/cases", headers=token("Gotland"), json={"region": "Gotland"})
    assert home.status_code == 201
    unknown = await http.post("/triage/cases", headers=token(), json={"region": "Atlantis"})
    assert unknown.status_code == 422
