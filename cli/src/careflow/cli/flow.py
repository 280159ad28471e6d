"""One case through the running platform, over HTTP, as a patient and a nurse would.

Used by ``careflow demo`` and by the end-to-end tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from careflow.cli.retry import RetryOn503

TEST_PATIENT_PIN = "191212121212"  # Skatteverket's well-known test number
#: An adult with four days of fever and no red flags: a nurse, with priority (yellow).
DEMO_FEVER_ANSWERS: dict[str, Any] = {
    "breathing": False,
    "spots": False,
    "temperature": 38.5,
    "days": 4,
}


@dataclass
class FlowResult:
    case_id: str
    triage: dict[str, Any]
    claim: dict[str, Any]
    notifications: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    closed: dict[str, Any]
    journal: list[dict[str, Any]]
    verification: dict[str, Any]
    steps: list[str] = field(default_factory=list)


class NotYet(Exception):
    """A view has not caught up yet (e.g. a 404 before its projector saw the case): poll again.

    Any other error from a probe means "never" and ends the wait at once.
    """


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``probe`` until it returns something truthy (events travel asynchronously).

    A falsy value or ``NotYet`` means "not yet"; on timeout the last reason is reported.
    """
    deadline = time.monotonic() + timeout
    reason = "nothing yet"
    while time.monotonic() < deadline:
        try:
            value = probe()
        except NotYet as exc:
            reason = str(exc) or reason
        else:
            if value:
                return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what} ({reason})")


def eventually(response: httpx.Response) -> httpx.Response:
    """``response`` from a read of an eventually consistent view: a 404 is "not yet"."""
    if response.status_code == 404:
        raise NotYet(f"{response.request.url.path}: 404 {response.text[:200]}")
    return response


@dataclass
class Turn:
    """A case at its turn: triaged, queued and claimed by a nurse; with the session used."""

    http: httpx.Client
    call: Callable[..., httpx.Response]
    patient: str
    nurse: str
    case_id: str
    triage: dict[str, Any]
    claim: dict[str, Any]


