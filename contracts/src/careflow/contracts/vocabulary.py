"""Shared vocabulary of careflow events: urgency, recommendation, skills, professionals."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Part(BaseModel):
    """Base of the value objects inside events: frozen, no unknown fields."""

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


class QueueRef(Part):
    """One queue: a region and a skill."""

    region: str = Field(min_length=1, max_length=64)
    skill: Skill


class Professional(Part):
    """A member of care staff as a journal entry must name them."""

    staff_id: str = Field(min_length=1, max_length=64, description="HSA-id or equivalent.")
    name: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=100, description="e.g. nurse, doctor.")
    care_unit: str = Field(min_length=1, max_length=200)


class Answer(Part):
    """One answered triage question."""

    question_id: str = Field(min_length=1, max_length=100)
    value: str | int | float | bool | list[str]


class AttachmentRef(Part):
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
