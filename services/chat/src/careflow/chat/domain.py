"""Conversation rules: who may write in a case, message order, consulting, video and closing.

Pure: no I/O, the time and fresh ids passed in. The aggregate is one case's
conversation; its participants (the patient, or the guardian acting for a child,
and the professional who reached the turn) are passed in by the caller.
Consultants the professional invites, the video contact in progress and whether
the case is closed or rated are part of the aggregate's own state.

Event ids are derived from each event's natural key (the case and a message's
sequence number; the case for its closing and for its rating; the case and the
colleague for an invitation; the video contact for its start and its end), so
deciding the same thing from the same state gives the same events. The one
fresh id, a new video contact's, is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    AttachmentRef,
    CaseClosed,
    Event,
    MessageSent,
    Outcome,
    Professional,
    SenderRole,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.chat_events import (
    BookedAppointment,
    ComplaintFiled,
    ConsultantInvited,
    ContactRated,
)
from careflow.kit.clock import natural_id
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound

PRODUCER = "chat"
MAX_MESSAGE_CHARS = 4000
MAX_ATTACHMENTS_PER_MESSAGE = 5
MAX_CONSULTANTS = 5
SIGNAL_KINDS = ("offer", "answer", "ice")


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
    is_auditor: bool = False


@dataclass(frozen=True)
class Conversation:
    """One case's conversation as its events left it (stored whole after every command)."""

    last_sequence: int = 0
    closed: bool = False
    last_event_id: UUID | None = None
    consultants: tuple[Professional, ...] = ()
    video_contact_id: UUID | None = None
    video_started_at: datetime | None = None
    rated: bool = False


@dataclass(frozen=True)
class ClosingDetails:
    """What an outcome needs besides its advice: the booking, referral, renewal or unit."""

    appointment: BookedAppointment | None = None
    referral_to: str | None = None
    renewed_prescription: str | None = None
    emergency_unit: str | None = None


@dataclass(frozen=True)
class Attachment:
    """An attachment already stored for this case, to be referenced by a message."""

    sha256: str
    media_type: str
    size_bytes: int
    uploaded_by: str = field(default="")


def evolve(state: Conversation, event: Event) -> Conversation:
    """Apply one recorded event."""
    state = replace(state, last_event_id=event.event_id)
    if isinstance(event, MessageSent):
        return replace(state, last_sequence=event.sequence)
    if isinstance(event, CaseClosed):
        return replace(state, closed=True)
    if isinstance(event, ConsultantInvited):
        return replace(state, consultants=(*state.consultants, event.consultant))
    if isinstance(event, VideoContactStarted):
        return replace(
            state, video_contact_id=event.video_contact_id, video_started_at=event.occurred_at
        )
    if isinstance(event, VideoContactEnded):
        return replace(state, video_contact_id=None, video_started_at=None)
    if isinstance(event, ContactRated):
        return replace(state, rated=True)
    return state


def consultant(state: Conversation, staff_id: str) -> Professional | None:
    """The invited consultant with this staff id, if any."""
    return next((c for c in state.consultants if c.staff_id == staff_id), None)


def role_of(sender: Sender, who: Participants, state: Conversation | None = None) -> SenderRole:
    """The sender's role in the conversation; ``Forbidden`` for anyone not in it."""
    if sender.is_staff:
        if sender.subject_id == who.professional.staff_id:
            return SenderRole.STAFF
        if state is not None and consultant(state, sender.subject_id) is not None:
            return SenderRole.STAFF
        raise Forbidden("only the professional who took the case, or a consultant, may write in it")
    if sender.subject_id == who.patient_id and sender.acting_for is None:
        return SenderRole.PATIENT
    # Any guardian in the register (identity checked it for the token), not only the opener.
    if sender.acting_for == who.patient_id:
        return SenderRole.GUARDIAN
    raise Forbidden("you are not in this conversation")


def writer_role(sender: Sender, who: Participants, state: Conversation) -> SenderRole:
    """The role of one about to write in the case (a message, an attachment).

    ``Conflict`` once the case is closed, ``Forbidden`` for anyone not in it.
    """
    if state.closed:
        raise Conflict("the case is closed; nobody can write in it")
    return role_of(sender, who, state)


