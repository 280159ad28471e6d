"""Chat's commands and queries: every entry point (REST, the live WebSocket) calls these.

Each opens one transaction, authorises the caller, loads what the rules need, lets
the domain decide and runs the decision through ``adapters.AGGREGATE.execute`` (append
at the expected version, store the conversation's state, project the read models).
The time and fresh ids come from the injected ``Clock``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import adapters, attachments, blobs, domain
from careflow.contracts import (
    AttachmentRef,
    Outcome,
    Professional,
    SenderRole,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.kit import access_log
from careflow.kit.auth import Principal
from careflow.kit.cases import require_case_access
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound
from careflow.kit.eventstore import ConcurrencyError

#: A send that loses the race for its sequence number is numbered again, this often.
SEND_ATTEMPTS = 5


def sender_of(caller: Principal) -> domain.Sender:
    """The domain's view of an authenticated caller."""
    return domain.Sender(
        subject_id=caller.subject_id,
        acting_for=caller.acting_for,
        is_staff=caller.role == "staff",
        is_auditor=caller.role == "auditor",
    )


async def member(
    conn: AsyncConnection, case_id: UUID, caller: Principal, clock: Clock | None = None
) -> domain.Participants:
    """The case's participants, if ``caller`` is one of them (patient side, professional or
    invited consultant). Anyone else gets the same 404 as for an unknown case.

    With a ``clock``, an invited colleague acting for the first time joins (``join_invited``).
    """
    await require_case_access(conn, case_id, caller)
    who = await adapters.participants(conn, case_id)
    if clock is not None:
        await join_invited(conn, clock, who, caller)
    sender = sender_of(caller)
    if (
        sender.is_staff
        and sender.subject_id != who.professional.staff_id
        and not await adapters.is_consultant(conn, case_id, sender.subject_id)
    ):
        raise NotFound("no such case")
    return who


async def reader(
    conn: AsyncConnection, clock: Clock, case_id: UUID, caller: Principal, what: str
) -> domain.Participants | None:
    """Let ``caller`` read the case's health data (``what``), or raise ``NotFound``.

    The patient side reads its own case; staff only within a care relation (the case's
    professional or an invited consultant), and each of their reads is written to the
    access log in this transaction (once per kind of read within ``REPEATED_READ``);
    auditors read no chat content. Returns the participants (None before the conversation
    opens, which only the patient side sees).
    """
    await require_case_access(conn, case_id, caller)
    who = await adapters.find_participants(conn, case_id)
    if who is not None:
        await join_invited(conn, clock, who, caller)
    sender = sender_of(caller)
    consulted = (
        sender.is_staff
        and who is not None
        and await adapters.is_consultant(conn, case_id, sender.subject_id)
    )
    basis = domain.read_basis(sender, who, consulted)
    if basis is not None:
        entry = access_log.staff_read(
            caller, case_id, what, basis, domain.PURPOSE_CARE, clock.now()
        )
        await adapters.record_access(conn, entry, domain.REPEATED_READ)
    return who


async def join_invited(
    conn: AsyncConnection, clock: Clock, who: domain.Participants, caller: Principal
) -> None:
    """An invited colleague's first act on the case makes them its consultant.

    The consultant is recorded (``ConsultantInvited``) as their own token names them: its
    name, title and care unit are signed by identity from the staff catalogue, where an
    inviter could have typed anything. The invitation's rules are checked again: a case
    closed since, or full, is not joined (the colleague then stays a stranger to it).
    """
    if caller.role != "staff" or caller.subject_id == who.professional.staff_id:
        return
    if not (caller.name and caller.title and caller.care_unit):
        return  # a token that does not name its holder names no consultant
    if await adapters.is_consultant(conn, who.case_id, caller.subject_id):
        return
    invitation = await adapters.take_invitation(conn, who.case_id, caller.subject_id)
    if invitation is None:
        return
    consultant = Professional(
        staff_id=caller.subject_id, name=caller.name, title=caller.title, care_unit=caller.care_unit
    )
    inviter = domain.Sender(subject_id=invitation.invited_by, is_staff=True)
    now = clock.now()
    try:
        await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(who.case_id),
            lambda s: domain.decide_invite(s, who, inviter, consultant, invitation.reason, now),
            project=adapters.projection(),
        )
    except (Conflict, Forbidden, Invalid):
        return


async def _conversation(conn: AsyncConnection, case_id: UUID) -> domain.Conversation:
    state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
    return state


# Commands


