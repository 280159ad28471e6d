"""Events owned by queue: waiting, turns, and the ways a case leaves or moves in a queue."""

from __future__ import annotations

from enum import StrEnum
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


class CaseRequeued(Event):
    """A professional put a case they had taken back in its queue; it keeps its waiting time."""

    OWNER: ClassVar[str] = "queue"
    event_type: Literal["CaseRequeued"] = "CaseRequeued"
    schema_version: Literal[1] = 1

    queue: QueueRef
    urgency: Urgency
    waiting_since: AwareDatetime = Field(description="Unchanged: the patient keeps their place.")
    reason: str = Field(min_length=1, max_length=500)
    no_answer: bool = Field(
        default=False, description="True when the patient did not answer after their turn."
    )


class CaseTransferred(Event):
    """The case moved to another queue (skill or region); it keeps its waiting time."""

    OWNER: ClassVar[str] = "queue"
    event_type: Literal["CaseTransferred"] = "CaseTransferred"
    schema_version: Literal[1] = 1

    from_queue: QueueRef
    queue: QueueRef = Field(description="The queue the case now waits in.")
    urgency: Urgency
    waiting_since: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)


class WithdrawalReason(StrEnum):
    """Why a case left the queue without a care contact."""

    PATIENT_WITHDREW = "patient_withdrew"
    NO_ANSWER = "no_answer"
    NOT_FOR_QUEUE = "not_for_queue"  # a re-triage sent the patient elsewhere (e.g. call 112)


class CaseWithdrawn(Event):
    """The case left the queue for good and closes as withdrawn."""

    OWNER: ClassVar[str] = "queue"
    event_type: Literal["CaseWithdrawn"] = "CaseWithdrawn"
    schema_version: Literal[1] = 1

    queue: QueueRef
    reason: WithdrawalReason
    waited_seconds: float = Field(ge=0)


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (
    CaseQueued,
    TurnReached,
    CaseRequeued,
    CaseTransferred,
    CaseWithdrawn,
)