def video_side(sender: Sender, who: Participants) -> str | None:
    """``patient`` or ``staff`` for the two who may be in the case's video; None otherwise.

    Only the patient (or the guardian acting for the child) and the professional who took
    the case are video participants; consultants follow the chat, not the call.
    """
    if sender.is_staff:
        return "staff" if sender.subject_id == who.professional.staff_id else None
    try:
        role = role_of(sender, who)
    except Forbidden:
        return None
    return "patient" if role in (SenderRole.PATIENT, SenderRole.GUARDIAN) else None


def _actor(sender: Sender, role: SenderRole, who: Participants) -> Actor:
    actor_role = {
        SenderRole.STAFF: ActorRole.STAFF,
        SenderRole.PATIENT: ActorRole.PATIENT,
        SenderRole.GUARDIAN: ActorRole.GUARDIAN,
    }[role]
    return Actor(
        id=sender.subject_id,
        role=actor_role,
        on_behalf_of=who.patient_id if role is SenderRole.GUARDIAN else None,
    )


def _event_id(*key: object) -> UUID:
    """The id of the one event with this natural key (see the module docstring)."""
    return natural_id("chat", *(str(part) for part in key))


def _envelope(
    state: Conversation, who: Participants, actor: Actor, now: datetime, event_id: UUID
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "case_id": who.case_id,
        "occurred_at": now,
        "producer": PRODUCER,
        "correlation_id": who.correlation_id,
        "causation_id": state.last_event_id,
        "actor": actor,
    }


def decide_send(
    state: Conversation,
    who: Participants,
    sender: Sender,
    text: str,
    now: datetime,
    attachments: tuple[Attachment, ...] = (),
) -> list[Event]:
    """A message from a participant, numbered after the last one."""
    role = writer_role(sender, who, state)
    if not text.strip() and not attachments:
        raise Invalid("a message needs text or an attachment")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Invalid(f"a message may be at most {MAX_MESSAGE_CHARS} characters")
    if len(attachments) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise Invalid(f"a message may carry at most {MAX_ATTACHMENTS_PER_MESSAGE} attachments")
    professional = None
    if role is SenderRole.STAFF:
        professional = consultant(state, sender.subject_id) or who.professional
    sequence = state.last_sequence + 1
    return [
        MessageSent(
            **_envelope(
                state,
                who,
                _actor(sender, role, who),
                now,
                _event_id(who.case_id, "message-sent", sequence),
            ),
            message_id=_event_id(who.case_id, "message", sequence),
            sequence=sequence,
            sender_role=role,
            sender_id=sender.subject_id,
            professional=professional,
            text=text,
            attachments=tuple(
                AttachmentRef(sha256=a.sha256, media_type=a.media_type, size_bytes=a.size_bytes)
                for a in attachments
            ),
        )
    ]


def _end_video(state: Conversation, who: Participants, actor: Actor, now: datetime) -> list[Event]:
    if state.video_contact_id is None or state.video_started_at is None:
        return []
    return [
        VideoContactEnded(
            **_envelope(
                state, who, actor, now, _event_id(state.video_contact_id, "video-contact-ended")
            ),
            video_contact_id=state.video_contact_id,
            started_at=state.video_started_at,
            duration_seconds=max(0.0, (now - state.video_started_at).total_seconds()),
        )
    ]


def _check_outcome(
    outcome: Outcome, advice: str | None, details: ClosingDetails, now: datetime
) -> None:
    if outcome is Outcome.SELF_CARE_ADVICE and not (advice and advice.strip()):
        raise Invalid("self-care advice needs the advice text")
    if outcome is Outcome.BOOKED_APPOINTMENT:
        if details.appointment is None:
            raise Invalid("a booked appointment needs its care unit and time")
        if details.appointment.starts_at <= now:
            raise Invalid("a booked appointment must be in the future")
    if outcome is Outcome.REFERRAL and not (details.referral_to and details.referral_to.strip()):
        raise Invalid("a referral needs the receiving unit")
    if outcome is Outcome.PRESCRIPTION_RENEWAL and not (
        details.renewed_prescription and details.renewed_prescription.strip()
    ):
        raise Invalid("a prescription renewal needs what was renewed")
    if outcome is not Outcome.BOOKED_APPOINTMENT and details.appointment is not None:
        raise Invalid("an appointment belongs only to the booked-appointment outcome")


