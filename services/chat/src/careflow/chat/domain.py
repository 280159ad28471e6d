"""Conversation rules: who may write in a case, message order, and closing.

Pure: no I/O, the time passed in. The aggregate is one case's conversation;
its participants (the patient, or the guardian acting for a child, and the
professional who reached the turn) are passed in by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID, uuid4

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseClosed,
    Event,
    MessageSent,
    Outcome,
    Professional,
    SenderRole,
)
from careflow.kit.domain import Conflict, Forbidden, Invalid

PRODUCER = "chat"
MAX_MESSAGE_CHARS = 4000


@dataclass(frozen=True)
class Participants:
    """Who is in one case's conversation."""

    case_id: UUID
    correlation_id: UUID
    patient_id: str
    acting_guardian_id: str | None
    professional: Professional


@dataclass(frozen=True)
class Sender:
    """The one writing: a patient, a guardian acting for a child, or staff."""

    subject_id: str
    acting_for: str | None = None
    is_staff: bool = False


@dataclass(frozen=True)
class Conversation:
    last_sequence: int = 0
    closed: bool = False
    last_event_id: UUID | None = None


def evolve(state: Conversation, event: Event) -> Conversation:
    """Apply one recorded event."""
    if isinstance(event, MessageSent):
        return replace(state, last_sequence=event.sequence, last_event_id=event.event_id)
    if isinstance(event, CaseClosed):
        return replace(state, closed=True, last_event_id=event.event_id)
    return state


def _role_of(sender: Sender, who: Participants) -> SenderRole:
    if sender.is_staff:
        if sender.subject_id != who.professional.staff_id:
            raise Forbidden("only the professional who took the case may write in it")
        return SenderRole.STAFF
    if sender.subject_id == who.patient_id and sender.acting_for is None:
        return SenderRole.PATIENT
    if (
        sender.acting_for == who.patient_id
        and who.acting_guardian_id is not None
        and sender.subject_id == who.acting_guardian_id
    ):
        return SenderRole.GUARDIAN
    raise Forbidden("you are not in this conversation")


def decide_send(
    state: Conversation, who: Participants, sender: Sender, text: str, now: datetime
) -> list[Event]:
    """A message from a participant, numbered after the last one."""
    if state.closed:
        raise Conflict("the case is closed; nobody can write in it")
    role = _role_of(sender, who)
    if not text.strip():
        raise Invalid("a message needs text")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(f"a message may be at most {MAX_MESSAGE_CHARS} characters")
    actor_role = {
        SenderRole.STAFF: ActorRole.STAFF,
        SenderRole.PATIENT: ActorRole.PATIENT,
        SenderRole.GUARDIAN: ActorRole.GUARDIAN,
    }[role]
    return [
        MessageSent(
            case_id=who.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=who.correlation_id,
            causation_id=state.last_event_id,
            actor=Actor(
                id=sender.subject_id,
                role=actor_role,
                on_behalf_of=who.patient_id if role is SenderRole.GUARDIAN else None,
            ),
            message_id=uuid4(),
            sequence=state.last_sequence + 1,
            sender_role=role,
            sender_id=sender.subject_id,
            professional=who.professional if role is SenderRole.STAFF else None,
            text=text,
        )
    ]


def decide_close(
    state: Conversation,
    who: Participants,
    sender: Sender,
    outcome: Outcome,
    advice: str | None,
    note: str,
    now: datetime,
) -> list[Event]:
    """The professional closes the case with an outcome and a documentation note."""
    if state.closed:
        raise Conflict("the case is already closed")
    if _role_of(sender, who) is not SenderRole.STAFF:
        raise Forbidden("only the professional may close the case")
    if outcome is Outcome.SELF_CARE_ADVICE and not (advice and advice.strip()):
        raise Invalid("self-care advice needs the advice text")
    if not note.strip():
        raise Invalid("a documentation note is required")
    return [
        CaseClosed(
            case_id=who.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=who.correlation_id,
            causation_id=state.last_event_id,
            actor=Actor(id=sender.subject_id, role=ActorRole.STAFF),
            outcome=outcome,
            advice=advice,
            documentation_note=note,
            professional=who.professional,
        )
    ]
