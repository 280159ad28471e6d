"""The whole platform with notify wired to a real local SMS gateway and a real SMTP server."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from notify_testkit import Gateway, Mailbox, wait_until

from careflow.cli.flow import run_case
from careflow.cli.platform import Platform
from careflow.cli.replay import read_case

pytestmark = [pytest.mark.notify, pytest.mark.e2e]

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOGIN_URL = "https://e2e.careflow.example/login"
REGION = "Västmanland"


def fresh_pin() -> str:
    """A valid personal identity number of a person no other test uses (Luhn check digit)."""
    body = f"8503{random.randint(10, 28):02d}{random.randint(0, 999):03d}"
    digits = [int(d) * (2 - i % 2) for i, d in enumerate(body)]
    check = (10 - sum(d // 10 + d % 10 for d in digits) % 10) % 10
    return f"19{body}{check}"


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[Gateway, Mailbox]]:
    gateway, mailbox = Gateway(), Mailbox()
    gateway.start()
    mailbox.start()
    yield gateway, mailbox
    gateway.stop()
    mailbox.stop()


@pytest.fixture(scope="module")
def platform(infra, service_ports, providers, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    with Platform.running(
        service_ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(tmp_path_factory.mktemp("notify-e2e-logs")),
        {
            "CAREFLOW_LOGIN_URL": LOGIN_URL,
            "CAREFLOW_SMS_GATEWAY_URL": providers[0].sms_url,
            "CAREFLOW_SMTP_HOST": "127.0.0.1",
            "CAREFLOW_SMTP_PORT": str(providers[1].port),
        },
    ) as running:
        yield running


def test_turn_reached_sends_a_real_sms_and_a_real_email(
    platform: Platform, providers: tuple[Gateway, Mailbox], infra: Any
) -> None:
    gateway, mailbox = providers
    http = httpx.Client(timeout=10.0)

    def call(method: str, service: str, path: str, token: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return http.request(
            method, f"{platform.url(service)}/{service}{path}", headers=headers, **kw
        )

    identity = platform.url("identity")
    pin = fresh_pin()
    patient = http.post(
        f"{identity}/identity/dev/patient-tokens",
        json={"personal_identity_number": pin, "region": REGION},
    ).json()["access_token"]
    nurse = http.post(
        f"{identity}/identity/dev/staff-tokens",
        json={
            "hsa_id": f"SE2321000131-E{uuid.uuid4().hex[:8]}",
            "name": "Nina Sjöberg",
            "title": "nurse",
            "region": REGION,
            "care_unit": "1177 direkt Västmanland",
        },
    ).json()["access_token"]

    phone, email = (
        f"+4670{random.randint(1000000, 9999999)}",
        f"e2e-{uuid.uuid4().hex[:8]}@example.org",
    )
    prefs = {"language": "sv", "channels": ["sms", "email"], "phone": phone, "email": email}
    assert call("PUT", "notify", "/preferences", nurse, json=prefs).status_code == 403
    bad = call("PUT", "notify", "/preferences", patient, json={**prefs, "phone": "0701234567"})
    assert bad.status_code == 422 and "international form" in bad.json()["detail"]
    missing = call("PUT", "notify", "/preferences", patient, json={"channels": ["email"]})
    assert missing.status_code == 422 and "missing" in missing.json()["detail"]
    assert call("PUT", "notify", "/preferences", patient, json=prefs).status_code == 200
    stored = call("GET", "notify", "/preferences", patient).json()
    assert (stored["phone"], stored["email"], stored["channels"]) == (
        phone,
        email,
        ["email", "sms"],
    )

    # The platform's own walk through a case (cli/flow.py): triage, queue, the nurse's claim
    # (TurnReached), staff, patient, staff messages, and the close with advice.
    steps: list[str] = []
    try:
        run_case(platform.url, region=REGION, pin=pin, say=steps.append)
    except (RuntimeError, TimeoutError):
        # What follows the close (the journal) is not notify's; everything before it must work.
        if not any(step.startswith("case closed") for step in steps):
            raise
    [case_id] = {m.group(0) for s in steps if s.startswith("case ") and (m := UUID_RE.search(s))}
    in_app = call("GET", "notify", f"/cases/{case_id}/notifications", patient).json()
    assert [n["kind"] for n in in_app] == ["your_turn"]  # the in-app notification, unchanged

    # TurnReached: a real SMS request at the gateway and a real e-mail at the SMTP server.
    sms = wait_until(
        "the your-turn SMS",
        lambda: [b for b in list(gateway.delivered.values()) if b["to"] == phone],
    )
    mail = wait_until("the your-turn e-mail", lambda: mailbox.to(email))
    assert f"Logga in för att fortsätta: {LOGIN_URL}" in " ".join(b["text"] for b in sms)
    assert LOGIN_URL in mail[0].get_content()

    def all_sent() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = call(
            "GET", "notify", f"/cases/{case_id}/deliveries", patient
        ).json()
        kinds = {r["kind"] for r in rows}
        done = "advice_ready" in kinds and all(r["status"] == "sent" for r in rows)
        return rows if done else None

    rows = wait_until("every delivery to be sent", all_sent)
    assert Counter((r["kind"], r["channel"]) for r in rows) == Counter(
        (k, c) for k in ("your_turn", "new_message", "advice_ready") for c in ("sms", "email")
    )
    texts = sorted(b["text"] for b in gateway.delivered.values() if b["to"] == phone)
    assert texts == sorted(
        [
            f"Det är din tur. Logga in för att fortsätta: {LOGIN_URL}",
            f"Du har ett nytt meddelande. Logga in för att läsa det: {LOGIN_URL}",
            f"Ditt svar finns att läsa. Logga in för att läsa det: {LOGIN_URL}",
        ]
    )
    subjects = sorted(m["Subject"] for m in mailbox.to(email))
    assert subjects == sorted(
        ["Det är din tur", "Du har ett nytt meddelande", "Ditt svar finns att läsa"]
    )
    everything = " ".join(texts) + " ".join(m.get_content() for m in mailbox.to(email))
    for secret in ("Nina", "Feber", "Vila", case_id):
        assert secret not in everything

    expected = sorted((r["kind"], r["channel"]) for r in rows)

    def sent_on_the_topic() -> list[tuple[str, str]] | None:
        # NotificationSent leaves through the outbox relay: it may trail the delivery rows.
        timeline = asyncio.run(read_case(infra.bootstrap_servers, uuid.UUID(case_id)))
        sent = sorted(
            (i.event.kind, i.event.channel)  # type: ignore[attr-defined]
            for i in timeline
            if i.event.event_type == "NotificationSent"
        )
        return sent if sent == expected else None

    assert wait_until("every NotificationSent on the topic", sent_on_the_topic) == expected
    http.close()