def decide_close(
    state: Conversation,
    who: Participants,
    sender: Sender,
    outcome: Outcome,
    advice: str | None,
    note: str,
    now: datetime,
    details: ClosingDetails | None = None,
) -> list[Event]:
    """The professional closes the case with an outcome and a documentation note.

    A video contact still running ends first, so its duration is documented.
    """
    if state.closed:
        raise Conflict("the case is already closed")
    if not sender.is_staff or sender.subject_id != who.professional.staff_id:
        role_of(sender, who, state)  # strangers get "not in this conversation"
        raise Forbidden("only the professional may close the case")
    details = details or ClosingDetails()
    _check_outcome(outcome, advice, details, now)
    if not note.strip():
        raise Invalid("a documentation note is required")
    actor = Actor(id=sender.subject_id, role=ActorRole.STAFF)
    ended = _end_video(state, who, actor, now)
    after = state
    for e in ended:
        after = evolve(after, e)
    return [
        *ended,
        CaseClosed(
            **_envelope(after, who, actor, now, _event_id(who.case_id, "case-closed")),
            outcome=outcome,
            advice=advice,
            documentation_note=note,
            professional=who.professional,
            appointment=details.appointment,
            referral_to=details.referral_to,
            renewed_prescription=details.renewed_prescription,
            emergency_unit=details.emergency_unit,
        ),
    ]


def decide_invite(
    state: Conversation,
    who: Participants,
    sender: Sender,
    invitee: Professional,
    reason: str,
    now: datetime,
) -> list[Event]:
    """The professional invites a colleague to consult, giving the reason."""
    if state.closed:
        raise Conflict("the case is closed")
    if not sender.is_staff or sender.subject_id != who.professional.staff_id:
        role_of(sender, who, state)
        raise Forbidden("only the professional who took the case may invite a consultant")
    if not reason.strip():
        raise Invalid("an invitation needs a reason")
    if invitee.staff_id == who.professional.staff_id or consultant(state, invitee.staff_id):
        raise Conflict("that colleague is already in the conversation")
    if len(state.consultants) >= MAX_CONSULTANTS:
        raise Conflict(f"at most {MAX_CONSULTANTS} consultants may join one case")
    actor = Actor(id=sender.subject_id, role=ActorRole.STAFF)
    return [
        ConsultantInvited(
            **_envelope(
                state,
                who,
                actor,
                now,
                _event_id(who.case_id, "consultant-invited", invitee.staff_id),
            ),
            consultant=invitee,
            reason=reason,
            invited_by=sender.subject_id,
        )
    ]


def decide_start_video(
    state: Conversation,
    who: Participants,
    sender: Sender,
    now: datetime,
    video_contact_id: UUID,
) -> list[Event]:
    """Either video participant switches the contact to video (once at a time).

    ``video_contact_id`` is a fresh id for the contact about to start.
    """
    if state.closed:
        raise Conflict("the case is closed")
    side = video_side(sender, who)
    if side is None:
        role_of(sender, who, state)
        raise Forbidden("only the patient and the professional take part in the video")
    if state.video_contact_id is not None:
        raise Conflict("a video contact is already in progress")
    role = role_of(sender, who, state)
    # The patient side is the patient, with the guardian when one acts for a child.
    guardian = (who.acting_guardian_id,) if who.acting_guardian_id else ()
    return [
        VideoContactStarted(
            **_envelope(
                state,
                who,
                _actor(sender, role, who),
                now,
                _event_id(video_contact_id, "video-contact-started"),
            ),
            video_contact_id=video_contact_id,
            participant_ids=(who.patient_id, *guardian, who.professional.staff_id),
            professional=who.professional,
        )
    ]


def decide_end_video(
    state: Conversation, who: Participants, sender: Sender, now: datetime
) -> list[Event]:
    """Either video participant hangs up; the duration is recorded."""
    if video_side(sender, who) is None:
        role_of(sender, who, state)
        raise Forbidden("only the patient and the professional take part in the video")
    if state.video_contact_id is None:
        raise Conflict("no video contact is in progress")
    return _end_video(state, who, _actor(sender, role_of(sender, who, state), who), now)


def decide_rate(
    state: Conversation,
    who: Participants,
    sender: Sender,
    rating: int,
    comment: str | None,
    now: datetime,
) -> list[Event]:
    """After closing, the patient (or acting guardian) rates the contact, once."""
    role = role_of(sender, who, state)
    if role is SenderRole.STAFF:
        raise Forbidden("only the patient may rate the contact")
    if not state.closed:
        raise Conflict("a contact can be rated once the case is closed")
    if state.rated:
        raise Conflict("this contact has already been rated")
    if not 1 <= rating <= 5:
        raise Invalid("a rating is from 1 to 5")
    if comment is not None and len(comment) > 2000:
        raise Invalid("a comment may be at most 2000 characters")
    return [
        ContactRated(
            **_envelope(
                state, who, _actor(sender, role, who), now, _event_id(who.case_id, "contact-rated")
            ),
            rating=rating,
            comment=comment.strip() or None if comment else None,
        )
    ]


