"""Events owned by notify: what the patient was told."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from .envelope import Event


class PatientNotified(Event):
    """The patient was told something (for now: that it is their turn)."""

    OWNER: ClassVar[str] = "notify"
    event_type: Literal["PatientNotified"] = "PatientNotified"
    schema_version: Literal[1] = 1

    notification_id: UUID
    kind: Literal["your_turn"]
    channel: str = Field(min_length=1, max_length=32)
    cause_event_id: UUID = Field(description="The event the notification is about.")


#: What a notification to an outside channel tells the patient (never anything about their health).
NotificationKind = Literal["your_turn", "new_message", "advice_ready"]
#: The outside channels notify reaches a patient through.
NotificationChannel = Literal["sms", "email", "push"]


class NotificationSent(Event):
    """A notification left through an outside channel and the channel accepted it.

    Exactly one per (cause event, recipient, channel): ``dedupe_key`` names that triple
    and is also the idempotency key the channel was given.
    """

    OWNER: ClassVar[str] = "notify"
    event_type: Literal["NotificationSent"] = "NotificationSent"
    schema_version: Literal[1] = 1

    notification_id: UUID
    kind: NotificationKind
    channel: NotificationChannel
    recipient_id: str = Field(
        min_length=1, max_length=128, description="Opaque subject id of the person reached."
    )
    cause_event_id: UUID = Field(description="The event the notification is about.")
    dedupe_key: str = Field(min_length=1, max_length=200)
    attempts: int = Field(ge=1, description="Tries it took, this one included.")


class NotificationFailed(Event):
    """A notification could not be delivered and will not be tried again.

    Staff are meant to see it (queue), so a patient who was not reached is never left
    waiting silently. ``detail`` is safe to show: it never carries contact details.

    Version 2 also tells of the app itself (``channel`` ``in_app``): a patient with no
    outside channel (``no_channel``), or one who did not see "your turn" in the app in
    time (``not_seen``). Version 1 knew only outside channels; it is lifted unchanged.

    Version 3 adds ``outcome_unknown``: the whole e-mail reached the mail server but its
    answer did not, so it is not sent again (SMTP cannot recognise a repeat, and a second
    copy would reach the patient twice). Versions 1 and 2 are lifted unchanged.
    """

    OWNER: ClassVar[str] = "notify"
    event_type: Literal["NotificationFailed"] = "NotificationFailed"
    schema_version: Literal[3] = 3

    notification_id: UUID
    kind: NotificationKind
    channel: NotificationChannel | Literal["in_app"]
    recipient_id: str = Field(min_length=1, max_length=128)
    cause_event_id: UUID
    dedupe_key: str = Field(min_length=1, max_length=200)
    attempts: int = Field(ge=0)
    reason: Literal[
        "invalid_recipient",
        "retries_exhausted",
        "channel_unavailable",
        "no_channel",
        "not_seen",
        "outcome_unknown",
    ] = Field(
        description="invalid_recipient: the channel refused the number or address for good; "
        "retries_exhausted: the channel kept failing until the last try; "
        "channel_unavailable: this installation has no such channel configured; "
        "no_channel: the patient chose no outside channel and did not see the app in time; "
        "not_seen: outside channels were tried but none reached the patient, nor the app; "
        "outcome_unknown: the channel got the whole notification but never confirmed it, "
        "and it is not sent again lest the patient get it twice."
    )
    detail: str = Field(max_length=500, description="What the channel said, without personal data.")


#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = (PatientNotified, NotificationFailed, NotificationSent)
