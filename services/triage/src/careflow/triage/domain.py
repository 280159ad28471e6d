"""Triage rules: a case is opened, the patient answers, the answers become an urgency.

Pure: no I/O; the current time and identities are passed in. The aggregate is
one case's triage, rebuilt with ``evolve`` and changed only through ``decide_*``.
The questionnaire here is the walking skeleton's minimal one; data-driven
questionnaires replace it (sample content, not clinically validated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    Answer,
    CaseOpened,
    Event,
    QueueRef,
    Recommendation,
    Skill,
    TriageCompleted,
    Urgency,
)
from careflow.kit.domain import Conflict, Forbidden, Invalid

PRODUCER = "triage"
QUESTIONNAIRE_ID = "minimal"
QUESTIONNAIRE_VERSION = "0.1.0"
QUESTIONNAIRE_HASH = "sha256:walking-skeleton-minimal-0.1.0"


@dataclass(frozen=True)
class Patient:
    """The person care is sought for, and who is acting (themselves or a guardian)."""

    subject_id: str
    personal_identity_number: str
    region: str
    acting_guardian_id: str | None = None

    @property
    def actor(self) -> Actor:
        if self.acting_guardian_id:
            return Actor(
                id=self.acting_guardian_id, role=ActorRole.GUARDIAN, on_behalf_of=self.subject_id
            )
        return Actor(id=self.subject_id, role=ActorRole.PATIENT)


@dataclass(frozen=True)
class CaseTriage:
    """One case's triage as far as it has come."""

    case_id: UUID | None = None
    patient_id: str | None = None
    acting_guardian_id: str | None = None
    region: str | None = None
    correlation_id: UUID | None = None
    revision: int = 0
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
    if isinstance(event, TriageCompleted):
        return replace(state, revision=event.revision, last_event_id=event.event_id)
    return state


def decide_open(state: CaseTriage, case_id: UUID, patient: Patient, now: datetime) -> list[Event]:
    """Open a new case for ``patient``."""
    if state.case_id is not None:
        raise Conflict("this case is already open")
    return [
        CaseOpened(
            case_id=case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=case_id,
            actor=patient.actor,
            patient_id=patient.subject_id,
            personal_identity_number=patient.personal_identity_number,
            region=patient.region,
            acting_guardian_id=patient.acting_guardian_id,
        )
    ]


@dataclass(frozen=True)
class Assessment:
    """What the answers mean, and which rules said so."""

    urgency: Urgency
    recommendation: Recommendation
    skill: Skill | None
    rules_fired: tuple[str, ...]


QUESTIONS: Mapping[str, type] = {
    "breathing_difficulty": bool,
    "severe_pain": bool,
    "fever_days": int,
    "self_care_only": bool,
}


def assess(answers: Mapping[str, Any]) -> Assessment:
    """The minimal rules: red flags first, then duration, then the default."""
    if answers.get("breathing_difficulty") is True:
        return Assessment(Urgency.RED, Recommendation.CALL_112, None, ("red-flag:breathing",))
    if answers.get("severe_pain") is True:
        return Assessment(
            Urgency.ORANGE, Recommendation.CALL_1177_OR_EMERGENCY, None, ("red-flag:severe-pain",)
        )
    if answers.get("self_care_only") is True:
        return Assessment(Urgency.BLUE, Recommendation.SELF_CARE, None, ("self-care",))
    if int(answers.get("fever_days", 0)) >= 3:
        return Assessment(
            Urgency.YELLOW, Recommendation.DIGITAL_CONTACT, Skill.NURSE, ("fever>=3d",)
        )
    return Assessment(Urgency.GREEN, Recommendation.DIGITAL_CONTACT, Skill.NURSE, ("default",))


def validate_answers(answers: Mapping[str, Any]) -> list[Answer]:
    """Check every answer against its question; unknown questions or wrong kinds are refused."""
    checked = []
    for question_id, value in answers.items():
        kind = QUESTIONS.get(question_id)
        if kind is None:
            raise Invalid(f"unknown question {question_id!r}")
        if kind is int and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365
        ):
            raise Invalid(f"{question_id} must be a whole number of days from 0 to 365")
        if kind is bool and not isinstance(value, bool):
            raise Invalid(f"{question_id} must be yes or no (true/false)")
        checked.append(Answer(question_id=question_id, value=value))
    return checked


def decide_complete(
    state: CaseTriage, answers: Mapping[str, Any], acting_subject: str, now: datetime
) -> list[Event]:
    """Complete (or redo) the triage of an open case with the patient's answers."""
    if state.case_id is None or state.patient_id is None or state.region is None:
        raise Conflict("open the case before answering")
    if acting_subject not in (state.patient_id, state.acting_guardian_id):
        raise Forbidden("only the patient, or the guardian acting for them, may answer")
    checked = validate_answers(answers)
    result = assess(answers)
    actor = (
        Actor(id=acting_subject, role=ActorRole.GUARDIAN, on_behalf_of=state.patient_id)
        if acting_subject == state.acting_guardian_id
        else Actor(id=acting_subject, role=ActorRole.PATIENT)
    )
    return [
        TriageCompleted(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=actor,
            revision=state.revision + 1,
            questionnaire_id=QUESTIONNAIRE_ID,
            questionnaire_version=QUESTIONNAIRE_VERSION,
            questionnaire_hash=QUESTIONNAIRE_HASH,
            answers=tuple(checked),
            rules_fired=result.rules_fired,
            urgency=result.urgency,
            recommendation=result.recommendation,
            target_queue=QueueRef(region=state.region, skill=result.skill)
            if result.skill
            else None,
        )
    ]
