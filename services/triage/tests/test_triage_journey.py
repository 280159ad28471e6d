"""The care journey before and around triage, over HTTP on a real PostgreSQL: a patient
may choose another region where its service allows it; every patient-facing text comes in
the language the patient asks for (``Accept-Language``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
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
from careflow.triage.messages import MESSAGES
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


async def test_accept_language_ar_gives_arabic_through_the_http_api(client) -> None:  # type: ignore[no-untyped-def]
    http, _ = client
    arabic = {"Accept-Language": "ar, en;q=0.5"}
    listed = await http.get("/triage/questionnaires", headers=arabic)
    titles = {q["id"]: q["title"] for q in listed.json()}
    assert titles["fever"] == "الحمى" and titles["cough"] == "السعال"
    # An explicit language still wins over the header.
    explicit = await http.get("/triage/questionnaires?language=fi", headers=arabic)
    assert {q["id"]: q["title"] for q in explicit.json()}["fever"] == "Kuume"

    who = token()
    opened = await http.post(
        "/triage/cases", headers=who | arabic, json={"questionnaire_id": "fever"}
    )
    assert opened.status_code == 201, opened.text
    step = opened.json()["step"]
    assert step["question"]["text"].startswith("هل تجد صعوبة شديدة في التنفس")
    case_id = opened.json()["case_id"]

    # A wrong answer is refused in Arabic, title and detail, saying which language it is in.
    wrong = await http.post(
        f"/triage/cases/{case_id}/triage/answers",
        headers=who | arabic,
        json={"question_id": "breathing", "value": "maybe"},
    )
    assert wrong.status_code == 422
    assert wrong.headers["content-language"] == "ar"
    assert wrong.json()["detail"] == "أجب بنعم أو لا." and wrong.json()["title"] == "هناك خطأ ما"
    answered = await http.post(
        f"/triage/cases/{case_id}/triage/answers",
        headers=who | arabic,
        json={"question_id": "breathing", "value": False},
    )
    assert answered.json()["question"]["text"].startswith("هل لديك بقع صغيرة")


async def test_refusals_come_in_the_patients_language(client) -> None:  # type: ignore[no-untyped-def]
    http, _ = client
    baby = token(age=0)
    for language, expected in [
        ("ar", "هذه الخدمة ليست للأطفال دون سن السنة. اتصل بالرقم 1177."),
        ("so", "Adeegani looma talagalin carruurta ka yar hal sano. Wac 1177."),
        ("fa", MESSAGES["under_one"]["fa"]),
        ("fi-FI", "Tämä palvelu ei ole alle vuoden ikäisille lapsille. Soita 1177."),
        ("sv-SE,sv;q=0.9", "Tjänsten är inte till för barn under ett år. Ring 1177."),
    ]:
        r = await http.post("/triage/cases", headers=baby | {"Accept-Language": language}, json={})
        assert r.status_code == 422 and r.json()["detail"] == expected, (language, r.text)
    # No language asked for: the reason as before.
    plain = await http.post("/triage/cases", headers=baby, json={})
    assert plain.json()["detail"] == "this service is not for children under one year; call 1177"
    refused = await http.post(
        "/triage/cases",
        headers=token() | {"Accept-Language": "fi"},
        json={"region": "Gotland"},
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "Gotland ottaa vastaan vain siellä asuvia potilaita. Hakeudu hoitoon alueella Uppsala."
    )
    assert refused.json()["title"] == "Ei sallittu"
