"""Chat's commands, shared by the REST API and the WebSocket: one transaction each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import adapters, domain
from careflow.contracts import Event, Professional
from careflow.kit.auth import Principal
from careflow.kit.cases import require_case_access
from careflow.kit.db import Database
from careflow.kit.domain import Invalid, NotFound
from careflow.kit.eventstore import ConcurrencyError


def sender_of(caller: Principal) -> domain.Sender:
    """The domain's view of an authenticated caller."""
    return domain.Sender(
        subject_id=caller.subject_id, acting_for=caller.acting_for, is_staff=caller.role == "staff"
    )


async def member(conn: AsyncConnection, case_id: UUID, caller: Principal) -> domain.Participants:
    """The case's participants, if ``caller`` is one of them (patient side, professional or
    invited consultant). Anyone else gets the same 404 as for an unknown case."""
    await require_case_access(conn, case_id, caller)
    who = await adapters.participants(conn, case_id)
    sender = sender_of(caller)
    if (
        sender.is_staff
        and sender.subject_id != who.professional.staff_id
        and not await adapters.is_consultant(conn, case_id, sender.subject_id)
    ):
        raise NotFound("no such case")
    return who


async def execute(
    conn: AsyncConnection,
    case_id: UUID,
    decide: Callable[[domain.Conversation], Sequence[Event]],
    idempotency_key: str = "",
) -> list[Event]:
    """Run one command on the case's conversation and project what it decided."""
    _, new = await adapters.AGGREGATE.execute(conn, adapters.stream_id(case_id), decide)
    await adapters.project(conn, new, idempotency_key)
    return new


async def send(
    db: Database,
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
            existing = await adapters.message_by_key(conn, case_id, idempotency_key)
            if existing is not None:  # a retried send returns the message it already made
                return existing
            who = await adapters.participants(conn, case_id)
            shas = list(dict.fromkeys(attachment_shas))
            found = await adapters.uploaded(conn, case_id, shas)
            if len(found) != len(shas):
                raise Invalid("an attachment was not uploaded to this case")
            attachments = tuple(
                domain.Attachment(f["sha256"], f["media_type"], f["size_bytes"]) for f in found
            )
            now = datetime.now(UTC)
            await execute(
                conn,
                case_id,
                lambda s: domain.decide_send(s, who, sender_of(caller), text, now, attachments),
                idempotency_key,
            )
            made = await adapters.message_by_key(conn, case_id, idempotency_key)
            assert made is not None
            return made

    for attempt in range(5):
        try:
            return await once()
        except ConcurrencyError:
            # Someone else's message took this sequence number: number ours after it.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


async def invite(
    db: Database, case_id: UUID, caller: Principal, invitee: Professional, reason: str
) -> None:
    """The professional asks a colleague to consult."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = datetime.now(UTC)
        await execute(
            conn,
            case_id,
            lambda s: domain.decide_invite(s, who, sender_of(caller), invitee, reason, now),
        )


async def start_video(db: Database, case_id: UUID, caller: Principal) -> list[Event]:
    """Switch the contact to video."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = datetime.now(UTC)
        return await execute(
            conn, case_id, lambda s: domain.decide_start_video(s, who, sender_of(caller), now)
        )


async def end_video(db: Database, case_id: UUID, caller: Principal) -> list[Event]:
    """Hang up the video contact."""
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        now = datetime.now(UTC)
        return await execute(
            conn, case_id, lambda s: domain.decide_end_video(s, who, sender_of(caller), now)
        )


async def mark_read(db: Database, case_id: UUID, caller: Principal, up_to: int) -> int:
    """Record that the caller has read up to message ``up_to``."""
    if up_to < 0:
        raise Invalid("up_to must not be negative")
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
        if up_to > state.last_sequence:
            raise Invalid(f"there is no message {up_to} yet")
        role = domain.role_of(sender_of(caller), who, state)
        return await adapters.mark_read(
            conn, case_id, caller.subject_id, role.value, up_to, datetime.now(UTC)
        )


async def relay_signal(
    db: Database, case_id: UUID, caller: Principal, kind: str, data: dict[str, Any]
) -> None:
    """Pass a WebRTC signalling message to the other video participant, and no one else."""
    if kind not in ("offer", "answer", "ice"):
        raise Invalid("signal kind must be offer, answer or ice")
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        side = domain.video_side(sender_of(caller), who)
        if side is None:
            raise Invalid("only the patient and the professional take part in the video")
        state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
        if state.video_contact_id is None:
            raise Invalid("start the video contact before signalling")
        other = "staff" if side == "patient" else "patient"
        await adapters.add_signal(conn, case_id, state.video_contact_id, other, kind, data)
