"""Triage over HTTP on a real PostgreSQL: every questionnaire end to end, resume, back,
re-triage, expiry, bad input and strangers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from careflow.contracts import TriageCompleted
from careflow.kit.auth import Principal, issue_token
from careflow.kit.clock import FixedClock
from careflow.kit.eventstore import aggregate_states, inbox, load
from careflow.kit.eventstore import events as event_table
from careflow.kit.eventstore import metadata as kit_metadata
from careflow.kit.migrations import upgrade
from careflow.triage import adapters, domain, service
from careflow.triage import app as triage_app
from careflow.triage.questionnaire import (
    PatientContext,
    Questionnaire,
    Sex,
    patient_context,
    walk,
)
from careflow.triage.settings import TriageSettings

pytestmark = [pytest.mark.triage, pytest.mark.integration]

SECRET = "triage-test-secret"


def pin_for(birth: date, serial: str = "238") -> str:
    """A valid 12-digit personal identity number (Luhn check digit) for ``birth``."""
    body = f"{birth:%y%m%d}{serial}"
    total = 0
    for i, digit in enumerate(body):
        n = int(digit) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return f"{birth:%Y%m%d}{serial}{(10 - total % 10) % 10}"


TODAY = datetime.now(UTC).date()
ADULT_PIN = pin_for(TODAY.replace(year=TODAY.year - 36, day=1))  # a woman (8 is even)
CHILD_PIN = pin_for(TODAY.replace(year=TODAY.year - 8, day=1))  # a girl of 8


class Triage:
    """A triage service on a fresh schema, driven in-process over ASGI."""

    def __init__(self, settings: TriageSettings) -> None:
        self.runtime, self.app = triage_app.build(settings)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://triage"
        )
        self.catalogue = triage_app.load_catalogue(settings.questionnaire_dir)

    def at(self, now: datetime, abandon_after: timedelta) -> service.Context:
        """The service's commands, run as if it were ``now``."""
        return service.Context(self.runtime.db, FixedClock(now), self.catalogue, abandon_after)

    async def call(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        return await self.http.request(
            method, f"/triage{path}", headers={"Authorization": f"Bearer {token}"}, **kw
        )


def token(pin: str, subject: str, acting_for: str | None = None) -> str:
    context = patient_context(pin, TODAY)
    principal = Principal(
        subject_id=subject,
        role="patient",
        region="Västmanland",
        acting_for=acting_for,
        # What identity tells triage of the person cared for: age and sex, not the number.
        age_years=context.age_years,
        sex=context.sex.value,
    )
    return issue_token(SECRET, principal)


@pytest.fixture(scope="module")
async def triage(infra, unique) -> AsyncIterator[Triage]:  # type: ignore[no-untyped-def]
    settings = TriageSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        db_schema=f"triage_{unique}",
        token_secret=SECRET,
        environment="test",
    )
    # Alembic runs its own event loop: off this one.
    await asyncio.to_thread(
        upgrade,
        Path(triage_app.__file__).with_name("migrations"),
        infra.database_url,
        settings.db_schema,
    )
    service = Triage(settings)
    yield service
    await service.http.aclose()
    await service.runtime.db.dispose()


@pytest.fixture(scope="module")
def unique() -> str:
    return uuid.uuid4().hex[:10]


async def answer_path(
    t: Triage, who: str, case_id: str, step: dict[str, Any], answers: dict[str, Any]
) -> dict[str, Any]:
    while step["status"] == "in_progress":
        qid = step["question"]["id"]
        r = await t.call(
            "POST",
            f"/cases/{case_id}/triage/answers",
            who,
            json={"question_id": qid, "value": answers[qid]},
        )
        assert r.status_code == 200, r.text
        step = r.json()
    return step


async def completed(t: Triage, case_id: str) -> list[TriageCompleted]:
    async with t.runtime.db.transaction() as conn:
        stored = await load(conn, adapters.stream_id(uuid.UUID(case_id)))
    return [s.event for s in stored if isinstance(s.event, TriageCompleted)]


