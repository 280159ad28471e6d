"""Triage rules: a case is opened, the patient answers a questionnaire, the answers become
an urgency, a recommendation and a queue.

Pure: no I/O; the current time, fresh event ids, the questionnaire and the caller
are passed in (``now``, ``new_id``). Events with a natural key get a deterministic
id instead: a case is opened once (``CaseOpened``), and each revision of its
triage completes once (``TriageCompleted``).
The aggregate is one case's triage, rebuilt with ``evolve`` from its own stream
(``triage-<case>``) and changed only through ``decide_*``. Every answer is an
event, so a patient who reconnects resumes where they were, and an auditor can
replay exactly what was asked and answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    Answer,
    CaseOpened,
    Event,
    QueueRef,
    Recommendation,
    TriageCompleted,
    Urgency,
)
from careflow.contracts.triage_events import (
    AnswerWithdrawn,
    QuestionAnswered,
    TriageAbandoned,
    TriageStarted,
)
from careflow.kit.clock import natural_id
from careflow.kit.domain import Conflict, Invalid, NotFound
from careflow.triage.messages import said
from careflow.triage.questionnaire.engine import check_answer, evaluate
from careflow.triage.questionnaire.model import (
    MIN_AGE_YEARS,
    AnswerValue,
    PatientContext,
    Questionnaire,
    Sex,
)

PRODUCER = "triage"
SYSTEM = Actor(id="triage", role=ActorRole.SYSTEM)
#: A triage nobody answered for this long is abandoned (the default of the service setting).
DEFAULT_ABANDON_AFTER = timedelta(minutes=60)

#: Draws a fresh event id: the command passes its clock's ``new_id``. Without one
#: (a test that does not care), the event contract draws the id itself.
NewId = Callable[[], UUID]


class Contact(StrEnum):
    """How far the case has come beyond triage, as queue and chat told triage (events)."""

    WAITING = "waiting"
    IN_CONTACT = "in_contact"
    CLOSED = "closed"


def retriage_refusal(contact: Contact) -> str | None:
    """Why a re-triage is refused at this stage of the case, or None while it waits.

    Once care staff have the case, a new urgency would move nothing: the patient tells
    them instead. A closed case is over: a new case is the way to seek care again.
    """
    if contact is Contact.IN_CONTACT:
        return "contact with care staff has begun: tell them in the chat how you feel now"
    if contact is Contact.CLOSED:
        return "this case is closed; open a new case to seek care again"
    return None


def contact_after(current: Contact | None, seen: Contact) -> Contact:
    """The stage after an event showing ``seen``: a closed case stays closed."""
    return Contact.CLOSED if current is Contact.CLOSED else seen


@dataclass(frozen=True)
class Patient:
    """The person care is sought for, and who is acting (themselves or a guardian).

    ``context`` (age and sex) comes from the caller's token; triage never learns the
    personal identity number.
    """

    subject_id: str
    context: PatientContext
    region: str
    acting_guardian_id: str | None = None

    @property
    def actor(self) -> Actor:
        if self.acting_guardian_id:
            return Actor(
                id=self.acting_guardian_id, role=ActorRole.GUARDIAN, on_behalf_of=self.subject_id
            )
        return Actor(id=self.subject_id, role=ActorRole.PATIENT)


class Status(StrEnum):
    """Where the latest triage of a case stands."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Session:
    """The triage being answered (or the last one answered)."""

    revision: int
    questionnaire_id: str
    questionnaire_version: str
    questionnaire_hash: str
    language: str
    patient: PatientContext
    answers: tuple[tuple[str, AnswerValue], ...] = ()
    rules: tuple[tuple[str, ...], ...] = ()
    current: str | None = None
    last_activity_at: datetime | None = None

    def answer_map(self) -> dict[str, AnswerValue]:
        return dict(self.answers)


@dataclass(frozen=True)
class Completion:
    """The outcome of the latest completed triage."""

    revision: int
    questionnaire_id: str
    questionnaire_version: str
    outcome_id: str | None
    urgency: Urgency
    recommendation: Recommendation
    target_queue: QueueRef | None
    rules_fired: tuple[str, ...]
    advice: str | None


@dataclass(frozen=True)
class CaseTriage:
    """One case's triage as far as it has come."""

    case_id: UUID | None = None
    patient_id: str | None = None
    acting_guardian_id: str | None = None
    region: str | None = None
    correlation_id: UUID | None = None
    revision: int = 0
    status: Status = Status.NOT_STARTED
    session: Session | None = None
    completion: Completion | None = None
    last_event_id: UUID | None = None


