"""TriageCompleted to TurnReached over real Kafka, with the patient's place shown meanwhile."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseOpened,
    QueueRef,
    Skill,
    Urgency,
    parse_event,
    topic_for_service,
)
from careflow.kit.auth import Principal, issue_token
from careflow.queue.app import build
from careflow.queue.settings import QueueSettings

pytestmark = [pytest.mark.queue, pytest.mark.integration]


async def eventually(what: str, probe, within: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


async def test_a_triaged_case_waits_with_its_place_shown_and_a_claim_reaches_its_turn(
    infra,
) -> None:  # type: ignore[no-untyped-def]
    from queue_model import triage_event

    settings = QueueSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        environment="test",
    )
    runtime, app = build(settings)
    await asyncio.to_thread(runtime.migrate)
    secret = settings.token_secret.get_secret_value()
    region = f"Kafkaland-{uuid.uuid4().hex[:6]}"  # a region (and so a queue) of its own
    patient_id = f"p-{uuid.uuid4().hex[:8]}"
    patient = {
        "Authorization": "Bearer "
        + issue_token(secret, Principal(subject_id=patient_id, role="patient", region=region))
    }
    nurse = {
        "Authorization": "Bearer "
        + issue_token(
            secret,
            Principal(
                subject_id="SE-K1",
                role="staff",
                region=region,
                name="N",
                title="nurse",
                care_unit="1177 direkt",
            ),
        )
    }
    now = datetime.now(UTC)
    triaged = triage_event(
        int(uuid.uuid4().int % 10**9),
        now,
        Urgency.YELLOW,
        QueueRef(region=region, skill=Skill.NURSE),
        1,
    )
    case_id = triaged.case_id
    opened = CaseOpened(
        case_id=case_id,
        occurred_at=now,
        producer="triage",
        correlation_id=triaged.correlation_id,
        actor=Actor(id=patient_id, role=ActorRole.PATIENT),
        patient_id=patient_id,
        region=region,
    )

    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q")
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
        await producer.start()
        try:
            for event in (opened, triaged):
                await producer.send_and_wait(
                    topic_for_service("triage"), event.to_json(), key=event.key()
                )

            async def waiting() -> dict | None:  # type: ignore[type-arg]
                r = await client.get(f"/queue/cases/{case_id}", headers=patient)
                return (
                    r.json() if r.status_code == 200 and r.json()["status"] == "waiting" else None
                )

            place = await eventually("the case to be queued", waiting)
            assert place["position"] == 1 and place["queue"]["region"] == region
            assert place["opens_at"] is not None

            claim = await client.post("/queue/claims", headers=nurse, json={})
            assert claim.status_code == 200 and claim.json()["case_id"] == str(case_id)
            after = (await client.get(f"/queue/cases/{case_id}", headers=patient)).json()
            assert after["status"] == "in_contact" and after["position"] is None
        finally:
            await producer.stop()
            await client.aclose()

        consumer = AIOKafkaConsumer(
            topic_for_service("queue"),
            bootstrap_servers=infra.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=f"queue-test-{uuid.uuid4().hex[:8]}",
        )
        await consumer.start()
        try:
            seen: list = []  # type: ignore[type-arg]

            async def published() -> bool:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        event = parse_event(r.value)
                        if event.case_id == case_id:
                            seen.append(event)
                return len(seen) >= 2

            await eventually("CaseQueued and TurnReached on the queue topic", published)
        finally:
            await consumer.stop()
    assert [e.event_type for e in seen] == ["CaseQueued", "TurnReached"]
    assert seen[1].professional.staff_id == "SE-K1" and seen[1].professional.care_unit
    assert {e.correlation_id for e in seen} == {triaged.correlation_id}
    assert seen[1].causation_id == seen[0].event_id
