"""Which events exist, which topic each lives on and who consumes them.

One topic per owning service; only the owner writes it. An event that names a
person by personal identity number has a restricted topic of its own instead,
which only the services ``RESTRICTED_TOPICS`` lists may read. Every topic has the
same partition count and every message is keyed by case id. Reading a message
off the wire is ``parsing.parse_event``; lifting old versions is ``upcasting``.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import (
    chat_events,
    identity_events,
    journal_events,
    notify_events,
    queue_events,
    triage_events,
)
from .envelope import Event
from .errors import UnknownEventType

#: Every service that owns a topic.
SERVICES: tuple[str, ...] = ("identity", "triage", "queue", "chat", "journal", "notify")

#: Partition count shared by every careflow topic (case order holds within one).
PARTITIONS = 6

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

#: Events naming a person by personal identity number: event type -> (its topic, the only
#: services that may read it). The deploy ACLs grant exactly these reads, and
#: ``SUBSCRIPTIONS`` may list such an event for these services alone.
RESTRICTED_TOPICS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "CasePatientIdentified": ("careflow.identity.patients", ("journal",)),
}

#: Which event types each service consumes (documented in its AsyncAPI document).
SUBSCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    # Identity reads CaseOpened to tell the journal the patient's number.
    "identity": ("CaseOpened",),
    # Triage reads how far a case has come, to refuse a re-triage once contact has begun.
    "triage": ("TurnReached", "CaseRequeued", "CaseTransferred", "CaseWithdrawn", "CaseClosed"),
    # Queue reads CaseClosed to know when (and how) the care guarantee's assessment was met.
    "queue": ("CaseOpened", "TriageCompleted", "NotificationFailed", "CaseClosed"),
    "notify": ("CaseOpened", "TurnReached", "MessageSent", "CaseClosed"),
    "chat": ("CaseOpened", "TurnReached"),
    "journal": (
        "CaseOpened",
        "CasePatientIdentified",
        "TriageCompleted",
        "CaseQueued",
        "TurnReached",
        "PatientNotified",
        "MessageSent",
        "VideoContactStarted",
        "VideoContactEnded",
        "CaseClosed",
        "JournalEntryCorrected",
        "JournalNoteSigned",
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
    """The topic an event type is published on: its restricted topic, or its owner's."""
    model = model_for(event_type)
    if event_type in RESTRICTED_TOPICS:
        return RESTRICTED_TOPICS[event_type][0]
    return topic_for_service(model.OWNER)


def event_topics() -> tuple[str, ...]:
    """Every service's own event topic, one per service (restricted topics not included)."""
    return tuple(topic_for_service(s) for s in SERVICES)


def restricted_topics() -> tuple[str, ...]:
    """Every restricted topic (each readable only by its listed services)."""
    return tuple(sorted({topic for topic, _ in RESTRICTED_TOPICS.values()}))


def topics_written_by(service: str) -> tuple[str, ...]:
    """The event topics ``service`` writes: its own, then its restricted ones."""
    own = topic_for_service(service)
    restricted = {
        topic
        for event_type, (topic, _) in RESTRICTED_TOPICS.items()
        if service == model_for(event_type).OWNER
    }
    return (own, *sorted(restricted))


def may_read(service: str, topic: str) -> bool:
    """Whether ``service`` may consume ``topic`` (any owner topic; a restricted one only
    by its listed readers)."""
    readers = {t: r for t, r in RESTRICTED_TOPICS.values()}
    return service in readers.get(topic, SERVICES)


def model_for(event_type: str) -> type[Event]:
    """The current model for an event type; raises ``UnknownEventType``."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