async def send(
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    text: str,
    idempotency_key: str,
    attachment_shas: Sequence[str] = (),
) -> dict[str, Any]:
    """Send one message; a retry with the same idempotency key returns the first one."""

    async def once() -> dict[str, Any]:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            await adapters.lock_conversation(conn, case_id)
            existing = await adapters.message_by_key(conn, case_id, idempotency_key)
            if existing is not None:  # a retried send returns the message it already made
                return existing
            who = await adapters.participants(conn, case_id)
            await join_invited(conn, clock, who, caller)
            shas = list(dict.fromkeys(attachment_shas))
            found = await adapters.uploaded(conn, case_id, shas)
            if len(found) != len(shas):
                raise Invalid("an attachment was not uploaded to this case")
            files = tuple(
                domain.Attachment(f["sha256"], f["media_type"], f["size_bytes"]) for f in found
            )
            now = clock.now()
            await adapters.AGGREGATE.execute(
                conn,
                adapters.stream_id(case_id),
                lambda s: domain.decide_send(s, who, sender_of(caller), text, now, files),
                project=adapters.projection(idempotency_key),
            )
            made = await adapters.message_by_key(conn, case_id, idempotency_key)
            assert made is not None
            return made

    for attempt in range(SEND_ATTEMPTS):
        try:
            return await once()
        except ConcurrencyError:
            # Another command (a closing, an invitation) moved the case first: decide again.
            if attempt == SEND_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def upload(
    db: Database,
    store: blobs.BlobStore,
    case_id: UUID,
    caller: Principal,
    body: AsyncIterable[bytes],
    declared_bytes: int | None,
    limit: int,
) -> AttachmentRef:
    """Store one attachment for the case (checked by content, metadata stripped).

    Who may write is settled before a byte of the body is read.
    """
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        domain.writer_role(sender_of(caller), who, await _conversation(conn, case_id))
    data = await attachments.read_within(body, limit, declared_bytes)
    cleaned = await attachments.clean_off_loop(data, limit)
    await store.put(cleaned.sha256, cleaned.data)
    async with db.transaction() as conn:
        await adapters.record_upload(
            conn, case_id, cleaned.sha256, cleaned.media_type, cleaned.size_bytes, caller.subject_id
        )
    return AttachmentRef(
        sha256=cleaned.sha256, media_type=cleaned.media_type, size_bytes=cleaned.size_bytes
    )


async def invite(
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    staff_id: str,
    reason: str,
) -> None:
    """The professional asks a colleague (named by staff id only) to consult.

    The colleague becomes the case's consultant when they first act on it, as their own
    token names them (``join_invited``); until then the invitation waits.
    """
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = clock.now()
        state = await _conversation(conn, case_id)
        # The invitation's rules, now: the name and title here are never recorded.
        unnamed = Professional(staff_id=staff_id, name=staff_id, title="-", care_unit="-")
        domain.decide_invite(state, who, sender_of(caller), unnamed, reason, now)
        if not await adapters.add_invitation(
            conn, case_id, staff_id, reason, caller.subject_id, now
        ):
            raise Conflict("that colleague is already invited")


async def start_video(
    db: Database, clock: Clock, case_id: UUID, caller: Principal
) -> VideoContactStarted:
    """Switch the contact to video."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now, contact = clock.now(), clock.new_id()
        _, [started] = await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: domain.decide_start_video(s, who, sender_of(caller), now, contact),
            project=adapters.projection(),
        )
    assert isinstance(started, VideoContactStarted)
    return started


async def end_video(
    db: Database, clock: Clock, case_id: UUID, caller: Principal
) -> VideoContactEnded:
    """Hang up the video contact."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = clock.now()
        _, [ended] = await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: domain.decide_end_video(s, who, sender_of(caller), now),
            project=adapters.projection(),
        )
    assert isinstance(ended, VideoContactEnded)
    return ended


async def close(
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    outcome: Outcome,
    advice: str | None,
    documentation_note: str,
    details: domain.ClosingDetails,
) -> dict[str, Any]:
    """The professional closes the case; returns the closed conversation."""
    async with db.transaction() as conn:
        # Not ``member``: staff of the region who are not in the conversation are told
        # they may not close it (403), as the rules say, rather than that it is unknown.
        await require_case_access(conn, case_id, caller)
        who = await adapters.participants(conn, case_id)
        now = clock.now()
        await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: domain.decide_close(
                s, who, sender_of(caller), outcome, advice, documentation_note, now, details
            ),
            project=adapters.projection(),
        )
        return await adapters.conversation(conn, case_id)


async def rate(
    db: Database,
    clock: Clock,
    case_id: UUID,
    caller: Principal,
    rating: int,
    comment: str | None,
) -> dict[str, Any]:
    """The patient rates the closed contact, once; returns the conversation."""
    if caller.role != "patient":
        raise Forbidden("only the patient may rate the contact")
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = clock.now()
        await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: domain.decide_rate(s, who, sender_of(caller), rating, comment, now),
            project=adapters.projection(),
        )
        return await adapters.conversation(conn, case_id)


