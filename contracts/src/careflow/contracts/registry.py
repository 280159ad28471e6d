"""Which events exist, which topic each lives on, and how to read one off the wire.

One topic per owning service; only the owner writes it. Every topic has the
same partition count and every message is keyed by case id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from . import (
    chat_events,
    identity_events,
    journal_events,
    notify_events,
    queue_events,
    triage_events,
)
from .envelope import Event

#: Every service that owns a topic.
SERVICES: tuple[str, ...] = ("identity", "triage", "queue", "chat", "journal", "notify")

#: Partition count shared by every careflow topic (case order holds within one).
PARTITIONS = 6

#: The current model of every event type.
#: The current model of every event type, from each owning service's events module.
EVENT_TYPES: Mapping[str, type[Event]] = {
    model.model_fields["event_type"].default: model
    for module in (
        identity_events,
        triage_events,
        queue_events,
        notify_events,
        chat_events,
        journal_events,
    )
    for model in module.EVENTS
}

#: Which event types each service consumes (documented in its AsyncAPI document).
SUBSCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "identity": (),
    "triage": (),
    "queue": ("CaseOpened", "TriageCompleted", "NotificationFailed"),
    "notify": ("CaseOpened", "TurnReached", "MessageSent", "CaseClosed"),
    "chat": ("CaseOpened", "TurnReached"),
    "journal": (
        "CaseOpened",
        "TriageCompleted",
        "CaseQueued",
        "TurnReached",
        "PatientNotified",
        "MessageSent",
        "VideoContactStarted",
        "VideoContactEnded",
        "CaseClosed",
        "JournalEntryCorrected",
        "ConsentGiven",
        "ConsentWithdrawn",
        "JournalBlockPlaced",
        "JournalBlockLifted",
    ),
}


def topic_for_service(service: str) -> str:
    """The topic a service owns and alone writes its events to."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return f"careflow.{service}.events"


def dead_letter_topic(service: str) -> str:
    """The topic where a service's consumers put messages they could not read."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return f"careflow.{service}.deadletter"


def topic_for_event(event_type: str) -> str:
    """The topic an event type is published on (its owner's topic)."""
    return topic_for_service(model_for(event_type).OWNER)


def event_topics() -> tuple[str, ...]:
    """Every event topic, one per service."""
    return tuple(topic_for_service(s) for s in SERVICES)


def model_for(event_type: str) -> type[Event]:
    """The current model for an event type; raises ``UnknownEventType``."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


class ContractError(ValueError):
    """A message that is not a valid careflow event; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(ContractError):
    """The message names an event type this version of the contracts does not know."""


def parse_event(raw: bytes | str | Mapping[str, Any]) -> Event:
    """Read one event from its wire form, upcasting older schema versions.

    Raises ``ContractError`` (with a human-readable ``reason``) for bad JSON, an
    unknown event type or a message that fails validation.
    """
    from .upcasting import upcast

    if isinstance(raw, Mapping):
        data: Any = dict(raw)
    else:
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ContractError("not valid JSON: nested too deeply") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ContractError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError("an event must be a JSON object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise ContractError("missing or non-string 'event_type'")
    model = model_for(event_type)
    if "event_id" not in data:
        # A default would invent a new id per read and defeat de-duplication.
        raise ContractError("missing 'event_id'")
    data = upcast(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ContractError(
            f"{event_type} failed validation ({exc.error_count()} errors); "
            f"first at {where}: {first['msg']}"
        ) from None
