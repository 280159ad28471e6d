"""Events owned by chat: the care contact itself."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from .envelope import Event
from .vocabulary import AttachmentRef, Outcome, Professional, SenderRole


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


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (MessageSent, VideoContactStarted, VideoContactEnded, CaseClosed)
