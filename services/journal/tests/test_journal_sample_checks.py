"""An auditor searches the access log and runs a monthly sample check, on real PostgreSQL
(migrated to the newest revision) through the journal's HTTP API: search by patient,
reader, care unit and period; the seeded sample as CSV, the same twice; a conclusion
recorded with who and when, shown in the report, and never changed afterwards."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from careflow.journal import adapters, http, service
from careflow.journal.adapters.tables import journal_patients
from careflow.journal.checkpoints import signing_key
from careflow.journal.domain import public_key_hex
from careflow.journal.samples import case_events
from careflow.journal.settings import DEV_SIGNING_KEY
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database

pytestmark = [pytest.mark.journal, pytest.mark.journey, pytest.mark.integration]

SECRET = "journal-sample-test-secret-of-at-least-32-bytes"
HOME = "Uppsala"  # the samples' cases are opened, and written, in Uppsala
UNIT = "1177 direkt"  # the care unit that handled the samples' cases
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _headers(principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, principal)}"}


def staff(who: str) -> dict[str, str]:
    return _headers(
        Principal(
            subject_id=who,
            role="staff",
            region=HOME,
            name="Stina Staff",
            title="doctor",
            care_unit=UNIT,
        )
    )


AUDITOR = _headers(
    Principal(
        subject_id="SE-auditor",
        role="auditor",
        region=HOME,
        name="Astrid Granskare",
        title="auditor",
        care_unit="Granskning",
    )
)


@pytest.fixture
async def client(journal_db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """The journal's API over one recorded case; its id and its patient's number."""
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    key = public_key_hex(signing_key(DEV_SIGNING_KEY))
    app.include_router(http.router(journal_db, SystemClock(), key), prefix="/journal")
    events = case_events(messages=2)
    async with journal_db.transaction() as conn:
        await service.record(conn, events)
        assert await adapters.entries(conn, events[0].case_id)
        pin = await conn.scalar(
            select(journal_patients.c.personal_identity_number).where(
                journal_patients.c.case_id == events[0].case_id
            )
        )
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journal")
    try:
        yield c, str(events[0].case_id), str(pin)
    finally:
        await c.aclose()


async def test_an_auditor_searches_the_access_log_and_checks_a_monthly_sample(
    client: tuple[httpx.AsyncClient, str, str], journal_db: Database
) -> None:
    c, case_id, pin = client
    # Two doctors of the care unit read the case: six reads, each one logged.
    for who in ("SE-nina", "SE-nina", "SE-nina", "SE-nina", "SE-olle", "SE-olle"):
        read = await c.get(f"/journal/cases/{case_id}/entries", headers=staff(who))
        assert read.status_code == 200, read.text

    async def search(**params: str) -> list[dict[str, object]]:
        found = await c.get("/journal/audit/accesses", headers=AUDITOR, params=params)
        assert found.status_code == 200, found.text
        rows: list[dict[str, object]] = found.json()
        return rows

    by_reader = await search(reader="SE-nina")
    assert len(by_reader) == 4 and {r["reader_id"] for r in by_reader} == {"SE-nina"}
    assert len(await search(reader="Stina")) >= 6  # part of the name
    by_unit = await search(care_unit=UNIT)
    assert {r["reader_id"] for r in by_unit} == {"SE-nina", "SE-olle"} and len(by_unit) == 6
    assert len(await search(personal_identity_number=pin, reader="SE-olle")) == 2
    today = datetime.now(STOCKHOLM).date()
    assert len(await search(care_unit=UNIT, since=str(today), until=str(today))) == 6
    assert await search(care_unit=UNIT, since=str(today + timedelta(days=1))) == []
    # Only auditors search, with at least one criterion.
    assert (
        await c.get("/journal/audit/accesses", headers=staff("SE-nina"), params={"reader": "x"})
    ).status_code == 403
    assert (await c.get("/journal/audit/accesses", headers=AUDITOR)).status_code == 422

    # The month's sample for the care unit: seeded, the same twice, CSV.
    month = today.strftime("%Y-%m")
    wanted = {"care_unit": UNIT, "month": month, "seed": "nov-check-1", "size": "3"}

    async def report() -> list[dict[str, str]]:
        got = await c.get("/journal/audit/samples", headers=AUDITOR, params=wanted)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(got.text)))

    first = await report()
    assert len(first) == 3 and all(r["conclusion"] == "" for r in first)
    assert {r["care_unit"] for r in first} == {UNIT}
    unit_ids = {str(r["id"]) for r in by_unit}
    assert {r["access_id"] for r in first} <= unit_ids
    assert [r["access_id"] for r in await report()] == [r["access_id"] for r in first]
    refused = await c.get("/journal/audit/samples", headers=staff("SE-nina"), params=wanted)
    assert refused.status_code == 403

    # The reviewer's conclusion on one sampled read: recorded with who and when, in the CSV.
    chosen = int(first[0]["access_id"])
    body = {**wanted, "size": 3, "access_id": chosen, "conclusion": "Vårdrelation finns."}
    recorded = await c.post("/journal/audit/samples/conclusions", headers=AUDITOR, json=body)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["reviewer_id"] == "SE-auditor" and recorded.json()["recorded_at"]
    shown = {r["access_id"]: r for r in await report()}
    assert shown[str(chosen)]["conclusion"] == "Vårdrelation finns."
    assert shown[str(chosen)]["concluded_by"] == "SE-auditor"
    outside = sorted(unit_ids - {r["access_id"] for r in first})[0]
    missing = await c.post(
        "/journal/audit/samples/conclusions",
        headers=AUDITOR,
        json={**body, "access_id": int(outside)},
    )
    assert missing.status_code == 404

    # Append-only: the database refuses to change a recorded conclusion.
    with pytest.raises(DBAPIError):
        async with journal_db.transaction() as conn:
            await conn.execute(text("UPDATE journal_sample_conclusions SET conclusion = 'x'"))
