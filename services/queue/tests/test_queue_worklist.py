"""Staff's worklist in one call (issue 14): each queue's first waiting cases in order, with
their care-guarantee deadlines and the patients a notification could not reach; on real
PostgreSQL through the queue's HTTP routes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from queue_model import case_uuid
from queue_pg import enqueue, migrated
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from careflow.contracts import Actor, ActorRole, QueueRef, Skill, Urgency
from careflow.contracts.notify_events import NotificationFailed
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.queue import adapters, http, service

pytestmark = [pytest.mark.web, pytest.mark.queue, pytest.mark.integration]

SECRET = "queue-test-secret-of-at-least-32-bytes"
NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)
DOCTORS = QueueRef(region="Uppsala", skill=Skill.DOCTOR)
NURSE = {
    "Authorization": "Bearer "
    + issue_token(
        SECRET,
        Principal(
            subject_id="SE-W1",
            role="staff",
            region="Uppsala",
            name="N",
            title="nurse",
            care_unit="Unit",
        ),
    )
}


@pytest.fixture
async def api(infra, unique) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}")
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    config = service.QueueConfig(regions=adapters.load_regions())
    app.include_router(http.router(db, SystemClock(), config), prefix="/queue")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://queue")
    try:
        yield client, db
    finally:
        await client.aclose()
        await db.dispose()


async def test_the_worklist_lists_each_queues_first_cases_in_order_with_their_deadlines(
    api,
) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    now = datetime.now(UTC)
    await enqueue(
        db,
        [
            (1, now - timedelta(minutes=50), Urgency.GREEN, NURSES),
            (2, now - timedelta(minutes=5), Urgency.YELLOW, NURSES),
            (3, now - timedelta(hours=30), Urgency.GREEN, NURSES),  # past same-day contact
            (4, now - timedelta(minutes=40), Urgency.BLUE, NURSES),
            (5, now - timedelta(minutes=20), Urgency.ORANGE, DOCTORS),
        ],
    )
    async with db.transaction() as conn:
        await service.record_notification_failed(conn, _failed(4, now))

    answer = await client.get("/queue/worklist", params={"first": 3}, headers=NURSE)
    assert answer.status_code == 200
    queues = {q["skill"]: q for q in answer.json()["queues"]}
    assert set(queues) == {s.value for s in Skill}
    nurses = queues["nurse"]
    # Most urgent first, then the longest waiting; only the first three, the rest counted.
    assert [c["case_id"] for c in nurses["first_waiting"]] == [str(case_uuid(n)) for n in (2, 3, 1)]
    assert nurses["waiting"] == 4
    late = nurses["first_waiting"][1]
    assert late["overdue"] is True and late["near_limit"] is True
    assert datetime.fromisoformat(late["assessment_due"]) == datetime.fromisoformat(
        late["waiting_since"]
    ) + timedelta(days=3)
    assert 30 * 3600 - 60 < late["waited_seconds"] < 30 * 3600 + 60
    fresh = nurses["first_waiting"][0]
    assert datetime.fromisoformat(fresh["contact_due"]) > now and fresh["overdue"] is False
    assert [c["case_id"] for c in queues["doctor"]["first_waiting"]] == [str(case_uuid(5))]
    assert all(q["first_waiting"] == [] for s, q in queues.items() if s not in ("nurse", "doctor"))

    # The blue case sits fourth: unlisted at first=3, marked unreached when listed.
    everyone = (await client.get("/queue/worklist", headers=NURSE)).json()
    listed = {c["case_id"]: c for q in everyone["queues"] for c in q["first_waiting"]}
    assert listed[str(case_uuid(4))]["unreached"] is True
    assert listed[str(case_uuid(1))]["unreached"] is False
    assert [u["case_id"] for u in everyone["unreached"]] == [str(case_uuid(4))]

    # Each case the page names is in the access log, as a worklist read.
    async with db.transaction() as conn:
        logged = {
            (r.case_id, r.what)
            for r in await conn.execute(
                select(adapters.access_log.c.case_id, adapters.access_log.c.what)
            )
        }
    assert {(case_uuid(n), "worklist") for n in (1, 2, 3, 4, 5)} <= logged
    assert (case_uuid(4), "unreached") in logged


async def test_a_worklist_whose_reads_cannot_be_logged_is_not_served(api) -> None:  # type: ignore[no-untyped-def]
    """The reads run on their own connections and the log is written after them: when the
    log refuses the entries, the answer carries no case."""
    client, db = api
    await enqueue(db, [(1, datetime.now(UTC) - timedelta(minutes=5), Urgency.GREEN, NURSES)])
    async with db.transaction() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'the access log is refusing entries'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON queue_access_log"
                " FOR EACH STATEMENT EXECUTE FUNCTION refuse()"
            )
        )
    # The error reaches the caller (a problem answer in the running service), not the cases.
    with pytest.raises(DBAPIError, match="refusing entries"):
        await client.get("/queue/worklist", headers=NURSE)


async def test_a_read_failing_for_an_outage_beside_another_is_a_503_to_retry(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The counts fail as a database going away mid-request fails (a stand-in: the real
    database serves the other reads) while the list is read beside them: the answer is
    the outage's 503, not a fault (which would be raised here, to the client)."""
    client, _ = api

    async def away(*_: object) -> None:
        raise ConnectionResetError(104, "the database went away")

    monkeypatch.setattr(adapters, "waiting_by_skill_and_urgency", away)
    answer = await client.get("/queue/worklist", headers=NURSE)
    assert answer.status_code == 503
    assert answer.headers["retry-after"]


async def test_the_worklist_is_for_staff_and_refuses_a_silly_length(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    patient = {
        "Authorization": "Bearer "
        + issue_token(SECRET, Principal(subject_id="p-1", role="patient", region="Uppsala"))
    }
    assert (await client.get("/queue/worklist", headers=patient)).status_code == 403
    assert (await client.get("/queue/worklist")).status_code == 401
    too_many = await client.get("/queue/worklist", params={"first": 100000}, headers=NURSE)
    assert too_many.status_code == 422


def _failed(n: int, now: datetime) -> NotificationFailed:
    return NotificationFailed(
        case_id=case_uuid(n),
        occurred_at=now,
        producer="notify",
        correlation_id=case_uuid(n),
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
