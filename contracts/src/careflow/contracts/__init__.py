"""careflow.contracts: the public wire format of careflow's Kafka events.

Install this package alone to consume careflow events: it depends on pydantic
only. ``parse_event`` reads any event off the wire; ``topic_for_service`` and
``topic_for_event`` say where events live.
"""

from .envelope import Actor, ActorRole, Event
from .errors import ContractError, UnknownEventType
from .events import (
    Answer,
    AttachmentRef,
    CaseClosed,
    CaseOpened,
    CasePatientIdentified,
    CaseQueued,
    MessageSent,
    Outcome,
    PatientNotified,
    Professional,
    QueueRef,
    Recommendation,
    SenderRole,
    Skill,
    TriageCompleted,
    TurnReached,
    Urgency,
    VideoContactEnded,
    VideoContactStarted,
)
from .parsing import parse_event
from .registry import (
    EVENT_TYPES,
    PARTITIONS,
    RESTRICTED_TOPICS,
    SERVICES,
    SUBSCRIPTIONS,
    dead_letter_topic,
    event_topics,
    may_read,
    model_for,
    restricted_topics,
    topic_for_event,
    topic_for_service,
    topics_written_by,
)

__all__ = [
    "EVENT_TYPES",
    "PARTITIONS",
    "RESTRICTED_TOPICS",
    "SERVICES",
    "SUBSCRIPTIONS",
    "Actor",
    "ActorRole",
    "Answer",
    "AttachmentRef",
    "CaseClosed",
    "CaseOpened",
    "CasePatientIdentified",
    "CaseQueued",
    "ContractError",
    "Event",
    "MessageSent",
    "Outcome",
    "PatientNotified",
    "Professional",
    "QueueRef",
    "Recommendation",
    "SenderRole",
    "Skill",
    "TriageCompleted",
    "TurnReached",
    "UnknownEventType",
    "Urgency",
    "VideoContactEnded",
    "VideoContactStarted",
    "dead_letter_topic",
    "event_topics",
    "may_read",
    "model_for",
    "parse_event",
    "restricted_topics",
    "topic_for_event",
    "topic_for_service",
    "topics_written_by",
]