def evolve(state: CaseTriage, event: Event) -> CaseTriage:
    """Apply one recorded event to the state."""
    if isinstance(event, CaseOpened):
        return CaseTriage(
            case_id=event.case_id,
            patient_id=event.patient_id,
            acting_guardian_id=event.acting_guardian_id,
            region=event.region,
            correlation_id=event.correlation_id,
            last_event_id=event.event_id,
        )
    state = replace(state, last_event_id=event.event_id)
    if isinstance(event, TriageStarted):
        session = Session(
            revision=event.revision,
            questionnaire_id=event.questionnaire_id,
            questionnaire_version=event.questionnaire_version,
            questionnaire_hash=event.questionnaire_hash,
            language=event.language,
            patient=PatientContext(event.patient_age_years, Sex(event.patient_sex)),
            current=event.first_question_id,
            last_activity_at=event.occurred_at,
        )
        return replace(state, status=Status.IN_PROGRESS, session=session)
    if isinstance(event, QuestionAnswered) and state.session is not None:
        s = state.session
        return replace(
            state,
            session=replace(
                s,
                answers=(*s.answers, (event.answer.question_id, event.answer.value)),
                rules=(*s.rules, event.rules_fired),
                current=event.next_question_id,
                last_activity_at=event.occurred_at,
            ),
        )
    if isinstance(event, AnswerWithdrawn) and state.session is not None:
        s = state.session
        return replace(
            state,
            session=replace(
                s,
                answers=s.answers[:-1],
                rules=s.rules[:-1],
                current=event.question_id,
                last_activity_at=event.occurred_at,
            ),
        )
    if isinstance(event, TriageCompleted):
        completion = Completion(
            revision=event.revision,
            questionnaire_id=event.questionnaire_id,
            questionnaire_version=event.questionnaire_version,
            outcome_id=next(
                (r.removeprefix("outcome:") for r in event.rules_fired if r.startswith("outcome:")),
                None,
            ),
            urgency=event.urgency,
            recommendation=event.recommendation,
            target_queue=event.target_queue,
            rules_fired=event.rules_fired,
            advice=event.advice,
        )
        return replace(
            state, revision=event.revision, status=Status.COMPLETED, completion=completion
        )
    if isinstance(event, TriageAbandoned):
        return replace(state, status=Status.ABANDONED)
    return state


# --- helpers ------------------------------------------------------------------------------


def opened_id(case_id: UUID) -> UUID:
    """The event id of a case's ``CaseOpened``: a case is opened once."""
    return natural_id("triage", "CaseOpened", str(case_id))


def completed_id(case_id: UUID, revision: int) -> UUID:
    """The event id of a revision's ``TriageCompleted``: each revision completes once."""
    return natural_id("triage", "TriageCompleted", str(case_id), str(revision))


def _envelope(
    state: CaseTriage, now: datetime, actor: Actor, event_id: UUID | None
) -> dict[str, Any]:
    assert state.case_id is not None
    envelope: dict[str, Any] = {
        "case_id": state.case_id,
        "occurred_at": now,
        "producer": PRODUCER,
        "correlation_id": state.correlation_id or state.case_id,
        "causation_id": state.last_event_id,
        "actor": actor,
    }
    if event_id is not None:
        envelope["event_id"] = event_id
    return envelope


def _draw(new_id: NewId | None) -> UUID | None:
    return new_id() if new_id is not None else None


def _acting(state: CaseTriage, subject_id: str, acting_for: str | None = None) -> Actor:
    """The caller as an actor on this case; a stranger gets the same 404 as a missing case.

    ``subject_id`` and ``acting_for`` come from the caller's token. A token answers for the
    person it acts for (``acting_for``, else its own subject), and that person must be the
    case's patient: a guardian's own token does not reach the child's case, even the one
    they opened while acting for the child, and a token acting for a child does not reach
    the guardian's own cases. Any guardian acting for the patient reaches the case, not only
    the one who opened it: identity grants ``acting_for`` only to a guardian in the register.
    """
    if state.case_id is None or state.patient_id is None:
        raise NotFound("no such case", said("no_such_case"))
    if (acting_for or subject_id) != state.patient_id:
        raise NotFound("no such case", said("no_such_case"))
    if acting_for is None:
        return Actor(id=subject_id, role=ActorRole.PATIENT)
    return Actor(id=subject_id, role=ActorRole.GUARDIAN, on_behalf_of=state.patient_id)


