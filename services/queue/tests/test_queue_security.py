"""Attacks on the queue (issue 13) through its HTTP API on real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from queue_model import case_uuid
from queue_pg import enqueue, migrated
from sqlalchemy import insert, select

from careflow.contracts import QueueRef, Skill, Urgency
from careflow.kit import problems
from careflow.kit.auth import Principal, TokenVerifier, issue_token
from careflow.kit.clock import FixedClock
from careflow.kit.db import Database
from careflow.queue import adapters, http, service

pytestmark = [pytest.mark.queue, pytest.mark.integration, pytest.mark.security]

SECRET = "queue-test-secret-of-at-least-32-bytes"
NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
NURSE = Principal(
    subject_id="SE2321000032-E0042",
    role="staff",
    region="Uppsala",
    name="Nora Nurse",
    title="nurse",
    care_unit="1177 direkt Uppsala",
)
AUDITOR = Principal(subject_id="audit-7", role="auditor", region="Uppsala")
PATIENT = Principal(subject_id="p-owner", role="patient", region="Uppsala")


def auth(who: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, who)}"}


@pytest.fixture
async def api(infra, unique) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"queue_{unique}")
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SECRET, allow_hs256=True)
    problems.install_handlers(app)
    config = service.QueueConfig(regions=adapters.load_regions())
    app.include_router(http.router(db, FixedClock(NOW), config), prefix="/queue")
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://queue")
    try:
        yield client, db
    finally:
        await client.aclose()
        await db.dispose()


async def logged(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as conn:
        rows = await conn.execute(select(adapters.access_log).order_by(adapters.access_log.c.id))
        return [dict(r._mapping) for r in rows]


async def test_finding_3_every_staff_read_of_health_data_is_logged_in_queue(api) -> None:  # type: ignore[no-untyped-def]
    client, db = api
    # One case long past its care-guarantee limit (on the worklist), one just triaged.
    await enqueue(
        db,
        [(1, NOW - timedelta(days=30), Urgency.YELLOW, NURSES), (2, NOW, Urgency.GREEN, NURSES)],
    )
    async with db.transaction() as conn:
        await conn.execute(
            insert(adapters.unreached).values(
                notification_id=uuid.uuid4(),
                case_id=case_uuid(2),
                kind="turn_reached",
                channel="sms",
                reason="undeliverable",
                failed_at=NOW,
            )
        )
    # The patient reads their own place: not logged.
    own = await client.get(f"/queue/cases/{case_uuid(2)}", headers=auth(PATIENT))
    assert own.status_code == 200
    assert await logged(db) == []

    worklist = await client.get("/queue/queues/nurse", headers=auth(NURSE))
    assert worklist.status_code == 200
    assert str(case_uuid(1)) in {c["case_id"] for c in worklist.json()["near_guarantee_limit"]}
    claimed = await client.post("/queue/claims", headers=auth(NURSE), json={})
    assert claimed.status_code == 200 and claimed.json()["case_id"] == str(case_uuid(1))
    assert (await client.get("/queue/unreached", headers=auth(NURSE))).status_code == 200
    place = await client.get(f"/queue/cases/{case_uuid(2)}", headers=auth(NURSE))
    assert place.status_code == 200
    audited = await client.get(f"/queue/cases/{case_uuid(2)}", headers=auth(AUDITOR))
    assert audited.status_code == 200

    entries = await logged(db)
    seen = [(e["reader_id"], e["case_id"], e["what"]) for e in entries]
    assert (NURSE.subject_id, case_uuid(1), "worklist") in seen
    assert seen[-4:] == [
        (NURSE.subject_id, case_uuid(1), "turn"),
        (NURSE.subject_id, case_uuid(2), "unreached"),
        (NURSE.subject_id, case_uuid(2), "place"),
        (AUDITOR.subject_id, case_uuid(2), "place"),
    ]
    for e in entries:
        assert e["at"] == NOW and e["purpose"] and e["basis"]
        if e["reader_id"] == NURSE.subject_id:
            assert (e["reader_role"], e["reader_name"], e["reader_title"], e["care_unit"]) == (
                "staff",
                NURSE.name,
                NURSE.title,
                NURSE.care_unit,
            )
    assert (entries[-1]["reader_role"], entries[-1]["basis"]) == ("auditor", "audit")