async def mark_read(
    db: Database, clock: Clock, case_id: UUID, caller: Principal, up_to: int
) -> int:
    """Record that the caller has read up to message ``up_to``; returns where they stand."""
    domain.check_reading(up_to)
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller, clock)
        state = await _conversation(conn, case_id)
        domain.check_reading(up_to, state)
        role = domain.role_of(sender_of(caller), who, state)
        return await adapters.mark_read(
            conn, case_id, caller.subject_id, role.value, up_to, clock.now()
        )


async def relay_signal(
    db: Database, case_id: UUID, caller: Principal, kind: str, data: dict[str, Any]
) -> None:
    """Pass a WebRTC signalling message to the other video participant, and no one else."""
    domain.check_signal_kind(kind)
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        state = await _conversation(conn, case_id)
        contact, other = domain.signal_route(state, who, sender_of(caller))
        await adapters.add_signal(conn, case_id, contact, other, kind, data)


# Queries


async def may_relay_video(db: Database, case_id: UUID, caller: Principal) -> bool:
    """Whether ``caller`` may have TURN logins for the case's video (a participant of it,
    while it runs); strangers to the case get ``NotFound``."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        state = await _conversation(conn, case_id)
        return domain.may_relay_video(sender_of(caller), who, state)


async def messages(
    db: Database, clock: Clock, case_id: UUID, caller: Principal, after: int
) -> list[dict[str, Any]]:
    """The case's messages after sequence ``after``, for the case's participants; staff's
    messages carry the writer's name and title (a consultant's are not the professional's)."""
    async with db.transaction() as conn:
        await reader(conn, clock, case_id, caller, domain.READ_MESSAGES)
        rows = await adapters.history(conn, case_id, after)
        names = await adapters.staff_names(conn, case_id) if rows else {}
    for row in rows:
        if row["sender_role"] == "staff" and row["sender_id"] in names:
            row["sender_name"], row["sender_title"] = names[row["sender_id"]]
    return rows


async def attachment(
    db: Database,
    clock: Clock,
    store: blobs.BlobStore,
    case_id: UUID,
    caller: Principal,
    sha256: str,
) -> tuple[str, bytes]:
    """An attachment of the case: (media type, bytes)."""
    async with db.transaction() as conn:
        await reader(conn, clock, case_id, caller, domain.READ_ATTACHMENT)
        rows = await adapters.uploaded(conn, case_id, [sha256])
    found = rows[0] if rows else None
    data = await store.get(sha256) if found else None
    if found is None or data is None:
        raise NotFound("no such attachment in this case")
    return str(found["media_type"]), data


async def receipts(
    db: Database, clock: Clock, case_id: UUID, caller: Principal
) -> list[dict[str, Any]]:
    """How far each reader has read in the case."""
    async with db.transaction() as conn:
        await reader(conn, clock, case_id, caller, domain.READ_RECEIPTS)
        return await adapters.read_receipts(conn, case_id)


async def summary(db: Database, clock: Clock, case_id: UUID, caller: Principal) -> dict[str, Any]:
    """The case's conversation: its professional, outcome, video and rating."""
    async with db.transaction() as conn:
        await reader(conn, clock, case_id, caller, domain.READ_SUMMARY)
        return await adapters.conversation(conn, case_id)


async def closed_cases(db: Database, caller: Principal) -> list[dict[str, Any]]:
    """The caller's closed cases, or, while acting for a child, the child's."""
    async with db.transaction() as conn:
        return await adapters.closed_cases_of(conn, caller)


# The live socket


@dataclass(frozen=True)
class Joined:
    """What a live socket starts from: the caller's place in the case and where it stands."""

    role: SenderRole
    video_side: str | None
    relay: bool
    state: domain.Conversation
    receipts: list[dict[str, Any]]
    last_signal: int


async def join(db: Database, clock: Clock, case_id: UUID, caller: Principal) -> Joined:
    """A participant opens the case's live socket (a logged read for staff: its history)."""
    async with db.transaction() as conn:
        if await reader(conn, clock, case_id, caller, domain.READ_LIVE) is None:
            raise Conflict("there is no conversation yet: it is not the patient's turn")
        who = await member(conn, case_id, caller)
        state = await _conversation(conn, case_id)
        sender = sender_of(caller)
        return Joined(
            role=domain.role_of(sender, who, state),
            video_side=domain.video_side(sender, who),
            relay=domain.may_relay_video(sender, who, state),
            state=state,
            receipts=await adapters.read_receipts(conn, case_id),
            last_signal=await adapters.last_signal_id(conn, case_id),
        )


async def history(db: Database, case_id: UUID, after: int) -> list[dict[str, Any]]:
    """Messages after ``after`` for a socket that has already joined the case."""
    async with db.transaction() as conn:
        return await adapters.history(conn, case_id, after)


async def signals_for(db: Database, case_id: UUID, side: str, after: int) -> list[dict[str, Any]]:
    """Signalling messages for ``side`` newer than ``after``, for a joined video participant."""
    async with db.transaction() as conn:
        return await adapters.signals_after(conn, case_id, side, after)
