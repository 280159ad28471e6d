"""The care journey without loose ends (issue 18), through the six real service processes,
real Kafka and real PostgreSQL: re-triage, every patient reached, outcomes documented,
signing, the care guarantee, complaints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from journey_support import GREEN_FEVER, YELLOW_FEVER, Journey

from careflow.cli.flow import wait_for
from careflow.cli.platform import Platform

pytestmark = [pytest.mark.journey, pytest.mark.e2e]


class PatientPlatform(Platform):
    """The platform, given longer to start: the machine it is tested on is shared and busy."""

    def wait_ready(self, timeout: float = 900.0) -> None:
        super().wait_ready(timeout)


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    logs = tmp_path_factory.mktemp("journey-logs")
    env = {
        # A patient nobody reached within this time is put on the staff's list.
        "CAREFLOW_UNSEEN_AFTER_SECONDS": "3",
        "CAREFLOW_UNREACHED_SWEEP_SECONDS": "0.5",
        # A note unsigned for this long is flagged to its author.
        "CAREFLOW_JOURNAL_UNSIGNED_FLAG_AFTER_SECONDS": "2",
        # Alert on the 3-day assessment limit from 3 days and an hour: every new case is near.
        "CAREFLOW_QUEUE_ASSESSMENT_WARNING_SECONDS": str(3 * 86400 + 3600),
    }
    with PatientPlatform.running(
        service_ports, infra.bootstrap_servers, infra.database_url, str(logs), extra_env=env
    ) as running:
        yield running


@pytest.fixture
def journey(platform: Platform) -> Iterator[Journey]:
    j = Journey(platform.url)
    yield j
    j.http.close()


def _retriage(j: Journey, patient: str, case_id: str, answers: dict[str, object]) -> int:
    """Answer the fever questionnaire again on a case; the status of the first refusal, or 200."""
    started = j.call(
        "POST",
        "triage",
        f"/cases/{case_id}/triage",
        patient,
        json={"questionnaire_id": "fever", "language": "sv"},
    )
    if started.status_code != 201:
        return started.status_code
    step = started.json()
    while step["status"] == "in_progress":
        question = step["question"]["id"]
        answered = j.call(
            "POST",
            "triage",
            f"/cases/{case_id}/triage/answers",
            patient,
            json={"question_id": question, "value": answers[question]},
        )
        if answered.status_code != 200:
            return answered.status_code
        step = answered.json()
    return 200


def test_a_waiting_patient_who_gets_worse_moves_up_and_no_retriage_after_contact(
    journey: Journey,
) -> None:
    region = "Dalarna"
    first, second = journey.patient(region), journey.patient(region)
    nurse = journey.staff(region)
    earlier, _ = journey.triaged(first, GREEN_FEVER)
    journey.waiting(first, earlier)
    case_id, outcome = journey.triaged(second, GREEN_FEVER)
    assert outcome["urgency"] == 4
    before = journey.waiting(second, case_id)
    assert before["urgency"] == 4
    assert before["position"] > journey.waiting(first, earlier)["position"]

    # The second patient got worse while waiting: answers again, now with four days of fever.
    assert _retriage(journey, second, case_id, YELLOW_FEVER) == 200

    def moved() -> dict[str, object] | None:
        place = journey.place(second, case_id)
        return place if place and place["urgency"] == 3 else None

    after = wait_for("queue to apply the re-triage from Kafka", moved)
    assert after["status"] == "waiting"
    assert after["position"] < journey.waiting(first, earlier)["position"]
    assert after["waiting_since"] == before["waiting_since"]  # keeps the time already waited

    # A nurse takes the case: triage hears of it (TurnReached) and refuses a re-triage.
    journey.claim(nurse, case_id)

    def refused() -> dict[str, object] | None:
        r = journey.call(
            "POST",
            "triage",
            f"/cases/{case_id}/triage",
            second,
            json={"questionnaire_id": "fever", "language": "sv"},
        )
        if r.status_code == 201:  # TurnReached not in triage yet: give this one up, try again
            journey.ok("DELETE", "triage", f"/cases/{case_id}/triage", second)
        return r.json() if r.status_code == 409 else None

    problem = wait_for("triage to refuse a re-triage once contact has begun", refused)
    assert "contact with care staff has begun" in str(problem["detail"])

    # The other case is closed (withdrawn by its patient): re-triage refused, saying so.
    journey.ok("POST", "queue", f"/cases/{earlier}/withdraw", first)

    def refused_closed() -> dict[str, object] | None:
        r = journey.call(
            "POST",
            "triage",
            f"/cases/{earlier}/triage",
            first,
            json={"questionnaire_id": "fever", "language": "sv"},
        )
        return r.json() if r.status_code == 409 and "closed" in r.text else None

    assert "this case is closed" in str(
        wait_for("a re-triage of a closed case refused", refused_closed)["detail"]
    )


def _your_turn(j: Journey, patient: str, case_id: str) -> dict[str, object]:
    def shown() -> dict[str, object] | None:
        r = j.call("GET", "notify", f"/cases/{case_id}/notifications", patient)
        found = [n for n in r.json() if n["kind"] == "your_turn"] if r.status_code == 200 else []
        return found[0] if found else None

    found: dict[str, object] = wait_for("your turn in the app", shown)
    return found


def test_a_patient_nobody_reaches_is_put_on_the_staff_list(journey: Journey) -> None:
    region = "Kalmar län"
    unseen, seeing = journey.patient(region), journey.patient(region)
    nurse = journey.staff(region)
    # Neither patient chose SMS or e-mail: the app is the only way to reach them.
    assert journey.ok("GET", "notify", "/preferences", unseen)["channels"] == []
    lost, _ = journey.triaged(unseen, GREEN_FEVER)
    found, _ = journey.triaged(seeing, GREEN_FEVER)
    for patient, case_id in ((unseen, lost), (seeing, found)):
        journey.waiting(patient, case_id)
        journey.claim(nurse, case_id)
    # The app shows "your turn" to the one who looks, and says so.
    turn = _your_turn(journey, seeing, found)
    seen = journey.ok(
        "POST", "notify", f"/cases/{found}/notifications/{turn['notification_id']}/seen", seeing
    )
    assert seen["notification_id"] == turn["notification_id"]
    assert journey.call(
        "POST", "notify", f"/cases/{found}/notifications/{turn['notification_id']}/seen", nurse
    ).status_code in (403, 404)
    _your_turn(journey, unseen, lost)

    def listed() -> list[dict[str, object]] | None:
        rows = journey.ok("GET", "queue", "/unreached", nurse)
        return [r for r in rows if r["case_id"] == lost] or None

    [row] = wait_for("the unseen patient on the staff's unreached list", listed)
    assert row["channel"] == "in_app" and row["reason"] == "no_channel"
    assert row["kind"] == "your_turn"

    # The notify setting is 3 s: well past it, the patient who saw it is not on the list.
    import time

    time.sleep(4)
    rows = journey.ok("GET", "queue", "/unreached", nurse)
    assert found not in {r["case_id"] for r in rows}


def test_the_closing_note_holds_the_outcome_and_is_signed_by_its_professional(
    journey: Journey,
) -> None:
    region = "Kronoberg"
    patient = journey.patient(region)
    nurse = journey.staff(region, name="Nina Sjöberg", title="nurse")
    colleague = journey.staff(region, name="Olle Berg", title="doctor")
    case_id, _ = journey.triaged(patient, GREEN_FEVER)
    journey.waiting(patient, case_id)
    journey.claim(nurse, case_id)
    journey.send(nurse, case_id, "Hej! Jag heter Nina och är sjuksköterska.")
    visit = {"care_unit": "Vårdcentralen Teleborg", "starts_at": "2030-01-15T09:30:00+01:00"}
    journey.close(
        nurse,
        case_id,
        {
            "outcome": "booked_appointment",
            "advice": "Ta med en lista över dina mediciner.",
            "documentation_note": "Öronvärk och feber ett dygn. Bokad tid på vårdcentralen.",
            "appointment": visit,
        },
    )
    entries = journey.entries(nurse, case_id, {"documentation_note", "message"})
    [note] = [e for e in entries if e["kind"] == "documentation_note"]
    # Everything the outcome holds, not only the advice.
    assert note["content"]["outcome"] == "booked_appointment"
    assert note["content"]["appointment"] == {
        "care_unit": "Vårdcentralen Teleborg",
        "starts_at": "2030-01-15T08:30:00+00:00",
    }
    assert note["content"]["advice"] == "Ta med en lista över dina mediciner."
    # The staff message is attributed to a named, titled professional in the record.
    [message] = [e for e in entries if e["kind"] == "message"]
    assert (message["professional_name"], message["professional_title"]) == (
        "Nina Sjöberg",
        "nurse",
    )

    # Unsigned: listed to its author, flagged once the journal's time (2 s here) has passed.
    def listed_overdue() -> list[dict[str, object]] | None:
        rows = journey.ok("GET", "journal", "/me/unsigned-notes", nurse)
        mine = [r for r in rows if r["case_id"] == case_id]
        return mine if mine and mine[0]["overdue"] else None

    [unsigned] = wait_for("the unsigned note flagged to its author", listed_overdue)
    assert unsigned["source_event_id"] == note["source_event_id"]
    assert journey.ok("GET", "journal", "/me/unsigned-notes", colleague) == []

    path = f"/cases/{case_id}/entries/{note['source_event_id']}/signature"
    assert journey.call("POST", "journal", path, colleague).status_code in (403, 404)
    signed = journey.call("POST", "journal", path, nurse)
    assert signed.status_code == 201, signed.text
    assert signed.json()["signed_by"] == unsigned_signer(nurse, journey)
    again = journey.call("POST", "journal", path, nurse)
    assert again.status_code == 409 and "already signed" in again.json()["detail"]
    assert [
        r
        for r in journey.ok("GET", "journal", "/me/unsigned-notes", nurse)
        if r["case_id"] == case_id
    ] == []

    # The signature is an entry of its own, with its time and signer; the note is unchanged.
    entries = journey.entries(nurse, case_id, {"signature"})
    [signature] = [e for e in entries if e["kind"] == "signature"]
    assert signature["content"]["signs_event_id"] == note["source_event_id"]
    assert signature["content"]["signs_entry_hash"] == note["entry_hash"]
    assert signature["professional_name"] == "Nina Sjöberg"
    assert [e for e in entries if e["kind"] == "documentation_note"] == [note]
    verified = journey.ok("GET", "journal", f"/cases/{case_id}/verify", nurse)
    assert verified["valid"] is True


def unsigned_signer(token: str, journey: Journey) -> str:
    """The staff id a token names (the hsa id it was issued for)."""
    import base64
    import json

    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def test_the_care_guarantee_runs_from_first_contact_to_the_assessment(journey: Journey) -> None:
    region = "Västerbotten"
    booked, advised = journey.patient(region), journey.patient(region)
    nurse = journey.staff(region)
    late, _ = journey.triaged(booked, GREEN_FEVER)
    quick, _ = journey.triaged(advised, GREEN_FEVER)
    first = journey.waiting(booked, late)
    journey.waiting(advised, quick)

    def worklist() -> dict[str, dict[str, object]]:
        rows = journey.ok("GET", "queue", "/guarantee", nurse)
        return {str(r["case_id"]): r for r in rows}

    waiting = worklist()[late]
    assert waiting["first_contact_at"] == first["waiting_since"]
    due = datetime.fromisoformat(str(waiting["assessment_due"]))
    assert due - datetime.fromisoformat(str(first["waiting_since"])) == timedelta(days=3)
    # The alert window is set beyond 3 days here, so a new case is already near.
    assert waiting["alert"] is True and waiting["overdue"] is False
    assert waiting["assessed_at"] is None

    # One contact books a visit five days out: past the limit, flagged.
    journey.claim(nurse, late)
    five_days = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    journey.close(
        nurse,
        late,
        {
            "outcome": "booked_appointment",
            "documentation_note": "Öronvärk. Bokad tid.",
            "appointment": {
                "care_unit": "Vårdcentralen Ersboda",
                "starts_at": five_days.isoformat(),
            },
        },
    )
    # The other is assessed in the chat and closed with advice: the guarantee is met.
    journey.claim(nurse, quick)
    journey.close(
        nurse,
        quick,
        {
            "outcome": "self_care_advice",
            "advice": "Vila och drick mycket.",
            "documentation_note": "Feber ett dygn, egenvård.",
        },
    )

    def settled() -> dict[str, dict[str, object]] | None:
        rows = worklist()
        return rows if quick not in rows and rows.get(late, {}).get("outcome") else None

    rows = wait_for("queue to hear both contacts closed", settled)
    flagged = rows[late]
    assert flagged["outcome"] == "booked_appointment"
    assert flagged["booking_beyond_limit"] is True and flagged["overdue"] is True
    assert datetime.fromisoformat(str(flagged["assessed_at"])) == five_days


def test_a_patient_complains_about_a_contact_and_the_region_sees_it(journey: Journey) -> None:
    region = "Värmland"
    patient = journey.patient(region)
    nurse = journey.staff(region, name="Nina Sjöberg", title="nurse")
    elsewhere = journey.staff("Skåne")
    case_id, _ = journey.triaged(patient, GREEN_FEVER)
    journey.waiting(patient, case_id)
    journey.claim(nurse, case_id)
    journey.send(nurse, case_id, "Hej, hur kan jag hjälpa dig?")
    journey.close(
        nurse,
        case_id,
        {
            "outcome": "self_care_advice",
            "advice": "Vila.",
            "documentation_note": "Feber, egenvård.",
        },
    )
    complaint = {"category": "communication", "text": "Jag förstod inte rådet jag fick."}
    # Staff cannot file one on the patient's behalf; an empty one is refused.
    path = f"/cases/{case_id}/complaints"
    assert journey.call("POST", "chat", path, nurse, json=complaint).status_code == 403
    blank = journey.call("POST", "chat", path, patient, json={"text": "   "})
    assert blank.status_code == 422
    filed = journey.call("POST", "chat", path, patient, json=complaint)
    assert filed.status_code == 201, filed.text

    listed = [c for c in journey.ok("GET", "chat", "/complaints", nurse) if c["case_id"] == case_id]
    assert [(c["category"], c["text"], c["staff_name"], c["staff_title"]) for c in listed] == [
        ("communication", "Jag förstod inte rådet jag fick.", "Nina Sjöberg", "nurse")
    ]
    assert all(c["case_id"] != case_id for c in journey.ok("GET", "chat", "/complaints", elsewhere))
    assert journey.call("GET", "chat", "/complaints", patient).status_code == 403


#: Fever for a day, nothing else: self-care advice from triage, nothing queued.
SELF_CARE_FEVER = {**GREEN_FEVER, "symptoms": [], "child_drinking": "normal"}


def test_my_cases_keep_self_care_advice_and_withdrawals_and_every_guardian_sees_the_child(
    journey: Journey,
) -> None:
    """What "Mina ärenden" reads for each case (the web lists the cases opened for the person
    it shows): a self-care outcome with its advice, a withdrawn case, and a child's case read
    by the other guardian in the register, not only the one who opened it."""
    region = "Skåne"
    patient = journey.patient(region)
    self_care, outcome = journey.triaged(patient, SELF_CARE_FEVER)
    assert outcome["recommendation"] == "self_care"
    withdrawn, _ = journey.triaged(patient, GREEN_FEVER)
    journey.waiting(patient, withdrawn)
    journey.ok("POST", "queue", f"/cases/{withdrawn}/withdraw", patient)

    later = journey.ok(
        "GET", "triage", f"/cases/{self_care}/triage", patient, params={"language": "sv"}
    )
    assert later["outcome"]["recommendation"] == "self_care"
    assert str(later["outcome"]["advice"]).startswith("Vila, drick mycket")
    assert (journey.place(patient, withdrawn) or {})["status"] == "withdrawn"

    # Maja and Elias are both guardians of the same child in the register's seed.
    child = "201908089012"

    def guardian(pin: str, acting: bool = True) -> str:
        body = {"personal_identity_number": pin, "region": region}
        if acting:
            body["acting_for_pin"] = child
        token: str = journey.ok("POST", "identity", "/dev/patient-tokens", json=body)[
            "access_token"
        ]
        return token

    maja, elias = guardian("198307079122"), guardian("198107089255")
    childs_case, _ = journey.triaged(maja, SELF_CARE_FEVER)
    seen = journey.ok(
        "GET", "triage", f"/cases/{childs_case}/triage", elias, params={"language": "sv"}
    )
    assert seen["outcome"]["recommendation"] == "self_care"
    queued, _ = journey.triaged(maja, {**GREEN_FEVER, "child_drinking": "normal"})
    assert journey.waiting(elias, queued)["status"] == "waiting"
    # With his own token, not acting for the child, Elias does not see it.
    alone = guardian("198107089255", acting=False)
    assert journey.call("GET", "triage", f"/cases/{childs_case}/triage", alone).status_code == 404
    assert journey.place(alone, queued) is None