def reach_turn(
    url: Callable[[str], str],
    region: str = "Västmanland",
    pin: str = TEST_PATIENT_PIN,
    say: Callable[[str], None] = lambda _: None,
) -> Turn:
    """Log a patient and a nurse in, triage a fever case and let the nurse claim it.

    ``url(service)`` gives each service's base URL. The caller closes ``Turn.http``.
    """
    # A 503 means a service's dependency is away for a moment: wait it out, bounded.
    http = httpx.Client(timeout=10.0, transport=RetryOn503())

    def call(
        method: str,
        service: str,
        path: str,
        token: str | None = None,
        *,
        view: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """``view=True``: a read of what consumers build, where 404 means "not yet"."""
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = http.request(
            method, f"{url(service)}/{service}{path}", headers=headers, **kwargs
        )
        if view:
            eventually(response)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /{service}{path}: {response.status_code} {response.text}")
        return response

    patient = call(
        "POST",
        "identity",
        "/dev/patient-tokens",
        json={"personal_identity_number": pin, "region": region},
    ).json()["access_token"]
    nurse_id = f"SE2321000131-E{uuid.uuid4().hex[:8]}"
    nurse = call(
        "POST",
        "identity",
        "/dev/staff-tokens",
        json={
            "hsa_id": nurse_id,
            "name": "Nina Sjöberg",
            "title": "nurse",
            "region": region,
            "care_unit": "1177 direkt Västmanland",
        },
    ).json()["access_token"]
    say("patient and nurse logged in")

    opened = call(
        "POST", "triage", "/cases", patient, json={"questionnaire_id": "fever", "language": "sv"}
    ).json()
    case_id = opened["case_id"]
    say(f"case {case_id} opened, fever questionnaire started")
    step = answer_questionnaire(call, patient, case_id, opened["step"], DEMO_FEVER_ANSWERS)
    triage: dict[str, Any] = step["outcome"]
    say(f"triage: urgency {triage['urgency']}, {triage['recommendation']}")

    def queued() -> bool:
        response = http.get(
            f"{url('queue')}/queue/cases/{case_id}",
            headers={"Authorization": f"Bearer {patient}"},
        )
        # 404 until queue has seen the case: events travel asynchronously.
        return response.status_code == 200 and response.json()["status"] == "waiting"

    wait_for("the case to be queued", queued)
    say("case waiting in the nurse queue")

    def claim_mine() -> dict[str, Any] | None:
        response = call("POST", "queue", "/claims", nurse, json={"skills": ["nurse"]})
        if response.status_code == 204:
            return None
        body: dict[str, Any] = response.json()
        return body

    # Other waiting cases (from earlier runs) are claimed first: most urgent, oldest first.
    claim = wait_for(
        "the nurse to claim the case",
        lambda: c if (c := claim_mine()) and c["case_id"] == case_id else None,
        timeout=60,
    )
    say("nurse claimed the case: TurnReached")
    return Turn(http, call, patient, nurse, case_id, triage, claim)


def run_case(
    url: Callable[[str], str],
    region: str = "Västmanland",
    pin: str = TEST_PATIENT_PIN,
    say: Callable[[str], None] = lambda _: None,
) -> FlowResult:
    """Drive one case from login to journal; ``url(service)`` gives each service's base URL."""
    turn = reach_turn(url, region, pin, say)
    http, call, patient, nurse = turn.http, turn.call, turn.patient, turn.nurse
    case_id, triage, claim = turn.case_id, turn.triage, turn.claim

    def notifications_so_far() -> list[dict[str, Any]] | None:
        response = http.get(
            f"{url('notify')}/notify/cases/{case_id}/notifications",
            headers={"Authorization": f"Bearer {patient}"},
        )
        # 404 until notify has seen the case: events travel asynchronously.
        return response.json() if response.status_code == 200 else None

    notifications = wait_for("the your-turn notification", notifications_so_far)
    say("patient notified: it is their turn")

    def send(token: str, text: str) -> dict[str, Any]:
        key = str(uuid.uuid4())
        sent: dict[str, Any] = wait_for(
            "the conversation to open", lambda: _try_send(call, case_id, token, text, key)
        )
        return sent

    send(nurse, "Hej! Jag heter Nina och är sjuksköterska. Hur mår du nu?")
    send(patient, "Jag har haft feber i fyra dagar, 38,5 i morse.")
    send(nurse, "Drick mycket och vila. Hör av dig om du får svårt att andas.")
    messages = call("GET", "chat", f"/cases/{case_id}/messages", patient).json()
    say(f"{len(messages)} messages exchanged")

    closed = call(
        "POST",
        "chat",
        f"/cases/{case_id}/close",
        nurse,
        json={
            "outcome": "self_care_advice",
            "advice": "Vila, drick mycket. Ring 1177 om du blir sämre.",
            "documentation_note": "Feber 4 dagar utan andningsbesvär. Egenvårdsråd givna.",
        },
    ).json()
    say(f"case closed: {closed['outcome']}")

    expected = 1 + 1 + len(messages) + 1  # triage, contact, messages, note

    def journal_so_far() -> list[dict[str, Any]] | None:
        # 404 ("no journal for this case") until the projector has seen the case.
        entries: list[dict[str, Any]] = call(
            "GET", "journal", f"/cases/{case_id}/entries", nurse, view=True
        ).json()
        return entries if len(entries) >= expected else None

    journal = wait_for("the journal entries", journal_so_far)
    verification = call("GET", "journal", f"/cases/{case_id}/verify", nurse).json()
    say(f"journal: {len(journal)} entries, chain valid: {verification['valid']}")
    http.close()
    return FlowResult(
        case_id, triage, claim, notifications, messages, closed, journal, verification
    )


def answer_questionnaire(
    call: Callable[..., httpx.Response],
    token: str,
    case_id: str,
    step: dict[str, Any],
    answers: dict[str, Any],
) -> dict[str, Any]:
    """Answer each question triage asks, one at a time, from ``answers``; the final step."""
    while step["status"] == "in_progress":
        question = step["question"]["id"]
        if question not in answers:
            raise RuntimeError(f"no answer for the triage question {question!r}")
        step = call(
            "POST",
            "triage",
            f"/cases/{case_id}/triage/answers",
            token,
            json={"question_id": question, "value": answers[question]},
        ).json()
    return step


def _try_send(
    call: Callable[..., httpx.Response], case_id: str, token: str, text: str, key: str
) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = call(
            "POST",
            "chat",
            f"/cases/{case_id}/messages",
            token,
            json={"text": text},
            headers={"Idempotency-Key": key},
        ).json()
        return body
    except RuntimeError as exc:
        if " 409 " in str(exc) and "not the patient's turn" in str(exc):
            return None  # TurnReached has not reached chat yet
        if " 404 " in str(exc) and "no such case" in str(exc):
            return None  # CaseOpened has not reached chat yet (its consumer may still be joining)
        raise
