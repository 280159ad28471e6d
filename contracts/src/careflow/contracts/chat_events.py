"""Events owned by chat: the care contact itself."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from .envelope import Event
from .vocabulary import AttachmentRef, Outcome, Part, Professional, SenderRole


class BookedAppointment(Part):
    """A visit booked for the patient as the outcome of a contact."""

    care_unit: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime


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
    appointment: BookedAppointment | None = Field(
        default=None, description="Set when the outcome is a booked appointment."
    )
    referral_to: str | None = Field(
        default=None, max_length=200, description="The receiving unit of a referral."
    )
    renewed_prescription: str | None = Field(
        default=None, max_length=500, description="What was renewed (medication, strength)."
    )
    emergency_unit: str | None = Field(
        default=None, max_length=200, description="Where a patient redirected to emergency went."
    )


class ConsultantInvited(Event):
    """The professional asked a colleague into the conversation to consult."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["ConsultantInvited"] = "ConsultantInvited"
    schema_version: Literal[1] = 1

    consultant: Professional
    reason: str = Field(min_length=1, max_length=1000)
    invited_by: str = Field(min_length=1, max_length=64, description="Staff id of the inviter.")


class ContactRated(Event):
    """After the case closed, the patient rated the contact."""

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["ContactRated"] = "ContactRated"
    schema_version: Literal[1] = 1

    rating: int = Field(ge=1, le=5, description="1 (poor) to 5 (excellent).")
    comment: str | None = Field(default=None, max_length=2000)


#: What a complaint is about (synpunkter och klagomål), as the region sorts them.
ComplaintCategory = Literal["treatment", "waiting", "communication", "accessibility", "other"]


class ComplaintFiled(Event):
    """The patient (or a guardian for a child) filed a complaint about a contact.

    Its own event, beyond the rating, so the region's staff get it as a case to handle.
    ``text`` is the patient's own words: like a message, never logged.
    """

    OWNER: ClassVar[str] = "chat"
    event_type: Literal["ComplaintFiled"] = "ComplaintFiled"
    schema_version: Literal[1] = 1

    complaint_id: UUID
    region: str = Field(min_length=1, max_length=64, description="The region that handles it.")
    professional: Professional = Field(description="Who had the contact complained about.")
    category: ComplaintCategory
    text: str = Field(min_length=1, max_length=4000)


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (
    ComplaintFiled,
    MessageSent,
    VideoContactStarted,
    VideoContactEnded,
    CaseClosed,
    ConsultantInvited,
    ContactRated,
)
