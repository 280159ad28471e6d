"""The whole flow through the six real service processes, real Kafka and real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from careflow.cli.flow import run_case, wait_for
from careflow.cli.platform import SERVICES, Platform
from careflow.cli.replay import read_case

pytestmark = [pytest.mark.foundation, pytest.mark.e2e]


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("service-logs")
    with Platform.running(
        service_ports, infra.bootstrap_servers, infra.database_url, str(logs)
    ) as running:
        yield running
    # Every service stops on SIGTERM by itself, gracefully, never needing SIGKILL: uvicorn
    # re-raises the SIGTERM after its shutdown, hence -15 rather than 0.
    assert all(code in (0, -15) for code in running.exit_codes.values()), running.exit_codes
    for service in SERVICES:
        assert '"service_stopped"' in (logs / f"{service}.log").read_text(), service


def test_a_case_flows_from_triage_to_journal(platform: Platform, infra) -> None:  # type: ignore[no-untyped-def]
    result = run_case(platform.url)

    assert result.triage["urgency"] == 3 and result.triage["recommendation"] == "digital_contact"
    assert result.claim["case_id"] == result.case_id
    assert [n["kind"] for n in result.notifications] == ["your_turn"]
    assert [m["sequence"] for m in result.messages] == [1, 2, 3]
    assert [m["sender_role"] for m in result.messages] == ["staff", "patient", "staff"]
    assert result.closed["outcome"] == "self_care_advice"

    kinds = [e["kind"] for e in result.journal]
    assert kinds == [
        "triage_summary",
        "contact_started",
        "message",
        "message",
        "message",
        "documentation_note",
    ]
    assert all(e["patient_pin"] == "191212121212" for e in result.journal)
    note = result.journal[-1]
    assert note["professional_name"] == "Nina Sjöberg" and note["professional_title"] == "nurse"
    assert result.verification == {
        "valid": True,
        "entries": 6,
        "first_broken_sequence": None,
        "reason": None,
    }

    expected = [
        "CaseOpened",
        "TriageStarted",
        *["QuestionAnswered"] * 4,
        "TriageCompleted",
        "CaseQueued",
        "TurnReached",
        "PatientNotified",
        "MessageSent",
        "MessageSent",
        "MessageSent",
        "CaseClosed",
    ]

    def timeline_so_far() -> list[str] | None:
        # Each service's relay publishes shortly after its commit: wait for the last of them.
        timeline = asyncio.run(read_case(infra.bootstrap_servers, uuid.UUID(result.case_id)))
        types = [i.event.event_type for i in timeline]
        return types if len(types) >= len(expected) else None

    assert wait_for("the whole timeline on the topics", timeline_so_far) == expected


def test_the_journal_refuses_update_delete_and_truncate(platform: Platform, infra) -> None:  # type: ignore[no-untyped-def]
    result = run_case(platform.url)

    async def attempt(sql: str) -> str:
        engine = create_async_engine(infra.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql), {"case": result.case_id})
            return "allowed"
        except DBAPIError as exc:
            return "refused" if "append-only" in str(exc) else f"other: {exc}"
        finally:
            await engine.dispose()

    for sql in (
        "UPDATE journal.journal_entries SET content = '{}' WHERE case_id = :case",
        "DELETE FROM journal.journal_entries WHERE case_id = :case",
        "TRUNCATE journal.journal_entries",
    ):
        assert asyncio.run(attempt(sql)) == "refused", sql


def test_bad_requests_get_a_clear_4xx_and_change_nothing(platform: Platform) -> None:
    import httpx

    base = platform.url
    unauthenticated = httpx.post(f"{base('triage')}/triage/cases")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["detail"] == "missing bearer token"

    bad_pin = httpx.post(
        f"{base('identity')}/identity/dev/patient-tokens",
        json={"personal_identity_number": "191212121213", "region": "Uppsala"},
    )
    assert bad_pin.status_code == 422 and "check digit" in bad_pin.json()["detail"]

    token = httpx.post(
        f"{base('identity')}/identity/dev/patient-tokens",
        json={"personal_identity_number": "199001012385", "region": "Uppsala"},
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    case_id = httpx.post(
        f"{base('triage')}/triage/cases", headers=auth, json={"questionnaire_id": "fever"}
    ).json()["case_id"]
    unknown = httpx.post(
        f"{base('triage')}/triage/cases/{case_id}/triage/answers",
        headers=auth,
        json={"question_id": "favourite_colour", "value": "blue"},
    )
    assert unknown.status_code == 422 and "unknown question" in unknown.json()["detail"]

    too_early = httpx.post(
        f"{base('chat')}/chat/cases/{case_id}/messages",
        headers={**auth, "Idempotency-Key": "k-12345678"},
        json={"text": "hello?"},
    )
    assert too_early.status_code in (404, 409)

    staff_only = httpx.post(
        f"{base('queue')}/queue/claims", headers=auth, json={"skills": ["nurse"]}
    )
    assert staff_only.status_code == 403
