"""Events owned by queue: waiting and turns."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from .envelope import Event
from .vocabulary import Professional, QueueRef, Urgency


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


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (CaseQueued, TurnReached)