def may_see(state: CaseTriage, subject_id: str, acting_for: str | None = None) -> bool:
    """Whether the caller's token acts for the case's patient: the patient themselves, or a
    guardian acting for them (see ``_acting``)."""
    try:
        _acting(state, subject_id, acting_for)
    except NotFound:
        return False
    return True


def is_expired(state: CaseTriage, now: datetime, abandon_after: timedelta) -> bool:
    """A triage in progress that nobody has answered for ``abandon_after``."""
    s = state.session
    return (
        state.status is Status.IN_PROGRESS
        and s is not None
        and s.last_activity_at is not None
        and now - s.last_activity_at >= abandon_after
    )


def _in_progress(state: CaseTriage, now: datetime, abandon_after: timedelta) -> Session:
    if state.status is not Status.IN_PROGRESS or state.session is None:
        raise Conflict("no triage is in progress on this case; start one", said("no_triage"))
    if is_expired(state, now, abandon_after):
        raise Conflict(
            "this triage expired without answers; start it again", said("triage_expired")
        )
    return state.session


# --- commands -----------------------------------------------------------------------------


def decide_open(state: CaseTriage, case_id: UUID, patient: Patient, now: datetime) -> list[Event]:
    """Open a new case for ``patient``; children under one are not triaged here.

    ``case_id`` is fresh (the command draws it); the event's id follows from it.
    """
    if state.case_id is not None:
        raise Conflict("this case is already open")
    if patient.context.age_years < MIN_AGE_YEARS:
        raise Invalid(
            "this service is not for children under one year; call 1177", said("under_one")
        )
    return [
        CaseOpened(
            event_id=opened_id(case_id),
            case_id=case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=case_id,
            actor=patient.actor,
            patient_id=patient.subject_id,
            region=patient.region,
            acting_guardian_id=patient.acting_guardian_id,
        )
    ]


def decide_start(
    state: CaseTriage,
    questionnaire: Questionnaire,
    language: str,
    subject_id: str,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
    *,
    patient: PatientContext,
    new_id: NewId | None = None,
    acting_for: str | None = None,
    contact: Contact = Contact.WAITING,
) -> list[Event]:
    """Start answering ``questionnaire``: the first triage, or a re-triage while waiting.

    A triage left unanswered too long is abandoned first; one still in
    progress must be answered or given up. A re-triage is for a patient who
    waits in a queue (who got worse, say); its completion gets the next revision.
    ``patient`` is the age and sex the caller's token tells of the person cared for;
    ``contact`` is how far the case has come in queue and chat (a re-triage only while
    it waits).
    """
    actor = _acting(state, subject_id, acting_for)
    refusal = retriage_refusal(contact) if state.completion is not None else None
    if refusal is not None:
        raise Conflict(refusal)
    if language not in questionnaire.languages:
        raise Invalid(
            f"language {language!r} is not offered; choose {', '.join(questionnaire.languages)}"
        )
    events: list[Event] = []
    if state.status is Status.IN_PROGRESS:
        if not is_expired(state, now, abandon_after):
            raise Conflict("a triage is already in progress; answer it, or give it up first")
        events += decide_expire(state, now, abandon_after, new_id=new_id)
    if state.completion is not None and state.completion.target_queue is None:
        raise Conflict("this case needs no queue; open a new case to seek care again")
    if patient.age_years < MIN_AGE_YEARS:
        raise Invalid(
            "this service is not for children under one year; call 1177", said("under_one")
        )
    sex: Literal["female", "male"] = "male" if patient.sex is Sex.MALE else "female"
    after = evolve(state, events[-1]) if events else state
    events.append(
        TriageStarted(
            **_envelope(after, now, actor, _draw(new_id)),
            revision=state.revision + 1,
            questionnaire_id=questionnaire.id,
            questionnaire_version=questionnaire.version,
            questionnaire_hash=questionnaire.hash,
            language=language,
            patient_age_years=patient.age_years,
            patient_sex=sex,
            first_question_id=questionnaire.start,
        )
    )
    return events


def same_questionnaire(session: Session, questionnaire: Questionnaire) -> bool:
    """Whether ``questionnaire`` is exactly the one the session was started with."""
    return (
        session.questionnaire_id == questionnaire.id
        and session.questionnaire_version == questionnaire.version
        and session.questionnaire_hash == questionnaire.hash
    )


