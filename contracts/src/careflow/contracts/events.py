"""Every careflow event and the shared vocabulary, in one import.

Each owning service's events live in their own module (``triage_events``,
``queue_events``, ...); this module re-exports them all.
"""

from .chat_events import (
    BookedAppointment,
    CaseClosed,
    ConsultantInvited,
    ContactRated,
    MessageSent,
    VideoContactEnded,
    VideoContactStarted,
)
from .identity_events import (
    ActingForChildStarted,
    CasePatientIdentified,
    LoginRefused,
    LoginSucceeded,
)
from .journal_events import (
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockLifted,
    JournalBlockPlaced,
    JournalCheckpointed,
    JournalEntryCorrected,
)
from .notify_events import NotificationFailed, NotificationSent, PatientNotified
from .queue_events import (
    CaseQueued,
    CaseRequeued,
    CaseTransferred,
    CaseWithdrawn,
    TurnReached,
    WithdrawalReason,
)
from .triage_events import (
    CaseOpened,
    TriageCompleted,
)
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
    "ActingForChildStarted",
    "Answer",
    "AttachmentRef",
    "BookedAppointment",
    "CaseClosed",
    "CaseOpened",
    "CasePatientIdentified",
    "CaseQueued",
    "CaseRequeued",
    "CaseTransferred",
    "CaseWithdrawn",
    "ConsentGiven",
    "ConsentWithdrawn",
    "ConsultantInvited",
    "ContactRated",
    "JournalBlockLifted",
    "JournalBlockPlaced",
    "JournalCheckpointed",
    "JournalEntryCorrected",
    "LoginRefused",
    "LoginSucceeded",
    "MessageSent",
    "NotificationFailed",
    "NotificationSent",
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
    "WithdrawalReason",
]
