"""Events owned by triage: a case is opened and triaged."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .envelope import Event
from .vocabulary import Answer, QueueRef, Recommendation, Urgency


class CaseOpened(Event):
    """A patient (or a guardian for a child) started seeking care: a case exists.

    Version 2 names the patient by subject id only: queue, chat and notify read this
    event and need no personal identity number. Identity tells the journal the number
    (``CasePatientIdentified``, on a topic only the journal reads). Version 1 carried
    the number; its upcaster drops it.
    """

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["CaseOpened"] = "CaseOpened"
    schema_version: Literal[2] = 2

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque subject id.")
    region: str = Field(min_length=1, max_length=64)
    acting_guardian_id: str | None = Field(
        default=None, description="Subject id of the guardian acting for a child, if any."
    )


class TriageCompleted(Event):
    """The patient finished triage: urgency, recommendation and the queue, with reasons."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["TriageCompleted"] = "TriageCompleted"
    schema_version: Literal[1] = 1

    revision: int = Field(ge=1, description="1 for the first triage, +1 per re-triage.")
    questionnaire_id: str
    questionnaire_version: str
    questionnaire_hash: str
    answers: tuple[Answer, ...]
    rules_fired: tuple[str, ...]
    urgency: Urgency
    recommendation: Recommendation
    target_queue: QueueRef | None = Field(
        description="Null when the patient is not queued (call 112, self care)."
    )
    advice: str | None = Field(
        default=None,
        max_length=4000,
        description="Self-care advice shown to the patient, in the language they answered in.",
    )


class TriageStarted(Event):
    """The patient began answering a questionnaire (the first, or a re-triage)."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["TriageStarted"] = "TriageStarted"
    schema_version: Literal[1] = 1

    revision: int = Field(ge=1, description="The TriageCompleted revision this triage leads to.")
    questionnaire_id: str
    questionnaire_version: str
    questionnaire_hash: str
    language: str = Field(min_length=2, max_length=8)
    patient_age_years: int = Field(ge=0, le=150, description="Age on the day triage started.")
    patient_sex: Literal["female", "male"]
    first_question_id: str


class QuestionAnswered(Event):
    """One question answered; ``next_question_id`` is null when this answer ended triage."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["QuestionAnswered"] = "QuestionAnswered"
    schema_version: Literal[1] = 1

    revision: int = Field(ge=1)
    answer: Answer
    rules_fired: tuple[str, ...] = Field(description="The rules this answer fired.")
    next_question_id: str | None


class AnswerWithdrawn(Event):
    """The patient went back: the last answer no longer counts and its question is asked again."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["AnswerWithdrawn"] = "AnswerWithdrawn"
    schema_version: Literal[1] = 1

    revision: int = Field(ge=1)
    question_id: str


class TriageAbandoned(Event):
    """A triage in progress ended without an outcome: left too long, or given up."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["TriageAbandoned"] = "TriageAbandoned"
    schema_version: Literal[1] = 1

    revision: int = Field(ge=1)
    reason: Literal["expired", "given_up"]


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (
    CaseOpened,
    TriageCompleted,
    TriageStarted,
    QuestionAnswered,
    AnswerWithdrawn,
    TriageAbandoned,
)
