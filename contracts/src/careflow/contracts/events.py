"""Every careflow event and the shared vocabulary, in one import.

Each owning service's events live in their own module (``triage_events``,
``queue_events``, ...); this module re-exports them all.
"""

from .chat_events import CaseClosed, MessageSent, VideoContactEnded, VideoContactStarted
from .notify_events import PatientNotified
from .queue_events import CaseQueued, TurnReached
from .triage_events import CaseOpened, TriageCompleted
from .vocabulary import (
    Answer,
    AttachmentRef,
    Outcome,
    Professional,
    QueueRef,
    Recommendation,
    SenderRole,
    Skill,
    Urgency,
)

__all__ = [
    "Answer",
    "AttachmentRef",
    "CaseClosed",
    "CaseOpened",
    "CaseQueued",
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
    "Urgency",
    "VideoContactEnded",
    "VideoContactStarted",
]
