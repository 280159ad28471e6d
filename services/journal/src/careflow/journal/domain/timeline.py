"""A case's history: its events in causal order, and the case as it stood at a moment."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from careflow.contracts import (
    CaseClosed,
    CaseOpened,
    CaseQueued,
    Event,
    MessageSent,
    PatientNotified,
    TriageCompleted,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.journal_events import JournalEntryCorrected


@dataclass(frozen=True)
class CaseState:
    """What a case looked like at one moment, folded from its events."""

    status: str = "unknown"
    region: str | None = None
    urgency: int | None = None
    recommendation: str | None = None
    triage_revision: int = 0
    queue: str | None = None
    professional: str | None = None
    messages: int = 0
    video_active: bool = False
    outcome: str | None = None
    corrections: int = 0
    last_event_type: str | None = None
    last_event_at: datetime | None = None


def evolve_case(state: CaseState, event: Event) -> CaseState:
    """Apply one event of the case's log to its state."""
    s = replace(state, last_event_type=event.event_type, last_event_at=event.occurred_at)
    if isinstance(event, CaseOpened):
        return replace(s, status="opened", region=event.region)
    if isinstance(event, TriageCompleted):
        return replace(
            s,
            status="triaged" if s.status in ("unknown", "opened", "triaged") else s.status,
            urgency=int(event.urgency),
            recommendation=event.recommendation.value,
            triage_revision=event.revision,
        )
    if isinstance(event, CaseQueued):
        return replace(
            s,
            status="waiting" if s.status != "closed" else s.status,
            queue=f"{event.queue.region}/{event.queue.skill.value}",
        )
    if isinstance(event, TurnReached):
        return replace(
            s,
            status="in_contact",
            professional=f"{event.professional.title} {event.professional.name}",
        )
    if isinstance(event, MessageSent):
        return replace(s, messages=s.messages + 1)
    if isinstance(event, VideoContactStarted):
        return replace(s, video_active=True)
    if isinstance(event, VideoContactEnded):
        return replace(s, video_active=False)
    if isinstance(event, CaseClosed):
        return replace(s, status="closed", outcome=event.outcome.value, video_active=False)
    if isinstance(event, JournalEntryCorrected):
        return replace(s, corrections=s.corrections + 1)
    if isinstance(event, PatientNotified):
        return s
    return s


def state_at(events: Sequence[Event], at: datetime) -> CaseState:
    """The case as it stood at ``at``: every event that had happened by then, in causal order."""
    state = CaseState()
    for event in events:
        if event.occurred_at <= at:
            state = evolve_case(state, event)
    return state


def causal_order(events: Iterable[Event]) -> list[Event]:
    """Order by time, but never before the event that caused it; each event once.

    Events from different services carry no causation link to each other in
    every case (TurnReached, a conversation's first message); there the time
    decides, and the event id breaks ties so the order is the same every time.
    """
    unique: dict[UUID, Event] = {}
    for e in events:
        unique.setdefault(e.event_id, e)
    waiting = sorted(unique.values(), key=lambda e: (e.occurred_at, str(e.event_id)))
    placed: list[Event] = []
    seen: set[UUID] = set()
    while waiting:
        for i, e in enumerate(waiting):
            if e.causation_id is None or e.causation_id in seen or e.causation_id not in unique:
                placed.append(e)
                seen.add(e.event_id)
                del waiting[i]
                break
        else:  # a cycle cannot come from real events; show the rest by time
            placed.extend(waiting)
            break
    return placed
