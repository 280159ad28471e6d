"""The common envelope every careflow event travels in.

Every event on every topic is one JSON object: the envelope fields below plus
the event's own fields, flat. The Kafka key is always ``case_id`` so that one
case's events stay in order within a topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


class ActorRole(StrEnum):
    """Who caused an event."""

    PATIENT = "patient"
    GUARDIAN = "guardian"
    STAFF = "staff"
    SYSTEM = "system"


class Actor(BaseModel):
    """The one who caused an event, and on whose behalf they acted.

    ``id`` is an opaque subject id issued by identity, never a personal
    identity number, so that envelopes can be logged and inspected safely.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    role: ActorRole
    on_behalf_of: str | None = Field(
        default=None,
        description="Subject id of the child a guardian acts for; null when acting for oneself.",
    )


class Event(BaseModel):
    """Base of every careflow event: the envelope.

    Subclasses set ``event_type`` and ``schema_version`` as class-level
    literals; both are also serialised so a consumer can route a message
    without knowing its type in advance.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The service that owns (and alone produces) this event; set by every subclass.
    OWNER: ClassVar[str] = ""

    event_id: UUID = Field(default_factory=uuid4)
    # Subclasses narrow these two to Literal constants.
    event_type: str
    schema_version: int
    case_id: UUID = Field(description="The case this event belongs to; also the Kafka key.")
    occurred_at: AwareDatetime = Field(description="When it happened, in UTC.")
    producer: str = Field(min_length=1, description="The producing service.")
    correlation_id: UUID = Field(description="Shared by every event of one user journey.")
    causation_id: UUID | None = Field(
        default=None, description="The event_id of the event that caused this one, if any."
    )
    actor: Actor

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def key(self) -> bytes:
        """The Kafka key: the case id, so a case's events keep their order."""
        return str(self.case_id).encode()

    def to_json(self) -> bytes:
        """Serialise to the wire format (UTF-8 JSON)."""
        return self.model_dump_json().encode()
