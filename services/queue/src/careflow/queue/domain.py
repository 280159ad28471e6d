"""Queue rules: who waits where, in which order, and whose turn it is.

Pure: no I/O, the time passed in. The aggregate is one case's place in the
queue. Order in a queue: most urgent first, always; within one urgency, who
has waited longest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseQueued,
    Event,
    Professional,
    QueueRef,
    TriageCompleted,
    TurnReached,
    Urgency,
)
from careflow.kit.domain import Conflict

PRODUCER = "queue"


class Status(StrEnum):
    NOT_QUEUED = "not_queued"
    WAITING = "waiting"
    IN_CONTACT = "in_contact"


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


def priority(urgency: Urgency, waiting_since: datetime) -> tuple[int, datetime]:
    """The sort key of a waiting case: smaller is helped first."""
    return (int(urgency), waiting_since)


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
            correlation_id=event.correlation_id,
        )
    if isinstance(event, TurnReached):
        return replace(state, status=Status.IN_CONTACT)
    return state


SYSTEM = Actor(id="queue", role=ActorRole.SYSTEM)


def decide_place(state: QueuedCase, triage: TriageCompleted, now: datetime) -> list[Event]:
    """Place (or re-place) a triaged case. A case with no target queue is never queued.

    A re-triage keeps the patient's original waiting time; an older triage
    revision than the one applied is ignored.
    """
    if triage.target_queue is None or triage.revision <= state.triage_revision:
        return []
    if state.status is Status.IN_CONTACT:
        return []
    return [
        CaseQueued(
            case_id=triage.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=triage.correlation_id,
            causation_id=triage.event_id,
            actor=SYSTEM,
            queue=triage.target_queue,
            urgency=triage.urgency,
            triage_revision=triage.revision,
            waiting_since=state.waiting_since or triage.occurred_at,
        )
    ]


def decide_claim(state: QueuedCase, professional: Professional, now: datetime) -> list[Event]:
    """A professional takes the case: it becomes the patient's turn."""
    if state.status is not Status.WAITING or state.case_id is None:
        raise Conflict("the case is not waiting in a queue")
    assert state.queue is not None and state.waiting_since is not None
    return [
        TurnReached(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            actor=Actor(id=professional.staff_id, role=ActorRole.STAFF),
            queue=state.queue,
            professional=professional,
            waited_seconds=max(0.0, (now - state.waiting_since).total_seconds()),
        )
    ]
