"""Real logins through the whole platform: EdDSA tokens from a test e-ID login, a guardian
opening a case for their child, and nobody else's token reaching that case."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from careflow.cli.platform import SERVICES, Platform
from careflow.identity.register import SEED_FILE

pytestmark = [pytest.mark.identity, pytest.mark.e2e]


def _pin(note: str) -> str:
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return next(p["pin"] for p in data["persons"] if p["note"] == note)


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    with Platform.running(
        service_ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(tmp_path_factory.mktemp("identity-e2e-logs")),
        None,
    ) as running:
        yield running


def e_id_login(base: str, pin: str, realm: str = "patient") -> dict:  # type: ignore[type-arg]
    # One browser session: starting the order sets the login cookie that collecting needs.
    with httpx.Client(base_url=base) as browser:
        order = browser.post("/identity/eid/orders", json={"realm": realm}).json()
        httpx.post(
            f"{base}/identity/eid/test-app/{order['order_ref']}/approve",
            json={"personal_identity_number": pin},
        ).raise_for_status()
        result: dict = browser.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()  # type: ignore[type-arg]
    assert result["login"], result
    return result["login"]  # type: ignore[no-any-return]


def test_a_guardian_opens_a_case_for_their_child_and_strangers_get_404(platform: Platform) -> None:
    identity = platform.url("identity")
    guardian_pin = next(
        p["pin"]
        for p in json.loads(SEED_FILE.read_text(encoding="utf-8"))["persons"]
        if p["note"] == "guardian" and p["region"] == "Västmanland"
    )
    guardian = e_id_login(identity, guardian_pin)
    child_pin = _pin("child aged 6: guardian may act")
    acting = httpx.post(
        f"{identity}/identity/acting-for",
        headers={"Authorization": f"Bearer {guardian['access_token']}"},
        json={"child_personal_identity_number": child_pin},
    )
    assert acting.status_code == 200, acting.text
    child_token = acting.json()["access_token"]
    opened = httpx.post(
        f"{platform.url('triage')}/triage/cases", headers={"Authorization": f"Bearer {child_token}"}
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]

    stranger = e_id_login(identity, _pin("adult, region runs the service"))["access_token"]
    nurse_elsewhere = e_id_login(identity, "198203128825", realm="staff")["access_token"]

    def get(service: str, path: str, token: str) -> int:
        return httpx.get(
            f"{platform.url(service)}/{service}{path}", headers={"Authorization": f"Bearer {token}"}
        ).status_code

    # Events travel asynchronously: wait until notify and chat know the case.
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and get("notify", f"/cases/{case_id}/notifications", child_token) != 200
    ):
        time.sleep(0.2)
    assert get("notify", f"/cases/{case_id}/notifications", child_token) == 200
    for token in (stranger, nurse_elsewhere):
        assert get("notify", f"/cases/{case_id}/notifications", token) == 404
        assert get("chat", f"/cases/{case_id}/messages", token) == 404
    # Another region's staff: the whole-case views are refused without the patient's consent.
    assert get("journal", f"/cases/{case_id}/verify", nurse_elsewhere) == 404

    # A patient's token on another patient's case: 404, the same as an unknown case.
    assert get("queue", f"/cases/{case_id}", stranger) == 404
    assert get("triage", f"/cases/{case_id}/triage", stranger) == 404
    assert get("queue", f"/cases/{case_id}", child_token) == 200
    # A forged token is refused everywhere.
    reads = {
        "triage": f"/cases/{case_id}/triage",
        "queue": f"/cases/{case_id}",
        "chat": f"/cases/{case_id}/messages",
        "journal": f"/cases/{case_id}/entries",
        "notify": f"/cases/{case_id}/notifications",
    }
    assert set(reads) == set(SERVICES) - {"identity"}
    for service, path in reads.items():
        assert get(service, path, "not-a-token") == 401, service


def test_the_jwks_serves_the_signing_key(platform: Platform) -> None:
    keys = httpx.get(f"{platform.url('identity')}/identity/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["alg"] == "EdDSA" and k["kid"] for k in keys)


def test_an_auditor_reads_every_case_of_the_region_and_never_writes(platform: Platform) -> None:
    from careflow.cli.flow import TEST_PATIENT_PIN, run_case

    result = run_case(platform.url)  # a whole contact in Västmanland
    identity = platform.url("identity")
    auditor = e_id_login(identity, "196604208576", realm="staff")["access_token"]
    bearer = {"Authorization": f"Bearer {auditor}"}
    journal = f"{platform.url('journal')}/journal/cases/{result.case_id}"

    entries = httpx.get(f"{journal}/entries", headers=bearer, params={"purpose": "audit"})
    assert entries.status_code == 200 and len(entries.json()) == len(result.journal)
    assert httpx.get(f"{journal}/verify", headers=bearer).json()["valid"] is True

    first = result.journal[0]["source_event_id"]
    correction = httpx.post(
        f"{journal}/entries/{first}/corrections",
        headers=bearer,
        json={"text": "ändrat", "reason": "granskning"},
    )
    assert correction.status_code == 403
    claim = httpx.post(
        f"{platform.url('queue')}/queue/claims", headers=bearer, json={"skills": ["nurse"]}
    )
    assert claim.status_code == 403
    message = httpx.post(
        f"{platform.url('chat')}/chat/cases/{result.case_id}/messages",
        headers={**bearer, "Idempotency-Key": "auditor-try-1"},
        json={"text": "hej"},
    )
    assert message.status_code in (403, 409)  # not in the conversation (or closed)

    # The patient's extract shows the auditor's read.
    patient = httpx.post(
        f"{identity}/identity/dev/patient-tokens",
        json={"personal_identity_number": TEST_PATIENT_PIN, "region": "Västmanland"},
    ).json()
    extract = httpx.get(
        f"{platform.url('journal')}/journal/me/access-log",
        headers={"Authorization": f"Bearer {patient['access_token']}"},
    ).json()
    assert any(a["reader_role"] == "auditor" and a["case_id"] == result.case_id for a in extract)
