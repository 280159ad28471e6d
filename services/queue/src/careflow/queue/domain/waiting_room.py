"""The waiting room: the order of a queue, and how long a patient can expect to wait.

Order in a queue: most urgent first, always; within one urgency, who has waited
longest (the case id breaks exact ties, so the order is total). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from careflow.contracts import CaseQueued, Event, QueueRef, Skill, TurnReached, Urgency
from careflow.contracts.queue_events import CaseRequeued, CaseTransferred, CaseWithdrawn


def priority(
    urgency: Urgency, waiting_since: datetime, case_id: UUID | None = None
) -> tuple[int, datetime, str]:
    """The sort key of a waiting case: smaller is helped first."""
    return (int(urgency), waiting_since, str(case_id) if case_id else "")


@dataclass(frozen=True)
class Waiting:
    """One waiting case as a queue orders it."""

    case_id: UUID
    queue: QueueRef
    urgency: Urgency
    waiting_since: datetime

    @property
    def key(self) -> tuple[int, datetime, str]:
        """Its place in the order (``priority``)."""
        return priority(self.urgency, self.waiting_since, self.case_id)


def project_waiting(room: Mapping[UUID, Waiting], event: Event) -> dict[UUID, Waiting]:
    """The waiting room after one event (the pure form of the ``waiting_cases`` table)."""
    out = dict(room)
    if isinstance(event, CaseQueued | CaseRequeued | CaseTransferred):
        out[event.case_id] = Waiting(event.case_id, event.queue, event.urgency, event.waiting_since)
    elif isinstance(event, TurnReached | CaseWithdrawn):
        out.pop(event.case_id, None)
    return out


def next_waiting(room: Iterable[Waiting], region: str, skills: Iterable[Skill]) -> Waiting | None:
    """The case to help next among ``skills`` in ``region``: most urgent, then oldest."""
    wanted = frozenset(skills)
    candidates = [w for w in room if w.queue.region == region and w.queue.skill in wanted]
    return min(candidates, key=lambda w: w.key, default=None)


def estimate_wait(
    position: int, claims_in_window: int, window: timedelta, until_open: timedelta
) -> float | None:
    """Seconds until the patient's turn, from the queue's recent throughput.

    ``position`` 1 is next. With no recent claims there is nothing to estimate from
    (None). While the region is closed, the wait starts when it opens.
    """
    if claims_in_window <= 0 or window <= timedelta(0):
        return None
    per_claim = window.total_seconds() / claims_in_window
    return until_open.total_seconds() + max(0, position - 1) * per_claim + per_claim / 2
