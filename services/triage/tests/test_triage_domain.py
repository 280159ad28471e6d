"""The triage aggregate: start, answer, go back, resume, re-triage, expire. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from careflow.contracts import ActorRole, Event, Skill, TriageCompleted, Urgency, parse_event
from careflow.contracts.triage_events import (
    AnswerWithdrawn,
    QuestionAnswered,
    TriageAbandoned,
    TriageStarted,
)
from careflow.kit.domain import Conflict, Invalid, NotFound
from careflow.triage import domain
from careflow.triage.lint import lint_directory
from careflow.triage.questionnaire.model import PatientContext, patient_context

pytestmark = [pytest.mark.triage, pytest.mark.unit]

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
Q = {q.id: q for q in lint_directory()[0]}
ADULT_PIN = "199001012385"  # a woman of 36
CHILD_PIN = "201407012380"  # a girl of 12
# What the tokens tell triage of them (never the numbers themselves).
ADULT = patient_context(ADULT_PIN, NOW.date())
CHILD = patient_context(CHILD_PIN, NOW.date())


def fold(state: domain.CaseTriage, events: Sequence[Event]) -> domain.CaseTriage:
    for e in events:
        # Through the wire format, as the store keeps them.
        state = domain.evolve(state, parse_event(e.to_json()))
    return state


def opened(pin: str = ADULT_PIN, guardian: str | None = None) -> domain.CaseTriage:
    subject = "child-1" if guardian else "p-1"
    context = patient_context(pin, NOW.date())
    patient = domain.Patient(subject, context, "Uppsala", acting_guardian_id=guardian)
    return fold(
        domain.CaseTriage(), domain.decide_open(domain.CaseTriage(), uuid.uuid4(), patient, NOW)
    )


def answer_all(
    state: domain.CaseTriage,
    questionnaire_id: str,
    answers: dict[str, Any],
    who: str = "p-1",
    at: datetime = NOW,
    acting_for: str | None = None,
) -> tuple[domain.CaseTriage, list[Event]]:
    q = Q[questionnaire_id]
    decided: list[Event] = []
    while state.status is domain.Status.IN_PROGRESS:
        assert state.session is not None and state.session.current is not None
        new = domain.decide_answer(
            state,
            q,
            state.session.current,
            answers[state.session.current],
            who,
            at,
            acting_for=acting_for,
        )
        decided += new
        state = fold(state, new)
    return state, decided


def started(
    state: domain.CaseTriage,
    questionnaire_id: str = "fever",
    who: str = "p-1",
    at: datetime = NOW,
    acting_for: str | None = None,
    patient: PatientContext = ADULT,
) -> domain.CaseTriage:
    return fold(
        state,
        domain.decide_start(
            state, Q[questionnaire_id], "sv", who, at, patient=patient, acting_for=acting_for
        ),
    )


CALM = {"breathing": False, "spots": False, "temperature": 38.5}


def test_answers_are_events_and_the_last_one_completes_with_reasons() -> None:
    state = started(opened())
    assert state.session is not None and state.session.patient.age_years == 36
    state, events = answer_all(state, "fever", {**CALM, "days": 4})
    types = [type(e) for e in events]
    assert types == [QuestionAnswered] * 4 + [TriageCompleted]
    done = events[-1]
    assert isinstance(done, TriageCompleted)
    assert done.urgency is Urgency.YELLOW and done.target_queue is not None
    assert done.target_queue.skill is Skill.NURSE and done.target_queue.region == "Uppsala"
    assert [a.question_id for a in done.answers] == ["breathing", "spots", "temperature", "days"]
    assert done.rules_fired == ("fever>=3d", "outcome:nurse_priority")
    assert (done.questionnaire_id, done.questionnaire_hash) == ("fever", Q["fever"].hash)
    assert done.causation_id == events[-2].event_id
    assert state.status is domain.Status.COMPLETED and state.revision == 1


def test_a_red_flag_ends_at_once_and_self_care_carries_advice() -> None:
    _, events = answer_all(started(opened()), "fever", {"breathing": True})
    done = events[-1]
    assert isinstance(done, TriageCompleted) and len(events) == 2
    assert done.urgency is Urgency.RED and done.target_queue is None
    assert done.rules_fired == ("red-flag:breathing", "outcome:call_112")

    _, events = answer_all(started(opened()), "fever", {**CALM, "days": 1, "symptoms": []})
    done = events[-1]
    assert isinstance(done, TriageCompleted) and done.urgency is Urgency.BLUE
    assert done.advice and done.advice.startswith("Vila")


def test_going_back_asks_the_question_again_and_resuming_rebuilds_the_same_state() -> None:
    patient = domain.Patient("p-1", ADULT, "Uppsala")
    stream: list[Event] = domain.decide_open(domain.CaseTriage(), uuid.uuid4(), patient, NOW)
    state = fold(domain.CaseTriage(), stream)
    stream += domain.decide_start(state, Q["fever"], "en", "p-1", NOW, patient=ADULT)
    state = fold(domain.CaseTriage(), stream)
    for qid, value in [("breathing", False), ("spots", False)]:
        stream += domain.decide_answer(state, Q["fever"], qid, value, "p-1", NOW)
        state = fold(domain.CaseTriage(), stream)
    back = domain.decide_back(state, "p-1", NOW)
    assert isinstance(back[0], AnswerWithdrawn) and back[0].question_id == "spots"
    stream += back
    state = fold(state, back)
    assert state.session is not None and state.session.current == "spots"
    assert state.session.answers == (("breathing", False),)
    # A reconnecting patient: the state folded from the stored stream is the same.
    assert fold(domain.CaseTriage(), stream) == state
    stream += domain.decide_answer(state, Q["fever"], "spots", True, "p-1", NOW)
    done = stream[-1]
    assert isinstance(done, TriageCompleted) and done.urgency is Urgency.RED
    assert [a.question_id for a in done.answers] == ["breathing", "spots"]


def test_only_the_current_question_is_answered_and_bad_values_are_refused() -> None:
    state = started(opened())
    fever = Q["fever"]
    with pytest.raises(Conflict, match="not the current question"):
        domain.decide_answer(state, fever, "days", 3, "p-1", NOW)
    with pytest.raises(Invalid, match="unknown question"):
        domain.decide_answer(state, fever, "favourite_colour", "blue", "p-1", NOW)
    with pytest.raises(Invalid, match="yes or no"):
        domain.decide_answer(state, fever, "breathing", "no", "p-1", NOW)
    with pytest.raises(Conflict, match="nothing to go back to"):
        domain.decide_back(state, "p-1", NOW)
    with pytest.raises(Conflict, match="questionnaire changed"):
        domain.decide_answer(state, Q["cough"], "breathing", "normal", "p-1", NOW)


def test_strangers_get_the_same_404_as_a_missing_case() -> None:
    state = started(opened())
    with pytest.raises(NotFound):
        domain.decide_start(opened(), Q["fever"], "sv", "someone-else", NOW, patient=ADULT)
    with pytest.raises(NotFound):
        domain.decide_answer(state, Q["fever"], "breathing", False, "someone-else", NOW)
    with pytest.raises(NotFound):
        domain.decide_back(state, "someone-else", NOW)
    with pytest.raises(NotFound):
        domain.decide_answer(domain.CaseTriage(), Q["fever"], "breathing", False, "p-1", NOW)


def test_a_guardian_triages_a_child_on_the_child_branch() -> None:
    state = started(
        opened(CHILD_PIN, guardian="parent-1"),
        who="parent-1",
        acting_for="child-1",
        patient=CHILD,
    )
    assert state.session is not None and state.session.patient.age_years == 12
    state, events = answer_all(
        state, "fever", {**CALM, "child_drinking": "less"}, who="parent-1", acting_for="child-1"
    )
    done = events[-1]
    assert isinstance(done, TriageCompleted)
    assert done.actor.role is ActorRole.GUARDIAN and done.actor.on_behalf_of == "child-1"
    assert "child-branch" in done.rules_fired and done.urgency is Urgency.YELLOW


def test_only_a_token_acting_for_the_patient_reaches_the_case() -> None:
    """A guardian reaches a child's case only while acting for that child; every guardian
    does (identity grants acting for a child only to the register's guardians), not only
    the one who opened it."""
    child_case = opened(CHILD_PIN, guardian="parent-1")
    assert domain.may_see(child_case, "parent-1", acting_for="child-1")
    assert not domain.may_see(child_case, "parent-1")  # their own token
    assert not domain.may_see(child_case, "parent-1", acting_for="child-2")
    assert domain.may_see(child_case, "parent-2", acting_for="child-1")  # the other guardian
    assert not domain.may_see(child_case, "parent-2")  # ... but not with their own token
    assert domain.may_see(child_case, "child-1")  # the child themselves
    own_case = opened()
    assert domain.may_see(own_case, "p-1")
    assert not domain.may_see(own_case, "p-1", acting_for="child-1")
    with pytest.raises(NotFound):
        domain.decide_start(child_case, Q["fever"], "sv", "parent-1", NOW, patient=ADULT)


def test_children_under_one_are_not_triaged_here() -> None:
    infant = patient_context("202601012383", NOW.date())
    baby = domain.Patient("b-1", infant, "Uppsala", acting_guardian_id="parent-1")
    with pytest.raises(Invalid, match="under one"):
        domain.decide_open(domain.CaseTriage(), uuid.uuid4(), baby, NOW)


def test_a_waiting_patient_re_triages_into_a_new_revision() -> None:
    state, _ = answer_all(started(opened()), "fever", {**CALM, "days": 1, "symptoms": ["ear_pain"]})
    assert state.completion is not None and state.completion.urgency is Urgency.GREEN
    later = NOW + timedelta(hours=2)
    state = started(state, "cough", at=later)
    with pytest.raises(Conflict, match="already in progress"):
        domain.decide_start(state, Q["fever"], "sv", "p-1", later, patient=ADULT)
    state, events = answer_all(state, "cough", {"breathing": "breathless_at_rest"}, at=later)
    again = events[-1]
    assert isinstance(again, TriageCompleted) and again.revision == 2
    assert again.urgency is Urgency.ORANGE

    # Not queued (emergency now): a third triage on this case is refused.
    with pytest.raises(Conflict, match="needs no queue"):
        domain.decide_start(state, Q["fever"], "sv", "p-1", later, patient=ADULT)


def test_an_abandoned_triage_expires_and_can_be_started_again() -> None:
    ttl = timedelta(minutes=60)
    state = started(opened())
    state = fold(state, domain.decide_answer(state, Q["fever"], "breathing", False, "p-1", NOW))
    assert domain.decide_expire(state, NOW + ttl - timedelta(seconds=1), ttl) == []
    late = NOW + ttl
    with pytest.raises(Conflict, match="expired"):
        domain.decide_answer(state, Q["fever"], "spots", False, "p-1", late, ttl)
    [expired] = domain.decide_expire(state, late, ttl)
    assert isinstance(expired, TriageAbandoned) and expired.reason == "expired"
    assert expired.actor.role is ActorRole.SYSTEM

    restarted = domain.decide_start(state, Q["fever"], "sv", "p-1", late, ttl, patient=ADULT)
    assert [type(e) for e in restarted] == [TriageAbandoned, TriageStarted]
    state = fold(state, restarted)
    assert state.session is not None and state.session.answers == () and state.revision == 0

    [given_up] = domain.decide_give_up(state, "p-1", late)
    assert isinstance(given_up, TriageAbandoned) and given_up.reason == "given_up"
    assert fold(state, [given_up]).status is domain.Status.ABANDONED


@pytest.mark.journey
def test_no_re_triage_once_contact_has_begun_or_the_case_closed() -> None:
    state, _ = answer_all(started(opened()), "fever", {**CALM, "days": 1, "symptoms": ["ear_pain"]})
    later = NOW + timedelta(hours=1)
    for contact, why in (
        (domain.Contact.IN_CONTACT, "contact with care staff has begun"),
        (domain.Contact.CLOSED, "this case is closed"),
    ):
        with pytest.raises(Conflict, match=why):
            domain.decide_start(
                state, Q["fever"], "sv", "p-1", later, patient=ADULT, contact=contact
            )
    # A re-triage started while waiting is refused at its last answer once contact began.
    retriaging = started(state, at=later)
    assert retriaging.session is not None and retriaging.session.current is not None
    with pytest.raises(Conflict, match="contact with care staff has begun"):
        domain.decide_answer(
            retriaging,
            Q["fever"],
            retriaging.session.current,
            False,
            "p-1",
            later,
            contact=domain.Contact.IN_CONTACT,
        )
    # The first triage is never refused for it; and a closed case stays closed.
    assert domain.decide_start(opened(), Q["fever"], "sv", "p-1", NOW, patient=ADULT)
    assert (
        domain.contact_after(domain.Contact.CLOSED, domain.Contact.WAITING) is domain.Contact.CLOSED
    )
    assert domain.contact_after(domain.Contact.IN_CONTACT, domain.Contact.WAITING) is (
        domain.Contact.WAITING
    )
