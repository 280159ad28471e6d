"""Issue 13, findings 5 and 17: personal identity numbers stay out of tokens and off every
topic that chat, notify and queue read; the journal still names the patient by number.

The attacks run against the six real service processes, real Kafka and real PostgreSQL:
a whole case is driven through HTTP, then every record of every topic those three
services subscribe to is read back from Kafka, and access tokens of every kind identity
issues are decoded as anyone holding one (a browser, a log reader) could.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from careflow.cli.flow import TEST_PATIENT_PIN, run_case
from careflow.cli.platform import Platform
from careflow.contracts import SUBSCRIPTIONS, topic_for_event
from careflow.identity.register import SEED_FILE, SeedRegister

pytestmark = [pytest.mark.security, pytest.mark.e2e]

#: The services that never need a personal identity number.
NO_NUMBER_SERVICES = ("chat", "notify", "queue")


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("service-logs")
    with Platform.running(
        service_ports, infra.bootstrap_servers, infra.database_url, str(logs)
    ) as running:
        yield running


def forms_of(pin: str) -> list[bytes]:
    """Every way a 12-digit number is commonly written (12 or 10 digits, with a dash)."""
    ten = pin[2:]
    return [f.encode() for f in (pin, f"{pin[:8]}-{pin[8:]}", ten, f"{ten[:6]}-{ten[6:]}")]


async def every_record(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes]]:
    """Every record (key, value and headers, as bytes) on ``topics``, up to their end now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, bytes]] = []
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, records in batch.items():
                for r in records:
                    headers = b"".join(k.encode() + b"=" + (v or b"") for k, v in r.headers)
                    found.append((tp.topic, (r.key or b"") + b"|" + (r.value or b"") + headers))
                    if r.offset + 1 >= end[tp]:
                        remaining.discard(tp)
            if not batch:
                raise AssertionError(f"the topics ended early: {sorted(map(str, remaining))}")
    finally:
        await consumer.stop()
    return found


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, decoded as anyone holding the token can (no key needed)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_finding_17_no_personal_identity_number_on_any_topic_chat_notify_or_queue_read(
    platform: Platform, infra: Any
) -> None:
    result = run_case(platform.url, pin=TEST_PATIENT_PIN)
    # The journal still names the patient by number, to the case's own nurse.
    assert result.journal and all(e["patient_pin"] == TEST_PATIENT_PIN for e in result.journal)

    topics = sorted(
        {topic_for_event(t) for service in NO_NUMBER_SERVICES for t in SUBSCRIPTIONS[service]}
    )
    records = asyncio.run(every_record(infra.bootstrap_servers, topics))
    # Not vacuous: this case's own records were read, its opening included.
    ours = [value for _, value in records if result.case_id.encode() in value]
    assert any(b'"CaseOpened"' in value for value in ours)
    assert any(b'"CaseClosed"' in value for value in ours)
    leaks = [
        (topic, form.decode())
        for topic, value in records
        for form in forms_of(TEST_PATIENT_PIN)
        if form in value
    ]
    assert not leaks, f"personal identity numbers on topics chat, notify or queue read: {leaks}"


def _seed_pin(note: str) -> str:
    persons = json.loads(SEED_FILE.read_text(encoding="utf-8"))["persons"]
    pin: str = next(p["pin"] for p in persons if p["note"] == note)
    return pin


def test_finding_5_tokens_carry_no_personal_identity_number(platform: Platform) -> None:
    child = _seed_pin("child aged 6: guardian may act")
    guardian = next(p for p in SeedRegister().all() if child in p.guardian_of)
    base = platform.url("identity")
    with httpx.Client(base_url=f"{base}/identity", timeout=10.0) as browser:
        # An e-ID login through the test app: the EdDSA access token identity signs.
        order = browser.post("/eid/orders", json={"realm": "patient"}).json()
        approved = browser.post(
            f"/eid/test-app/{order['order_ref']}/approve",
            json={"personal_identity_number": guardian.pin},
        )
        assert approved.status_code == 204, approved.text
        login = browser.post(f"/eid/orders/{order['order_ref']}/collect").json()["login"]
        # The guardian acts for their child: a token for the child's cases.
        acting = browser.post(
            "/acting-for",
            headers={"Authorization": f"Bearer {login['access_token']}"},
            json={"child_personal_identity_number": child},
        )
        assert acting.status_code == 200, acting.text
        # A development token, too.
        dev = browser.post(
            "/dev/patient-tokens",
            json={"personal_identity_number": TEST_PATIENT_PIN, "region": "Västmanland"},
        ).json()
    tokens = {
        "e-ID login": (login["access_token"], guardian.pin),
        "acting for a child": (acting.json()["access_token"], child),
        "development": (dev["access_token"], TEST_PATIENT_PIN),
    }
    for kind, (token, pin) in tokens.items():
        claims = json.dumps(claims_of(token)).encode()
        for number in {pin, guardian.pin, child}:
            for form in forms_of(number):
                assert form not in claims, f"the {kind} token carries {form.decode()}"

    # The token without the number still opens a case: triage asks age and sex only.
    opened = httpx.post(
        f"{platform.url('triage')}/triage/cases",
        headers={"Authorization": f"Bearer {acting.json()['access_token']}"},
        json={"questionnaire_id": "fever", "language": "sv"},
    )
    assert opened.status_code == 201, opened.text
