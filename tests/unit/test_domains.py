"""Pure domain rules of the walking skeleton: no I/O, plain data in and out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careflow.chat import domain as chat
from careflow.contracts import (
    Event,
    Outcome,
    Professional,
    QueueRef,
    Skill,
    TriageCompleted,
    Urgency,
)
from careflow.identity import domain as identity
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound
from careflow.notify import domain as notify
from careflow.queue import domain as queue
from careflow.triage import domain as triage
from careflow.triage.lint import lint_directory
from careflow.triage.questionnaire.model import patient_context

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ADULT = patient_context("199001012385", NOW.date())  # a woman of 36, as a token tells it
NURSE = Professional(staff_id="SE-1", name="Nina", title="nurse", care_unit="1177 direkt")


def opened_triage(pin: str = "191212121212") -> tuple[triage.CaseTriage, uuid.UUID]:
    case = uuid.uuid4()
    patient = triage.Patient("p-1", patient_context(pin, NOW.date()), "Uppsala")
    state = triage.CaseTriage()
    for e in triage.decide_open(state, case, patient, NOW):
        state = triage.evolve(state, e)
    return state, case


FEVER = {q.id: q for q in lint_directory()[0]}["fever"]


def answer_fever(answers: dict[str, Any], at: datetime = NOW) -> list[Event]:
    """Start the fever questionnaire for a 36-year-old and answer it; every event decided."""
    state, _ = opened_triage("199001012385")
    decided: list[Event] = []
    for e in triage.decide_start(state, FEVER, "sv", "p-1", at, patient=ADULT):
        state = triage.evolve(state, e)
        decided.append(e)
    while state.status is triage.Status.IN_PROGRESS:
        assert state.session is not None and state.session.current is not None
        question = state.session.current
        for e in triage.decide_answer(state, FEVER, question, answers[question], "p-1", at):
            state = triage.evolve(state, e)
            decided.append(e)
    return decided


CALM = {"breathing": False, "spots": False, "temperature": 38.5}


@pytest.mark.triage
@pytest.mark.parametrize(
    ("answers", "urgency", "queued"),
    [
        ({"breathing": True}, Urgency.RED, False),
        ({**CALM, "temperature": 41.6}, Urgency.ORANGE, False),
        ({**CALM, "days": 1, "symptoms": []}, Urgency.BLUE, False),
        ({**CALM, "days": 3}, Urgency.YELLOW, True),
        ({**CALM, "days": 1, "symptoms": ["ear_pain"]}, Urgency.GREEN, True),
    ],
)
def test_triage_turns_answers_into_urgency(answers, urgency, queued) -> None:  # type: ignore[no-untyped-def]
    done = answer_fever(answers)[-1]
    assert isinstance(done, TriageCompleted)
    assert done.urgency is urgency
    assert (done.target_queue is not None) is queued
    assert done.revision == 1 and done.rules_fired


@pytest.mark.triage
def test_triage_refuses_strangers_and_bad_answers() -> None:
    state, _ = opened_triage()
    with pytest.raises(NotFound):
        triage.decide_start(state, FEVER, "sv", "p-2", NOW, patient=ADULT)
    for e in triage.decide_start(state, FEVER, "sv", "p-1", NOW, patient=ADULT):
        state = triage.evolve(state, e)
    with pytest.raises(NotFound):
        triage.decide_answer(state, FEVER, "breathing", False, "p-2", NOW)
    with pytest.raises(Invalid):
        triage.decide_answer(state, FEVER, "breathing", "many", "p-1", NOW)
    with pytest.raises(NotFound):
        triage.decide_answer(triage.CaseTriage(), FEVER, "breathing", False, "p-1", NOW)


def triaged(urgency: Urgency, at: datetime, revision: int = 1) -> TriageCompleted:
    days = 3 if urgency is Urgency.YELLOW else 1
    done = answer_fever({**CALM, "days": days, "symptoms": ["ear_pain"]}, at)[-1]
    assert isinstance(done, TriageCompleted)
    return done.model_copy(update={"urgency": urgency, "occurred_at": at, "revision": revision})


def test_queue_places_claims_and_keeps_waiting_time_on_retriage() -> None:
    first = triaged(Urgency.GREEN, NOW)
    state = queue.QueuedCase()
    for e in queue.decide_place(state, first, NOW):
        state = queue.evolve(state, e)
    assert state.status is queue.Status.WAITING and state.waiting_since == NOW
    assert queue.decide_place(state, first, NOW) == []  # a redelivered triage changes nothing
    worse = first.model_copy(
        update={"revision": 2, "urgency": Urgency.YELLOW, "occurred_at": NOW + timedelta(minutes=5)}
    )
    for e in queue.decide_place(state, worse, NOW):
        state = queue.evolve(state, e)
    assert state.urgency is Urgency.YELLOW and state.waiting_since == NOW
    [turn] = queue.decide_claim(state, NURSE, NOW + timedelta(minutes=10))
    state = queue.evolve(state, turn)
    assert state.status is queue.Status.IN_CONTACT
    with pytest.raises(Conflict):
        queue.decide_claim(state, NURSE, NOW)


def test_queue_order_is_urgency_first_then_waiting_time() -> None:
    earlier, later = NOW, NOW + timedelta(minutes=1)
    keys = sorted(
        [
            (queue.priority(Urgency.GREEN, earlier), "green-early"),
            (queue.priority(Urgency.YELLOW, later), "yellow-late"),
            (queue.priority(Urgency.GREEN, later), "green-late"),
        ]
    )
    assert [k[1] for k in keys] == ["yellow-late", "green-early", "green-late"]


def test_a_call_112_triage_never_enters_a_queue() -> None:
    red = answer_fever({"breathing": True})[-1]
    assert isinstance(red, TriageCompleted)
    assert queue.decide_place(queue.QueuedCase(), red, NOW) == []


def test_notify_tells_each_turn_once() -> None:
    state = queue.QueuedCase()
    for e in queue.decide_place(state, triaged(Urgency.GREEN, NOW), NOW):
        state = queue.evolve(state, e)
    [turn] = queue.decide_claim(state, NURSE, NOW)
    n = notify.CaseNotifications()
    [told] = notify.decide_your_turn(n, turn, NOW)  # type: ignore[arg-type]
    n = notify.evolve(n, told)
    assert notify.decide_your_turn(n, turn, NOW) == []  # type: ignore[arg-type]


def participants() -> chat.Participants:
    case = uuid.uuid4()
    return chat.Participants(case, case, "p-1", "g-1", NURSE)


def test_chat_numbers_messages_and_closes() -> None:
    who = participants()
    state = chat.Conversation()
    for sender, text in [
        (chat.Sender("SE-1", is_staff=True), "Hej"),
        (chat.Sender("p-1"), "Hej!"),
        (chat.Sender("g-1", acting_for="p-1"), "Jag är mamma"),
    ]:
        for e in chat.decide_send(state, who, sender, text, NOW):
            state = chat.evolve(state, e)
    assert state.last_sequence == 3
    with pytest.raises(Forbidden):
        chat.decide_send(state, who, chat.Sender("p-2"), "hi", NOW)
    with pytest.raises(Forbidden):
        chat.decide_close(state, who, chat.Sender("p-1"), Outcome.REFERRAL, None, "n", NOW)
    with pytest.raises(Invalid):
        chat.decide_close(
            state,
            who,
            chat.Sender("SE-1", is_staff=True),
            Outcome.SELF_CARE_ADVICE,
            None,
            "note",
            NOW,
        )
    for e in chat.decide_close(
        state,
        who,
        chat.Sender("SE-1", is_staff=True),
        Outcome.SELF_CARE_ADVICE,
        "Vila",
        "note",
        NOW,
    ):
        state = chat.evolve(state, e)
    with pytest.raises(Conflict):
        chat.decide_send(state, who, chat.Sender("p-1"), "one more thing", NOW)


@pytest.mark.parametrize(
    ("pin", "ok"),
    [("191212121212", True), ("19121212-1212", True), ("191212121213", False), ("12345", False)],
)
def test_identity_validates_personal_identity_numbers(pin: str, ok: bool) -> None:
    if ok:
        assert identity.normalise_pin(pin, NOW.date()) == "191212121212"
    else:
        with pytest.raises(Invalid):
            identity.normalise_pin(pin, NOW.date())


def test_queue_ref_is_region_and_skill() -> None:
    assert QueueRef(region="Uppsala", skill=Skill.NURSE).skill is Skill.NURSE
