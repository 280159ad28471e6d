"""Notification rules: the patient is told, once, that it is their turn.

Pure: no I/O. The aggregate is one case's notifications; a TurnReached that
was already notified (a redelivery, a replay) produces nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid5

from careflow.contracts import Actor, ActorRole, Event, PatientNotified, TurnReached

PRODUCER = "notify"
CHANNEL = "in_app"
SYSTEM = Actor(id="notify", role=ActorRole.SYSTEM)


@dataclass(frozen=True)
class CaseNotifications:
    """Which events of one case the patient has been notified about."""

    notified_causes: frozenset[UUID] = frozenset()


def evolve(state: CaseNotifications, event: Event) -> CaseNotifications:
    """Apply one recorded event."""
    if isinstance(event, PatientNotified):
        return replace(state, notified_causes=state.notified_causes | {event.cause_event_id})
    return state


def decide_your_turn(state: CaseNotifications, turn: TurnReached, now: datetime) -> list[Event]:
    """Tell the patient it is their turn, unless that turn was already notified."""
    if turn.event_id in state.notified_causes:
        return []
    return [
        PatientNotified(
            case_id=turn.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=turn.correlation_id,
            causation_id=turn.event_id,
            actor=SYSTEM,
            # Derived from the cause, so the same turn always yields the same notification id.
            notification_id=uuid5(turn.event_id, "your_turn"),
            kind="your_turn",
            channel=CHANNEL,
            cause_event_id=turn.event_id,
        )
    ]