def decide_answer(
    state: CaseTriage,
    questionnaire: Questionnaire,
    question_id: str,
    value: Any,
    subject_id: str,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
    *,
    new_id: NewId | None = None,
    acting_for: str | None = None,
    contact: Contact = Contact.WAITING,
) -> list[Event]:
    """Answer the current question; the answer that reaches an outcome completes triage.

    A re-triage whose case reached contact (or closed) while it was being answered is
    refused like one started then, so no new urgency is sent that queue would drop.
    """
    actor = _acting(state, subject_id, acting_for)
    session = _in_progress(state, now, abandon_after)
    refusal = retriage_refusal(contact) if state.completion is not None else None
    if refusal is not None:
        raise Conflict(refusal)
    if not same_questionnaire(session, questionnaire):
        raise Conflict("the questionnaire changed since this triage started; start it again")
    question = questionnaire.questions.get(question_id)
    if question is None:
        raise Invalid(f"unknown question {question_id!r}")
    if question_id != session.current:
        raise Conflict(f"{question_id} is not the current question; that is {session.current}")
    checked = check_answer(question, value)
    answers = session.answer_map()
    answers[question_id] = checked
    result = evaluate(questionnaire, question, answers, session.patient)
    answered = QuestionAnswered(
        **_envelope(state, now, actor, _draw(new_id)),
        revision=session.revision,
        answer=Answer(question_id=question_id, value=checked),
        rules_fired=result.rules_fired,
        next_question_id=result.next_question,
    )
    if result.outcome is None:
        return [answered]
    outcome = result.outcome
    after = evolve(state, answered)
    assert after.session is not None and state.region is not None and state.case_id is not None
    rules = tuple(r for fired in after.session.rules for r in fired)
    completed = TriageCompleted(
        **_envelope(after, now, actor, completed_id(state.case_id, session.revision)),
        revision=session.revision,
        questionnaire_id=questionnaire.id,
        questionnaire_version=questionnaire.version,
        questionnaire_hash=questionnaire.hash,
        answers=tuple(Answer(question_id=q, value=v) for q, v in after.session.answers),
        rules_fired=(*rules, f"outcome:{outcome.id}"),
        urgency=outcome.urgency,
        recommendation=outcome.recommendation,
        target_queue=QueueRef(region=state.region, skill=outcome.skill) if outcome.skill else None,
        advice=questionnaire.text(outcome.advice, session.language) or None,
    )
    return [answered, completed]


def decide_back(
    state: CaseTriage,
    subject_id: str,
    now: datetime,
    abandon_after: timedelta = DEFAULT_ABANDON_AFTER,
    *,
    new_id: NewId | None = None,
    acting_for: str | None = None,
) -> list[Event]:
    """Go back one question: the last answer is withdrawn and its question asked again."""
    actor = _acting(state, subject_id, acting_for)
    session = _in_progress(state, now, abandon_after)
    if not session.answers:
        raise Conflict("this is the first question; there is nothing to go back to")
    return [
        AnswerWithdrawn(
            **_envelope(state, now, actor, _draw(new_id)),
            revision=session.revision,
            question_id=session.answers[-1][0],
        )
    ]


def decide_give_up(
    state: CaseTriage,
    subject_id: str,
    now: datetime,
    *,
    new_id: NewId | None = None,
    acting_for: str | None = None,
) -> list[Event]:
    """The patient stops answering; an earlier completed triage still stands."""
    actor = _acting(state, subject_id, acting_for)
    if state.status is not Status.IN_PROGRESS or state.session is None:
        raise Conflict("no triage is in progress on this case")
    return [
        TriageAbandoned(
            **_envelope(state, now, actor, _draw(new_id)),
            revision=state.session.revision,
            reason="given_up",
        )
    ]


def decide_expire(
    state: CaseTriage, now: datetime, abandon_after: timedelta, *, new_id: NewId | None = None
) -> list[Event]:
    """Abandon a triage that nobody answered for ``abandon_after``; nothing otherwise."""
    if not is_expired(state, now, abandon_after):
        return []
    assert state.session is not None
    return [
        TriageAbandoned(
            **_envelope(state, now, SYSTEM, _draw(new_id)),
            revision=state.session.revision,
            reason="expired",
        )
    ]