def a_queued_path(q: Questionnaire, patient: PatientContext) -> dict[str, Any] | None:
    """Answers that lead this patient into a queue, preferring the most urgent such path."""
    queued = [p for p in walk(q, patient) if p.outcome.skill is not None]
    if not queued:
        return None
    best = min(queued, key=lambda p: p.outcome.urgency)
    return dict(best.answers)


async def test_every_complaint_and_errand_triages_into_a_queue_over_http(triage: Triage) -> None:
    adult = token(ADULT_PIN, "adult-1")
    guardian = token(CHILD_PIN, "parent-1", acting_for="child-1")
    today = TODAY
    listed = (await triage.call("GET", "/questionnaires?language=en", adult)).json()
    assert len(listed) == 13 and all(q["sample_content"] for q in listed)
    for ref in listed:
        q = triage.catalogue.get(ref["id"])
        assert q is not None
        # Children's errands (child health care) are asked by a guardian for a child.
        for who, pin in ((adult, ADULT_PIN), (guardian, CHILD_PIN)):
            answers = a_queued_path(q, patient_context(pin, today))
            if answers is None:
                continue
            r = await triage.call("POST", "/cases", who, json={"questionnaire_id": q.id})
            assert r.status_code == 201, r.text
            opened = r.json()
            step = await answer_path(triage, who, opened["case_id"], opened["step"], answers)
            assert step["status"] == "completed"
            assert step["outcome"]["target_queue"]["region"] == "Västmanland"
            [done] = await completed(triage, opened["case_id"])
            assert done.target_queue is not None and done.questionnaire_hash == q.hash
            assert [a.question_id for a in done.answers] == list(answers)
            break
        else:
            pytest.fail(f"{q.id}: no patient can be queued")


async def test_resume_back_retriage_and_outcome(triage: Triage) -> None:
    me = token(ADULT_PIN, "adult-2")
    case = (await triage.call("POST", "/cases", me)).json()["case_id"]
    step = (
        await triage.call(
            "POST",
            f"/cases/{case}/triage",
            me,
            json={"questionnaire_id": "fever", "language": "en"},
        )
    ).json()
    assert step["question"]["id"] == "breathing" and step["question"]["kind"] == "yes_no"
    assert step["question"]["text"].startswith("Are you struggling")
    for qid, value in [("breathing", False), ("spots", False)]:
        r = await triage.call(
            "POST", f"/cases/{case}/triage/answers", me, json={"question_id": qid, "value": value}
        )
        assert r.status_code == 200
    # Reconnecting: the step is read back from the event stream.
    again = (await triage.call("GET", f"/cases/{case}/triage?language=sv", me)).json()
    assert again["question"]["id"] == "temperature" and again["question"]["unit"] == "°C"
    assert [a["question_id"] for a in again["answers"]] == ["breathing", "spots"]
    assert again["can_go_back"] and again["expires_at"]
    back = (await triage.call("POST", f"/cases/{case}/triage/back", me)).json()
    assert back["question"]["id"] == "spots"
    step = await answer_path(
        triage,
        me,
        case,
        back,
        {"spots": False, "temperature": 38.2, "days": 1, "symptoms": ["cough", "ear_pain"]},
    )
    assert step["outcome"]["urgency"] == 4 and step["outcome"]["colour"] == "green"
    assert step["outcome"]["recommendation"] == "book_visit"

    # Worse while waiting: a re-triage completes as revision 2.
    r = await triage.call("POST", f"/cases/{case}/triage", me, json={"questionnaire_id": "cough"})
    assert r.status_code == 201 and r.json()["revision"] == 2
    step = await answer_path(
        triage,
        me,
        case,
        r.json(),
        {"breathing": "breathless_on_effort", "chest_pain": False, "weeks": 0},
    )
    assert step["outcome"]["revision"] == 2 and step["outcome"]["urgency"] == 3
    revisions = [e.revision for e in await completed(triage, case)]
    assert revisions == [1, 2]
    outcome = (await triage.call("GET", f"/cases/{case}/outcome", me)).json()
    assert outcome["revision"] == 2 and outcome["target_queue"]["skill"] == "nurse"


