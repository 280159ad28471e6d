"""A case's history for auditors: a JSON timeline, and a FHIR R4 Bundle (``fhir``).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

from careflow.contracts import (
    Event,
)
from careflow.journal import domain
from careflow.journal.fhir import fhir_bundle

__all__ = ["fhir_bundle", "timeline_item", "timeline_json"]


def timeline_item(event: Event) -> dict[str, Any]:
    """One event of the timeline with its actor, as JSON."""
    return {
        "event_id": str(event.event_id),
        "event_type": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "producer": event.producer,
        "causation_id": str(event.causation_id) if event.causation_id else None,
        "actor": event.actor.model_dump(mode="json"),
        "event": event.model_dump(mode="json"),
    }


def timeline_json(
    case_id: UUID, events: Sequence[Event], at: datetime | None = None
) -> dict[str, Any]:
    """The case's timeline in causal order and, if asked, its state at a moment."""
    ordered = domain.causal_order(events)
    body: dict[str, Any] = {
        "case_id": str(case_id),
        "events": [timeline_item(e) for e in ordered],
    }
    if at is not None:
        state = asdict(domain.state_at(ordered, at))
        state["last_event_at"] = (
            state["last_event_at"].isoformat() if state["last_event_at"] else None
        )
        body["state_at"] = {"at": at.isoformat(), "state": state}
    return body
