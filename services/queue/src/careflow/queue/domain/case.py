"""One case's place in the queue: the aggregate, its states and how events change it.

Pure: no I/O, the time and ids passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseQueued,
    Event,
    Professional,
    QueueRef,
    TurnReached,
    Urgency,
)
from careflow.contracts.queue_events import CaseRequeued, CaseTransferred, CaseWithdrawn
from careflow.kit.domain import Invalid

PRODUCER = "queue"
SYSTEM = Actor(id="queue", role=ActorRole.SYSTEM)
MAX_REASON_CHARS = 500


class Status(StrEnum):
    """Where a case stands in the queue."""

    NOT_QUEUED = "not_queued"
    WAITING = "waiting"
    IN_CONTACT = "in_contact"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class QueuedCase:
    """One case's place in the queue."""

    case_id: UUID | None = None
    status: Status = Status.NOT_QUEUED
    queue: QueueRef | None = None
    urgency: Urgency | None = None
    waiting_since: datetime | None = None
    triage_revision: int = 0
    correlation_id: UUID | None = None
    holder: Professional | None = None
    turn_reached_at: datetime | None = None
    last_event_id: UUID | None = None


def evolve(state: QueuedCase, event: Event) -> QueuedCase:
    """Apply one recorded event."""
    if isinstance(event, CaseQueued):
        return QueuedCase(
            case_id=event.case_id,
            status=Status.WAITING,
            queue=event.queue,
            urgency=event.urgency,
            waiting_since=event.waiting_since,
            triage_revision=event.triage_revision,
            correlation_id=state.correlation_id or event.correlation_id,
            last_event_id=event.event_id,
        )
    if isinstance(event, TurnReached):
        return replace(
            state,
            status=Status.IN_CONTACT,
            holder=event.professional,
            turn_reached_at=event.occurred_at,
            last_event_id=event.event_id,
        )
    if isinstance(event, CaseRequeued | CaseTransferred):
        return replace(
            state,
            status=Status.WAITING,
            queue=event.queue,
            urgency=event.urgency,
            waiting_since=event.waiting_since,
            holder=None,
            turn_reached_at=None,
            last_event_id=event.event_id,
        )
    if isinstance(event, CaseWithdrawn):
        return replace(
            state,
            status=Status.WITHDRAWN,
            holder=None,
            turn_reached_at=None,
            last_event_id=event.event_id,
        )
    return state


def envelope(state: QueuedCase, actor: Actor, now: datetime, event_id: UUID) -> dict[str, Any]:
    """The envelope fields of an event decided on a queued case: keyed by the case,
    correlated with it, caused by its last event."""
    assert state.case_id is not None
    return {
        "event_id": event_id,
        "case_id": state.case_id,
        "occurred_at": now,
        "producer": PRODUCER,
        "correlation_id": state.correlation_id or state.case_id,
        "causation_id": state.last_event_id,
        "actor": actor,
    }


def waited(state: QueuedCase, now: datetime) -> float:
    """Seconds the patient has waited by ``now`` (never negative)."""
    assert state.waiting_since is not None
    return max(0.0, (now - state.waiting_since).total_seconds())


def given_reason(reason: str) -> str:
    """A staff member's reason for a move, trimmed; empty or overlong ones are refused."""
    cleaned = reason.strip()
    if not cleaned:
        raise Invalid("give a reason")
    if len(cleaned) > MAX_REASON_CHARS:
        raise Invalid(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return cleaned
