"""Attacks on the journal (issue 13), each through its real interface on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from careflow.contracts import Actor, ActorRole, MessageSent, Professional, SenderRole
from careflow.journal import adapters, http, service
from careflow.journal.samples import NURSE, case_events
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database

pytestmark = [pytest.mark.journal, pytest.mark.security, pytest.mark.integration]

SECRET = "journal-security-test-secret-of-at-least-32-bytes"
HOME = "Uppsala"  # the samples' cases are opened in Uppsala and handled by NURSE's unit
REASON = "unconscious patient at the emergency unit"
#: A second care unit of the same region that also wrote in the case (a consultant).
CONSULTANT = Professional(
    staff_id="SE2321000131-E0077", name="Karl Konsult", title="doctor", care_unit="VC Luthagen"
)


def token(
    who: str,
    *,
    role: str = "staff",
    region: str = HOME,
    title: str = "doctor",
    care_unit: str | None = "Akutmottagningen Uppsala",
) -> dict[str, str]:
    principal = Principal(
        subject_id=who, role=role, region=region, name="A Reader", title=title, care_unit=care_unit
    )  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issue_token(SECRET, principal)}"}


@dataclass
class Case:
    client: httpx.AsyncClient
    case_id: uuid.UUID
    patient_id: str
    entries: int

    async def read(self, headers: dict[str, str], **params: str) -> tuple[int, list[dict], int]:  # type: ignore[type-arg]
        r = await self.client.get(
            f"/journal/cases/{self.case_id}/entries", headers=headers, params=params
        )
        body = r.json() if r.status_code == 200 else []
        return r.status_code, body, int(r.headers.get(http.WITHHELD_HEADER, "-1"))

    async def get(self, tail: str, headers: dict[str, str], **params: str) -> httpx.Response:
        return await self.client.get(
            f"/journal/cases/{self.case_id}{tail}", headers=headers, params=params
        )


@pytest.fixture
async def case(journal_db: Database) -> AsyncIterator[Case]:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    app.include_router(http.router(journal_db, SystemClock()), prefix="/journal")
    events = case_events(messages=3)
    consulted = MessageSent(
        case_id=events[0].case_id,
        occurred_at=events[-1].occurred_at + timedelta(seconds=1),
        producer="chat",
        correlation_id=events[0].case_id,
        actor=Actor(id=CONSULTANT.staff_id, role=ActorRole.STAFF),
        message_id=uuid.uuid4(),
        sequence=99,
        sender_role=SenderRole.STAFF,
        sender_id=CONSULTANT.staff_id,
        professional=CONSULTANT,
        text="konsultens bedömning",
    )
    async with journal_db.transaction() as conn:
        await service.record(conn, [*events, consulted])
        count = len(await adapters.entries(conn, events[0].case_id))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://journal")
    try:
        yield Case(client, events[0].case_id, events[0].actor.id, count)
    finally:
        await client.aclose()


async def test_finding_4_journal_reads_need_a_care_relation_and_emergency_access_is_limited(
    case: Case,
) -> None:
    c = case
    n = c.entries

    # Staff of the case's region whose unit never handled the case read nothing ...
    stranger = token("SE-stranger", title="nurse")
    assert await c.read(stranger) == (200, [], n)
    for whole in ("/timeline", "/verify", "/fhir"):
        assert (await c.get(whole, stranger)).status_code == 404, whole
    # ... nor correct anything.
    first = (await c.read(token("SE-unit", care_unit=NURSE.care_unit)))[1][0]
    corrected = await c.client.post(
        f"/journal/cases/{c.case_id}/entries/{first['source_event_id']}/corrections",
        headers=stranger,
        json={"reason": "r", "correction": "c"},
    )
    assert corrected.status_code == 404

    # The case's care unit and the case's professional (by staff id) read it.
    assert len((await c.read(token("SE-unit", care_unit=NURSE.care_unit)))[1]) == n
    assert len((await c.read(token(NURSE.staff_id, care_unit="Elsewhere")))[1]) == n

    # Emergency access: licensed clinicians of the case's own region only, reason stated.
    status, shown, _ = await c.read(stranger, emergency="true", purpose=REASON)
    assert (status, len(shown)) == (200, n)
    for refused in (
        token("SE-admin", title="administrator"),
        token("SE-auditor", role="auditor", title="auditor", care_unit=None),
        token("SE-other-region", region="Gotland"),
    ):
        assert (await c.read(refused, emergency="true", purpose=REASON))[0] == 403
        timeline = await c.get("/timeline", refused, emergency="true", purpose=REASON)
        assert timeline.status_code == 403

    # Auditors read their own region's record, every read logged; not another region's.
    auditor = token("SE-auditor", role="auditor", title="auditor", care_unit=None)
    assert len((await c.read(auditor))[1]) == n
    assert await c.read(token("SE-aud-gotland", role="auditor", region="Gotland")) == (200, [], n)

    # A block holds between care units inside the region, in an emergency too.
    patient = {
        "Authorization": "Bearer "
        + issue_token(SECRET, Principal(subject_id=c.patient_id, role="patient", region=HOME))
    }
    assert (await c.client.put(f"/journal/cases/{c.case_id}/block", headers=patient)).json()[
        "blocked"
    ]
    unit = await c.read(token("SE-unit", care_unit=NURSE.care_unit))
    assert (len(unit[1]), unit[2]) == (n - 1, 1)
    assert all(e["care_unit"] != CONSULTANT.care_unit for e in unit[1])
    consultant = await c.read(token(CONSULTANT.staff_id, care_unit=CONSULTANT.care_unit))
    # (entries no unit wrote, such as the patient's own, stay with every unit of the case)
    assert {e["care_unit"] for e in consultant[1]} == {CONSULTANT.care_unit, None}
    assert (await c.read(stranger, emergency="true", purpose=REASON))[1:] == ([], n)
    whole = await c.get("/timeline", token("SE-unit", care_unit=NURSE.care_unit))
    assert whole.status_code == 404
    assert len((await c.read(auditor))[1]) == n

    # Every read, on its ground, is in the patient's extract; refused ones read nothing.
    extract = (await c.client.get("/journal/me/access-log", headers=patient)).json()
    grounds = {(a["reader_id"], a["basis"], a["emergency"]) for a in extract}
    assert ("SE-stranger", "withheld", False) in grounds
    assert ("SE-stranger", "emergency", True) in grounds
    assert ("SE-auditor", "audit", False) in grounds
    assert not any(a["reader_id"] in ("SE-admin", "SE-other-region") for a in extract)
