"""The queue's HTTP API on real PostgreSQL: staff and patients, good and bad requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from queue_docs import documented
from queue_model import case_uuid
from queue_pg import counts, enqueue, migrated

from careflow.contracts import QueueRef, Skill, Urgency
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.queue import adapters, http, service

pytestmark = [pytest.mark.queue, pytest.mark.integration]

SECRET = "queue-test-secret-of-at-least-32-bytes"
NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)
DOCTORS = QueueRef(region="Uppsala", skill=Skill.DOCTOR)


def token(**fields: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, Principal(**fields))}"}


def staff_token(title: str = "nurse", region: str = "Uppsala", who: str = "SE-1") -> dict[str, str]:
    return token(
        subject_id=who, role="staff", region=region, name="N", title=title, care_unit="Unit"
    )


OWNER = token(subject_id="p-owner", role="patient", region="Uppsala")
STRANGER = token(subject_id="p-stranger", role="patient", region="Uppsala")


@pytest.fixture
async def api(infra, unique) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}")
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    answered: list[tuple[APIRoute, int]] = []

    @app.middleware("http")
    async def remember(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if isinstance(route := request.scope.get("route"), APIRoute):
            answered.append((route, response.status_code))
        return response

    config = service.QueueConfig(regions=adapters.load_regions(), answer_within=timedelta(0))
    app.include_router(http.router(db, SystemClock(), config), prefix="/queue")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://queue")
    try:
        yield client, db
    finally:
        await client.aclose()
        await db.dispose()
    undocumented = {
        (method, route.path_format, status)
        for route, status in answered
        for method in route.methods
        if status not in documented(route)
    }
    assert answered and not undocumented, undocumented


async def test_bad_claims_are_refused_with_a_reason_and_change_nothing(api) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    now = datetime.now(UTC)
    await enqueue(db, [(1, now, Urgency.YELLOW, NURSES), (2, now, Urgency.GREEN, DOCTORS)])
    before = await counts(db)

    refusals = [
        (staff_token(), {"skills": ["nurse"], "region": "Gotland"}, 403, "you work in region"),
        (staff_token(), {"skills": ["doctor"]}, 403, "do not serve the doctor queue"),
        (staff_token(title="juggler"), {}, 403, "serves no queue"),
        (staff_token(), {"skills": []}, 422, "at least 1"),
        (OWNER, {"skills": ["nurse"]}, 403, "needs the staff role"),
    ]
    for headers, body, code, reason in refusals:
        response = await client.post("/queue/claims", headers=headers, json=body)
        assert response.status_code == code, (body, response.text)
        assert reason in response.text
    # Taking a particular case: another region's is unknown, another skill's is refused.
    other_region = await client.post(
        f"/queue/cases/{case_uuid(1)}/take", headers=staff_token(region="Gotland")
    )
    assert other_region.status_code == 404
    wrong_skill = await client.post(f"/queue/cases/{case_uuid(2)}/take", headers=staff_token())
    assert wrong_skill.status_code == 403 and "doctor queue" in wrong_skill.text
    assert await counts(db) == before

    # A doctor from Gotland finds nothing in Uppsala; one in Uppsala gets the doctor case.
    assert (
        await client.post("/queue/claims", headers=staff_token("doctor", "Gotland"), json={})
    ).status_code == 204
    got = await client.post("/queue/claims", headers=staff_token("doctor"), json={})
    assert got.status_code == 200 and got.json()["case_id"] == str(case_uuid(2))


async def test_withdrawing_someone_elses_case_is_refused_and_changes_nothing(api) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    await enqueue(db, [(1, datetime.now(UTC), Urgency.YELLOW, NURSES)])
    before = await counts(db)
    for headers in (STRANGER, staff_token()):
        response = await client.post(f"/queue/cases/{case_uuid(1)}/withdraw", headers=headers)
        assert response.status_code in (403, 404)
    stranger = await client.post(f"/queue/cases/{case_uuid(1)}/withdraw", headers=STRANGER)
    assert stranger.json()["detail"] == "no such case"
    assert (await client.get(f"/queue/cases/{case_uuid(1)}", headers=STRANGER)).status_code == 404
    assert await counts(db) == before

    mine = await client.post(f"/queue/cases/{case_uuid(1)}/withdraw", headers=OWNER)
    assert mine.status_code == 200 and mine.json()["status"] == "withdrawn"
    again = await client.post(f"/queue/cases/{case_uuid(1)}/withdraw", headers=OWNER)
    assert again.status_code == 409 and "already withdrawn" in again.text
    assert (await counts(db))[0] == before[0] - 1


async def test_patients_see_their_position_and_wait_and_staff_see_the_queue(api) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    now = datetime.now(UTC)
    await enqueue(
        db,
        [
            (1, now - timedelta(hours=30), Urgency.GREEN, NURSES),  # close to its limits
            (2, now - timedelta(minutes=20), Urgency.GREEN, NURSES),
            (3, now - timedelta(minutes=10), Urgency.YELLOW, NURSES),
            (4, now - timedelta(minutes=5), Urgency.GREEN, NURSES),
        ],
    )
    place = (await client.get(f"/queue/cases/{case_uuid(4)}", headers=OWNER)).json()
    assert place["status"] == "waiting" and place["position"] == 4
    assert place["estimated_wait_seconds"] is None  # no turns yet to estimate from
    assert isinstance(place["region_open"], bool) and place["opens_at"] is not None

    nurse = staff_token()
    first = (await client.post("/queue/claims", headers=nurse, json={"skills": ["nurse"]})).json()
    assert first["case_id"] == str(case_uuid(3)) and first["urgency"] == 3  # most urgent
    second = (await client.post("/queue/claims", headers=nurse, json={})).json()
    assert second["case_id"] == str(case_uuid(1))  # then the longest waiting

    place = (await client.get(f"/queue/cases/{case_uuid(4)}", headers=OWNER)).json()
    assert place["position"] == 2
    assert place["estimated_wait_seconds"] is not None and place["estimated_wait_seconds"] > 0

    view = (await client.get("/queue/queues/nurse", headers=nurse)).json()
    assert view["waiting"] == 2 and view["by_urgency"]["green"] == 2
    assert view["turns_last_window"] == 2
    assert 19 * 60 <= view["longest_wait_seconds"] < 21 * 60
    views = (await client.get("/queue/queues", headers=nurse)).json()
    assert {v["skill"] for v in views} == {s.value for s in Skill}

    # The nurse puts the second case back (it keeps its place), then hands it to a doctor.
    back = await client.post(
        f"/queue/cases/{case_uuid(1)}/requeue", headers=nurse, json={"reason": "wrong queue"}
    )
    assert back.status_code == 200 and back.json()["position"] == 1
    moved = await client.post(
        f"/queue/cases/{case_uuid(1)}/transfer",
        headers=nurse,
        json={"skill": "doctor", "reason": "needs a doctor"},
    )
    assert moved.status_code == 200 and moved.json()["queue"] == DOCTORS.model_dump(mode="json")
    unknown = await client.post(
        f"/queue/cases/{case_uuid(2)}/transfer",
        headers=nurse,
        json={"region": "Atlantis", "reason": "x"},
    )
    assert unknown.status_code == 422 and "unknown region" in unknown.text
    doctors = (await client.get("/queue/queues/doctor", headers=staff_token("doctor"))).json()
    assert doctors["waiting"] == 1
    assert [c["case_id"] for c in doctors["near_guarantee_limit"]] == [str(case_uuid(1))]
    assert doctors["near_guarantee_limit"][0]["overdue"] is True  # 30 h: past same-day contact

    # The first patient never answered: the nurse closes the case (answer time here: 0 s).
    closed = await client.post(f"/queue/cases/{case_uuid(3)}/close-unanswered", headers=nurse)
    assert closed.status_code == 200 and closed.json()["status"] == "withdrawn"
    not_mine = await client.post(
        f"/queue/cases/{case_uuid(3)}/close-unanswered", headers=staff_token(who="SE-2")
    )
    assert not_mine.status_code == 409


async def test_staff_see_patients_a_notification_could_not_reach(api) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from careflow.contracts import Actor, ActorRole
    from careflow.contracts.notify_events import NotificationFailed
    from careflow.queue import consumers

    client, db = api
    now = datetime.now(UTC)
    await enqueue(db, [(1, now, Urgency.YELLOW, NURSES)])
    failed = NotificationFailed(
        case_id=case_uuid(1),
        occurred_at=now,
        producer="notify",
        correlation_id=case_uuid(1),
        actor=Actor(id="notify", role=ActorRole.SYSTEM),
        notification_id=uuid.uuid4(),
        kind="your_turn",
        channel="sms",
        recipient_id="p-owner",
        cause_event_id=uuid.uuid4(),
        dedupe_key="k",
        attempts=5,
        reason="retries_exhausted",
        detail="gateway kept failing",
    )
    async with db.transaction() as conn:
        handle = consumers.handlers(SystemClock())["NotificationFailed"]
        await handle(conn, failed)
        await handle(conn, failed)  # redelivered: no double
    mine = (await client.get("/queue/unreached", headers=staff_token())).json()
    assert [(u["case_id"], u["reason"]) for u in mine] == [(str(case_uuid(1)), "retries_exhausted")]
    elsewhere = await client.get("/queue/unreached", headers=staff_token(region="Skåne"))
    assert elsewhere.json() == []
    assert (await client.get("/queue/unreached", headers=OWNER)).status_code == 403


async def test_only_staff_of_the_units_serving_a_region_work_its_queues(api) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    vastmanland = QueueRef(region="Västmanland", skill=Skill.NURSE)
    await enqueue(db, [(7, datetime.now(UTC), Urgency.YELLOW, vastmanland)])
    before = await counts(db)

    def nurse(unit: str) -> dict[str, str]:
        return token(
            subject_id="SE-9",
            role="staff",
            region="Västmanland",
            name="N",
            title="nurse",
            care_unit=unit,
        )

    outsider = nurse("Vårdcentralen Elsewhere")
    refused = await client.post("/queue/claims", headers=outsider, json={"skills": ["nurse"]})
    assert refused.status_code == 403 and "care unit" in refused.json()["detail"]
    assert (await client.get("/queue/queues", headers=outsider)).status_code == 403
    assert (await client.get(f"/queue/cases/{case_uuid(7)}", headers=outsider)).status_code == 404
    assert await counts(db) == before

    served = await client.post(
        "/queue/claims", headers=nurse("1177 direkt Västmanland"), json={"skills": ["nurse"]}
    )
    assert served.status_code == 200 and served.json()["case_id"] == str(case_uuid(7))