async def test_bad_input_gets_422_with_a_reason_and_strangers_404(triage: Triage) -> None:
    me = token(ADULT_PIN, "adult-3")
    stranger = token("191212121212", "stranger")
    opened = (
        await triage.call("POST", "/cases", me, json={"questionnaire_id": "eye_problems"})
    ).json()
    case = opened["case_id"]

    async def answer(who: str, qid: str, value: Any) -> httpx.Response:
        return await triage.call(
            "POST", f"/cases/{case}/triage/answers", who, json={"question_id": qid, "value": value}
        )

    for qid, value, reason in [
        ("which_eye", "nose", "unknown option 'nose'"),
        ("which_eye", 3, "one option id"),
        ("favourite_colour", "blue", "unknown question"),
    ]:
        r = await answer(me, qid, value)
        assert r.status_code == 422 and reason in r.json()["detail"], r.text
    assert (await answer(me, "injury", "none")).status_code == 409  # not the current question
    assert (await answer(stranger, "which_eye", "eye_left")).status_code == 404
    assert (await triage.call("GET", f"/cases/{case}/triage", stranger)).status_code == 404
    assert (await triage.call("POST", f"/cases/{case}/triage/back", stranger)).status_code == 404
    assert (await triage.call("GET", f"/cases/{uuid.uuid4()}/triage", me)).status_code == 404
    r = await triage.call("POST", "/cases", me, json={"questionnaire_id": "astrology"})
    assert r.status_code == 404

    fever = (await triage.call("POST", "/cases", me, json={"questionnaire_id": "fever"})).json()
    for qid, value in [("breathing", False), ("spots", False)]:
        await triage.call(
            "POST",
            f"/cases/{fever['case_id']}/triage/answers",
            me,
            json={"question_id": qid, "value": value},
        )
    r = await triage.call(
        "POST",
        f"/cases/{fever['case_id']}/triage/answers",
        me,
        json={"question_id": "temperature", "value": 47},
    )
    assert r.status_code == 422 and "from 35 to 43" in r.json()["detail"]
    r = await triage.call(
        "POST",
        f"/cases/{fever['case_id']}/triage/answers",
        me,
        json={"question_id": "temperature", "value": "hot"},
    )
    assert r.status_code == 422 and "a number" in r.json()["detail"]
    # Nothing bad was recorded: the patient is still at the temperature question.
    step = (await triage.call("GET", f"/cases/{fever['case_id']}/triage", me)).json()
    assert step["question"]["id"] == "temperature" and len(step["answers"]) == 2


async def test_an_abandoned_triage_expires(triage: Triage) -> None:
    me = token(ADULT_PIN, "adult-4")
    opened = (await triage.call("POST", "/cases", me, json={"questionnaire_id": "rash"})).json()
    case = uuid.UUID(opened["case_id"])
    ttl = timedelta(minutes=60)
    soon = datetime.now(UTC) + timedelta(minutes=5)
    assert await service.expire_abandoned(triage.at(soon, ttl)) == 0
    later = datetime.now(UTC) + ttl + timedelta(minutes=1)
    assert await service.expire_abandoned(triage.at(later, ttl)) >= 1
    async with triage.runtime.db.transaction() as conn:
        types = [
            r.event_type
            for r in await conn.execute(
                select(event_table.c.event_type)
                .where(event_table.c.case_id == case)
                .order_by(event_table.c.position)
            )
        ]
        left = await adapters.idle_since(conn, later)
    assert types == ["CaseOpened", "TriageStarted", "TriageAbandoned"]
    assert case not in left
    step = (await triage.call("GET", f"/cases/{case}/triage", me)).json()
    assert step["status"] == "abandoned" and step["question"] is None
    # Starting again works after expiry.
    r = await triage.call("POST", f"/cases/{case}/triage", me, json={"questionnaire_id": "rash"})
    assert r.status_code == 201 and r.json()["question"]["id"] == "swelling"


