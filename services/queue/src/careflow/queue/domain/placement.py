"""Triaged cases entering the queue: placed, moved by a re-triage, or taken out.

Pure: no I/O, the time passed in. What a triage decides for the queue is keyed on
that triage's event, so deciding it again decides the very same event (same id).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from careflow.contracts import CaseQueued, Event, TriageCompleted
from careflow.contracts.queue_events import CaseWithdrawn, WithdrawalReason
from careflow.kit.clock import natural_id
from careflow.queue.domain.case import PRODUCER, SYSTEM, QueuedCase, Status, waited


def placement_id(triage: TriageCompleted) -> UUID:
    """The id of the one event a triage decides for the queue (its natural key)."""
    return natural_id("queue", "placement", str(triage.event_id))


def decide_place(state: QueuedCase, triage: TriageCompleted, now: datetime) -> list[Event]:
    """Place (or re-place) a triaged case. A case with no target queue is never queued.

    A re-triage keeps the patient's original waiting time and moves the case to its
    new place; a re-triage that sends the patient elsewhere (call 112, self care)
    takes a waiting case out of the queue. An older triage revision than the one
    applied is ignored, as is a re-triage once the contact has begun or ended.
    """
    if triage.revision <= state.triage_revision:
        return []
    if state.status in (Status.IN_CONTACT, Status.WITHDRAWN):
        return []
    if triage.target_queue is None:
        if state.status is not Status.WAITING or state.queue is None:
            return []
        return [
            CaseWithdrawn(
                event_id=placement_id(triage),
                case_id=triage.case_id,
                occurred_at=now,
                producer=PRODUCER,
                correlation_id=triage.correlation_id,
                causation_id=triage.event_id,
                actor=SYSTEM,
                queue=state.queue,
                reason=WithdrawalReason.NOT_FOR_QUEUE,
                waited_seconds=waited(state, now),
            )
        ]
    return [
        CaseQueued(
            event_id=placement_id(triage),
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
