"""Events owned by notify: what the patient was told."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .envelope import Event


class PatientNotified(Event):
    """The patient was told something (for now: that it is their turn)."""

    OWNER: ClassVar[str] = "notify"
    event_type: Literal["PatientNotified"] = "PatientNotified"
    schema_version: Literal[1] = 1

    notification_id: UUID
    kind: Literal["your_turn"]
    channel: str = Field(min_length=1, max_length=32)
    cause_event_id: UUID = Field(description="The event the notification is about.")


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (PatientNotified,)