def check_reading(up_to: int, state: Conversation | None = None) -> None:
    """A read receipt points at a message that exists (without the state: is not negative)."""
    if up_to < 0:
        raise Invalid("up_to must not be negative")
    if state is not None and up_to > state.last_sequence:
        raise Invalid(f"there is no message {up_to} yet")


def may_relay_video(sender: Sender, who: Participants, state: Conversation) -> bool:
    """True for the two video participants while their video contact runs: only they get
    TURN logins (a relay is bandwidth paid for, not a service for any signed-in user)."""
    return (
        not state.closed
        and state.video_contact_id is not None
        and (video_side(sender, who) is not None)
    )


def check_signal_kind(kind: str) -> None:
    """WebRTC signalling carries offers, answers and ICE candidates, nothing else."""
    if kind not in SIGNAL_KINDS:
        raise Invalid("signal kind must be offer, answer or ice")


def signal_route(state: Conversation, who: Participants, sender: Sender) -> tuple[UUID, str]:
    """Where a signalling message goes: (the video contact, the other side).

    Only the two video participants signal, and only while their video contact runs.
    """
    side = video_side(sender, who)
    if side is None:
        raise Invalid("only the patient and the professional take part in the video")
    if state.video_contact_id is None:
        raise Invalid("start the video contact before signalling")
    return state.video_contact_id, "staff" if side == "patient" else "patient"


# Reading the conversation (health data)

#: What a reader reads, as the access log names it.
READ_MESSAGES, READ_ATTACHMENT, READ_RECEIPTS, READ_SUMMARY, READ_LIVE = (
    "messages",
    "attachment",
    "receipts",
    "summary",
    "live",
)
#: Why staff may read: the professional who took the case, or a consultant they invited.
BASIS_PROFESSIONAL, BASIS_CONSULTANT = "professional", "consultant"
#: The purpose of every read chat allows staff: the care of this patient in this contact.
PURPOSE_CARE = "care of the patient in this contact"
#: A reader's read of the same kind of the same case again within this time is the entry
#: already in the access log: an open conversation page asks every second.
REPEATED_READ = timedelta(minutes=5)


def read_basis(sender: Sender, who: Participants | None, consulted: bool) -> str | None:
    """Why ``sender`` may read the conversation of ``who``'s case; ``NotFound`` if they may not.

    The patient side (already matched to the case) reads its own conversation. Staff read
    it only within a care relation: the professional who took the case, or a consultant
    they invited. Auditors read no chat content (they read the journal, which logs them).
    Anyone else, and staff before the case has a professional, get the same 404 as for
    an unknown case, so the case's existence leaks nothing. Returns the staff basis
    (None for the patient side).
    """
    if sender.is_auditor:
        raise NotFound("no such case")
    if not sender.is_staff:
        return None
    if who is not None and sender.subject_id == who.professional.staff_id:
        return BASIS_PROFESSIONAL
    if who is not None and consulted:
        return BASIS_CONSULTANT
    raise NotFound("no such case")


#: The longest complaint text kept (the patient's own words).
MAX_COMPLAINT_CHARS = 4000


def decide_complaint(
    state: Conversation,
    who: Participants,
    sender: Sender,
    region: str,
    category: str,
    text: str,
    complaint_id: UUID,
    now: datetime,
) -> list[Event]:
    """The patient (or acting guardian) complains about the contact: its own event, for the
    region's staff to handle. Only about a contact that took place; as often as needed."""
    role = role_of(sender, who, state)
    if role is SenderRole.STAFF:
        raise Forbidden("only the patient may file a complaint about the contact")
    cleaned = text.strip()
    if not cleaned:
        raise Invalid("write what the complaint is about")
    if len(cleaned) > MAX_COMPLAINT_CHARS:
        raise Invalid(f"a complaint may be at most {MAX_COMPLAINT_CHARS} characters")
    return [
        ComplaintFiled(
            **_envelope(
                state, who, _actor(sender, role, who), now, _event_id(who.case_id, complaint_id)
            ),
            complaint_id=complaint_id,
            region=region,
            professional=who.professional,
            category=category,
            text=cleaned,
        )
    ]
