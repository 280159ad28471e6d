"""The events of the care-seeking flow, by owning service.

Every model is frozen and forbids unknown fields. ``event_type`` and
``schema_version`` are literal constants, so the JSON Schema of each event
pins them and a consumer can route on them.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .envelope import Event


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- shared vocabulary --------------------------------------------------------------------


class Urgency(IntEnum):
    """Five triage levels; 1 is the most urgent. Colours follow Swedish triage practice."""

    RED = 1  # life-threatening: call 112
    ORANGE = 2  # call 1177 or go to an emergency unit now
    YELLOW = 3  # digital contact, with priority
    GREEN = 4  # book a visit at the vårdcentral
    BLUE = 5  # self care


class Recommendation(StrEnum):
    """What the patient is advised to do after triage."""

    CALL_112 = "call_112"
    CALL_1177_OR_EMERGENCY = "call_1177_or_emergency"
    DIGITAL_CONTACT = "digital_contact"
    BOOK_VISIT = "book_visit"
    SELF_CARE = "self_care"


class Skill(StrEnum):
    """The kind of professional a queue is served by."""

    NURSE = "nurse"
    DOCTOR = "doctor"
    PSYCHOLOGIST = "psychologist"
    YOUTH_CLINIC = "youth_clinic"
    CHILD_HEALTH_CARE = "child_health_care"
    ADMINISTRATIVE = "administrative"


class QueueRef(_Part):
    """One queue: a region and a skill."""

    region: str = Field(min_length=1, max_length=64)
    skill: Skill


class Professional(_Part):
    """A member of care staff as a journal entry must name them."""

    staff_id: str = Field(min_length=1, max_length=64, description="HSA-id or equivalent.")
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=100, description="e.g. nurse, doctor.")
    care_unit: str = Field(min_length=1, max_length=200)


class Answer(_Part):
    """One answered triage question."""

    question_id: str = Field(min_length=1, max_length=100)
    value: str | int | float | bool | list[str]


class AttachmentRef(_Part):
    """A stored attachment, addressed by its content hash."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    media_type: str
    size_bytes: int = Field(ge=0)


class SenderRole(StrEnum):
    """Who wrote a chat message."""

    PATIENT = "patient"
    GUARDIAN = "guardian"
    STAFF = "staff"


class Outcome(StrEnum):
    """How a care contact ended."""

    SELF_CARE_ADVICE = "self_care_advice"
    BOOKED_APPOINTMENT = "booked_appointment"
    REFERRAL = "referral"
    PRESCRIPTION_RENEWAL = "prescription_renewal"
    REDIRECTED_TO_EMERGENCY = "redirected_to_emergency"
    WITHDRAWN = "withdrawn"


# --- identity / triage --------------------------------------------------------------------


class CaseOpened(Event):
    """A patient (or a guardian for a child) started seeking care: a case exists."""

    OWNER: ClassVar[str] = "triage"
    event_type: Literal["CaseOpened"] = "CaseOpened"
    schema_version: Literal[1] = 1

    patient_id: str = Field(min_length=1, max_length=128, description="Opaque subject id.")
    personal_identity_number: str = Field(
        pattern=r"^\d{12}$", description="The patient's 12-digit personal identity number."
    )
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


# --- queue --------------------------------------------------------------------------------


class CaseQueued(Event):
    """The case entered (or moved within) a queue."""

    OWNER: ClassVar[str] = "queue"
    event_type: Literal["CaseQueued"] = "CaseQueued"
    schema_version: Literal[1] = 1

    queue: QueueRef
    urgency: Urgency
    triage_revision: int = Field(ge=1)
    waiting_since: AwareDatetime = Field(description="When the patient started waiting.")


class TurnReached(Event):
    """A care professional took the case: it is the patient's turn."""

    OWNER: ClassVar[str] = "queue"
    event_type: Literal["TurnReached"] = "TurnReached"
    schema_version: Literal[1] = 1

    queue: QueueRef
    professional: Professional
    waited_seconds: float = Field(ge=0)


# --- notify -------------------------------------------------------------------------------


class PatientNotified(Event):
    """The patient was told something (for now: that it is their turn)."""

    OWNER: ClassVar[str] = "notify"
    event_type: Literal["PatientNotified"] = "PatientNotified"
    schema_version: Literal[1] = 1

    notification_id: UUID
    kind: Literal["your_turn"]
    channel: str = Field(min_length=1, max_length=32)
    cause_event_id: UUID = Field(description="The event the notification is about.")


# --- chat ---------------------------------------------------------------------------------


class MessageSent(Event):
    """A message in the case's conversation. The text travels because the journal documents it."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["MessageSent"] = "MessageSent"
    schema_version: Literal[1] = 1

    message_id: UUID
    sequence: int = Field(ge=1, description="Server-assigned, gap-free per conversation.")
    sender_role: SenderRole
    sender_id: str = Field(min_length=1, max_length=128)
    professional: Professional | None = Field(
        default=None, description="Set when staff wrote the message."
    )
    text: str = Field(max_length=4000)
    attachments: tuple[AttachmentRef, ...] = ()


class VideoContactStarted(Event):
    """Patient and professional switched to video."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["VideoContactStarted"] = "VideoContactStarted"
    schema_version: Literal[1] = 1

    video_contact_id: UUID
    participant_ids: tuple[str, ...]
    professional: Professional


class VideoContactEnded(Event):
    """A video contact ended."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["VideoContactEnded"] = "VideoContactEnded"
    schema_version: Literal[1] = 1

    video_contact_id: UUID
    started_at: AwareDatetime
    duration_seconds: float = Field(ge=0)


class CaseClosed(Event):
    """The professional closed the case with an outcome and a signed documentation note."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["CaseClosed"] = "CaseClosed"
    schema_version: Literal[1] = 1

    outcome: Outcome
    advice: str | None = Field(default=None, max_length=8000)
    documentation_note: str = Field(min_length=1, max_length=20000)
    professional: Professional