async def test_a_guardian_acts_for_a_child(triage: Triage) -> None:
    guardian = token(CHILD_PIN, "parent-9", acting_for="child-9")
    opened = (
        await triage.call("POST", "/cases", guardian, json={"questionnaire_id": "cough"})
    ).json()
    step = await answer_path(
        triage,
        guardian,
        opened["case_id"],
        opened["step"],
        {"breathing": "normal", "chest_pain": False, "child_barking": True},
    )
    assert step["outcome"]["urgency"] == 3
    [done] = await completed(triage, opened["case_id"])
    assert done.actor.on_behalf_of == "child-9" and "child-branch" in done.rules_fired
    assert patient_context(CHILD_PIN, TODAY) == PatientContext(8, Sex.FEMALE)


@pytest.mark.security
async def test_finding_9_a_guardian_no_longer_acting_for_the_child_cannot_answer_its_triage(
    triage: Triage,
) -> None:
    """A guardian opens a child's case while acting for the child; later, with a token that
    acts for nobody (their own) or for another child, they reach the case no more: every
    triage route answers the same 404 as for a case that does not exist."""
    acting = token(CHILD_PIN, "parent-12", acting_for="child-12")
    own = token(ADULT_PIN, "parent-12")
    for_another_child = token(CHILD_PIN, "parent-12", acting_for="child-77")
    opened = (
        await triage.call("POST", "/cases", acting, json={"questionnaire_id": "cough"})
    ).json()
    case = opened["case_id"]
    unknown = (await triage.call("GET", f"/cases/{uuid.uuid4()}/triage", acting)).json()

    def attempts(who: str) -> list[tuple[str, str, dict[str, Any] | None]]:
        return [
            ("GET", f"/cases/{case}/triage", None),
            (
                "POST",
                f"/cases/{case}/triage/answers",
                {"question_id": "breathing", "value": "normal"},
            ),
            ("POST", f"/cases/{case}/triage/back", None),
            ("DELETE", f"/cases/{case}/triage", None),
            ("POST", f"/cases/{case}/triage", {"questionnaire_id": "fever"}),
            ("GET", f"/cases/{case}/outcome", None),
        ]

    for who in (own, for_another_child):
        for method, path, body in attempts(who):
            r = await triage.call(method, path, who, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["type"] == unknown["type"] and r.json()["title"] == unknown["title"]
    # Nothing was changed by the refused calls; the acting guardian carries on.
    step = (await triage.call("GET", f"/cases/{case}/triage", acting)).json()
    assert step["status"] == "in_progress" and step["answers"] == []
    step = await answer_path(
        triage,
        acting,
        case,
        step,
        {"breathing": "normal", "chest_pain": False, "child_barking": True},
    )
    assert step["status"] == "completed"
    assert (await triage.call("GET", f"/cases/{case}/outcome", own)).status_code == 404


@pytest.mark.security
async def test_answers_with_case_data_are_marked_no_store(triage: Triage) -> None:
    """Low finding: health data must not be kept by a browser or proxy cache."""
    me = token(ADULT_PIN, "adult-no-store")
    r = await triage.call("POST", "/cases", me, json={"questionnaire_id": "fever"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    case = r.json()["case_id"]
    for method, path, body in [
        ("GET", f"/cases/{case}/triage", None),
        ("POST", f"/cases/{case}/triage/answers", {"question_id": "breathing", "value": False}),
        ("POST", f"/cases/{case}/triage/back", None),
        ("DELETE", f"/cases/{case}/triage", None),
    ]:
        r = await triage.call(method, path, me, json=body)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store", (method, path)


# --- architecture: frozen migrations, injected clock ----------------------------------------

SCHEMA_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,
               column_default, is_identity, identity_generation
        FROM information_schema.columns WHERE table_schema = :schema
        ORDER BY table_name, ordinal_position""",
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema ORDER BY c.relname, con.conname""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, :schema || '.', '')
        FROM pg_indexes WHERE schemaname = :schema ORDER BY tablename, indexname""",
}


async def described(conn: Any, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """A schema's tables, columns, constraints and indexes, without its name."""
    out = {}
    for part, query in SCHEMA_QUERIES.items():
        rows = (await conn.execute(text(query), {"schema": schema})).all()
        out[part] = [tuple(r) for r in rows if r[0] != "alembic_version"]
    return out


@pytest.mark.architecture
async def test_the_frozen_migrations_build_what_the_tables_describe(triage: Triage) -> None:
    """The migrations write their tables out (no live metadata); the result is exactly what
    the table definitions the code uses would create."""
    migrated = triage.runtime.settings.db_schema
    fresh = f"{migrated}_tables"
    engine = create_async_engine(triage.runtime.settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{fresh}"'))
            await conn.execute(text(f'SET LOCAL search_path TO "{fresh}"'))
            kit_tables = [event_table, inbox, aggregate_states]
            await conn.run_sync(lambda c: kit_metadata.create_all(c, tables=kit_tables))
            await conn.run_sync(adapters.metadata.create_all)
            expected = await described(conn, fresh)
            actual = await described(conn, migrated)
            await conn.execute(text(f'DROP SCHEMA "{fresh}" CASCADE'))
    finally:
        await engine.dispose()
    assert {r[0] for r in actual["columns"]} == {
        "events",
        "inbox",
        "open_triages",
        "case_contacts",
        "aggregate_states",
    }
    assert actual == expected


@pytest.mark.architecture
async def test_commands_take_the_time_and_ids_from_the_injected_clock(triage: Triage) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    seed = uuid.uuid4().hex
    runtime, app = triage_app.build(triage.runtime.settings, clock=FixedClock(at, seed))
    reference = FixedClock(at, seed)  # draws the same ids in the same order
    case_id, started_id = reference.new_id(), reference.new_id()
    me = token(ADULT_PIN, "adult-clock")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://triage"
        ) as client:
            r = await client.post(
                "/triage/cases",
                headers={"Authorization": f"Bearer {me}"},
                json={"questionnaire_id": "fever"},
            )
    finally:
        await runtime.db.dispose()
    assert r.status_code == 201, r.text
    assert r.json()["case_id"] == str(case_id)
    expires_at = datetime.fromisoformat(r.json()["step"]["expires_at"])
    assert expires_at == at + timedelta(minutes=60)
    async with triage.runtime.db.transaction() as conn:
        stored = [s.event for s in await load(conn, adapters.stream_id(case_id))]
    assert [e.occurred_at for e in stored] == [at, at]
    assert [e.event_id for e in stored] == [domain.opened_id(case_id), started_id]


@pytest.mark.security
async def test_finding_3_triage_serves_no_health_data_to_staff_or_auditors(triage: Triage) -> None:
    """Finding 3 in triage: the answers and the outcome are served to the patient side only.

    Staff read the triage outcome where it is logged (the queue, chat, the journal); a nurse
    or an auditor asking triage itself is refused, so no read of health data goes unlogged.
    """
    me = token(ADULT_PIN, "adult-finding-3")
    case = (await triage.call("POST", "/cases", me, json={"questionnaire_id": "fever"})).json()
    case_id = case["case_id"]
    nurse = issue_token(
        SECRET,
        Principal(
            subject_id="SE2321000206-E0001",
            role="staff",
            region="Västmanland",
            name="Nina",
            title="nurse",
            care_unit="1177 direkt Västmanland",
        ),
    )
    auditor = issue_token(
        SECRET, Principal(subject_id="audit-1", role="auditor", region="Västmanland")
    )
    for who in (nurse, auditor):
        for path in (f"/cases/{case_id}/triage", f"/cases/{case_id}/outcome"):
            r = await triage.call("GET", path, who)
            assert r.status_code == 403, (path, r.status_code)
            assert "answers" not in r.text and "question" not in r.text
    assert (await triage.call("GET", f"/cases/{case_id}/triage", me)).status_code == 200
