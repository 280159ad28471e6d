"""Chat's database: event store, conversations (from TurnReached), messages and live feed.

The tables are defined in ``careflow.chat.tables``.

Every change a live client must see (a message, a receipt, a signalling message, the
case closing) also sends a PostgreSQL NOTIFY on ``LIVE_CHANNEL`` inside the same
transaction: PostgreSQL delivers it only on commit, to every chat replica, which then
reads what changed from these tables. A notification is a wake-up, never the data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import domain
from careflow.chat.tables import (
    access_log,
    consultant_invitations,
    consultants,
    conversations,
    messages,
    metadata,
    receipts,
    signals,
    uploads,
)
from careflow.contracts import (
    CaseClosed,
    Event,
    MessageSent,
    Professional,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.chat_events import ConsultantInvited, ContactRated
from careflow.kit import access_log as kit_access_log
from careflow.kit.auth import Principal
from careflow.kit.cases import case_patients
from careflow.kit.domain import Conflict, NotFound
from careflow.kit.eventstore import Aggregate, Projection

# Reached through this module by the composition root and tests, next to its queries.
__all__ = ["access_log", "metadata"]

LIVE_CHANNEL = "chat_live"
NOTIFY_INLINE_BYTES = 7000

#: The conversation's state is stored with every command (``aggregate_states``), so a
#: message costs the same however long the case has run.
AGGREGATE = Aggregate(domain.Conversation, domain.evolve, state_type=domain.Conversation)


def stream_id(case_id: UUID) -> str:
    return f"chat-{case_id}"


async def open_conversation(conn: AsyncConnection, turn: TurnReached) -> None:
    """TurnReached opens the case's conversation with the professional who took it."""
    p = turn.professional
    await conn.execute(
        insert(conversations)
        .values(
            case_id=turn.case_id,
            correlation_id=turn.correlation_id,
            staff_id=p.staff_id,
            staff_name=p.name,
            staff_title=p.title,
            care_unit=p.care_unit,
            opened_at=turn.occurred_at,
        )
        .on_conflict_do_nothing()
    )


async def lock_conversation(conn: AsyncConnection, case_id: UUID) -> None:
    """Hold the case's conversation row until the transaction ends, so that senders of one
    case take turns instead of racing for the next sequence number."""
    await conn.execute(
        select(conversations.c.case_id).where(conversations.c.case_id == case_id).with_for_update()
    )


async def participants(conn: AsyncConnection, case_id: UUID) -> domain.Participants:
    who = await find_participants(conn, case_id)
    if who is None:
        raise Conflict("there is no conversation yet: it is not the patient's turn")
    return who


async def find_participants(conn: AsyncConnection, case_id: UUID) -> domain.Participants | None:
    """The case's participants, or None before its conversation opens."""
    row = (
        await conn.execute(
            select(conversations, case_patients.c.patient_id, case_patients.c.acting_guardian_id)
            .join(case_patients, case_patients.c.case_id == conversations.c.case_id)
            .where(conversations.c.case_id == case_id)
        )
    ).first()
    if row is None:
        return None
    return domain.Participants(
        case_id=case_id,
        correlation_id=row.correlation_id,
        patient_id=row.patient_id,
        acting_guardian_id=row.acting_guardian_id,
        professional=Professional(
            staff_id=row.staff_id,
            name=row.staff_name,
            title=row.staff_title,
            care_unit=row.care_unit,
        ),
    )


async def message_by_key(conn: AsyncConnection, case_id: UUID, key: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(messages).where(messages.c.case_id == case_id, messages.c.idempotency_key == key)
        )
    ).first()
    return dict(row._mapping) if row else None


async def notify(conn: AsyncConnection, case_id: UUID, kind: str, **data: Any) -> None:
    """Wake every replica's live clients of this case once the transaction commits."""
    payload = json.dumps({"case_id": str(case_id), "kind": kind, **data}, default=str)
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {
            "channel": LIVE_CHANNEL,
            "payload": payload,
        },
    )


def projection(idempotency_key: str = "") -> Projection:
    """The projection of one command; a message sent remembers the sender's idempotency key."""

    async def run(conn: AsyncConnection, events: Sequence[Event]) -> None:
        await project(conn, events, idempotency_key)

    return run


async def project(
    conn: AsyncConnection, events: Sequence[Event], idempotency_key: str = ""
) -> None:
    """Update the read models (and wake live clients) for events just appended."""
    for event in events:
        if isinstance(event, MessageSent):
            await conn.execute(
                insert(messages).values(
                    case_id=event.case_id,
                    sequence=event.sequence,
                    message_id=event.message_id,
                    idempotency_key=idempotency_key or str(event.message_id),
                    sender_role=event.sender_role.value,
                    sender_id=event.sender_id,
                    text=event.text,
                    sent_at=event.occurred_at,
                    attachments=[a.model_dump() for a in event.attachments],
                )
            )
            frame = {
                "message_id": str(event.message_id),
                "sequence": event.sequence,
                "sender_role": event.sender_role.value,
                "text": event.text,
                "sent_at": event.occurred_at.isoformat(),
                "attachments": [a.model_dump() for a in event.attachments],
            }
            # Small messages ride in the notification, so fan-out needs no query per socket;
            # PostgreSQL caps a payload at 8000 bytes, so long ones are read from the table.
            if len(json.dumps(frame).encode()) <= NOTIFY_INLINE_BYTES:
                await notify(conn, event.case_id, "message", sequence=event.sequence, message=frame)
            else:
                await notify(conn, event.case_id, "message", sequence=event.sequence)
        elif isinstance(event, CaseClosed):
            details = {
                "appointment": event.appointment.model_dump(mode="json")
                if event.appointment
                else None,
                "referral_to": event.referral_to,
                "renewed_prescription": event.renewed_prescription,
                "emergency_unit": event.emergency_unit,
            }
            await conn.execute(
                update(conversations)
                .where(conversations.c.case_id == event.case_id)
                .values(
                    closed_at=event.occurred_at,
                    outcome=event.outcome.value,
                    advice=event.advice,
                    outcome_details=details,
                )
            )
            await notify(conn, event.case_id, "closed", outcome=event.outcome.value)
        elif isinstance(event, ConsultantInvited):
            c = event.consultant
            await conn.execute(
                insert(consultants).values(
                    case_id=event.case_id,
                    staff_id=c.staff_id,
                    name=c.name,
                    title=c.title,
                    care_unit=c.care_unit,
                    reason=event.reason,
                    invited_at=event.occurred_at,
                )
            )
            await notify(
                conn,
                event.case_id,
                "consultant_joined",
                name=c.name,
                title=c.title,
                reason=event.reason,
            )
        elif isinstance(event, VideoContactStarted):
            await conn.execute(
                update(conversations)
                .where(conversations.c.case_id == event.case_id)
                .values(video_contact_id=event.video_contact_id, video_started_at=event.occurred_at)
            )
            await notify(
                conn,
                event.case_id,
                "video_started",
                video_contact_id=event.video_contact_id,
                started_at=event.occurred_at.isoformat(),
            )
        elif isinstance(event, VideoContactEnded):
            await conn.execute(
                update(conversations)
                .where(conversations.c.case_id == event.case_id)
                .values(video_contact_id=None, video_started_at=None)
            )
            await conn.execute(
                delete(signals).where(signals.c.video_contact_id == event.video_contact_id)
            )
            await notify(
                conn,
                event.case_id,
                "video_ended",
                video_contact_id=event.video_contact_id,
                duration_seconds=event.duration_seconds,
            )
        elif isinstance(event, ContactRated):
            await conn.execute(
                update(conversations)
                .where(conversations.c.case_id == event.case_id)
                .values(
                    rating=event.rating, rating_comment=event.comment, rated_at=event.occurred_at
                )
            )


async def history(conn: AsyncConnection, case_id: UUID, after: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(messages)
        .where(messages.c.case_id == case_id, messages.c.sequence > after)
        .order_by(messages.c.sequence)
    )
    return [dict(r._mapping) for r in rows]


async def conversation(conn: AsyncConnection, case_id: UUID) -> dict[str, Any]:
    row = (
        await conn.execute(select(conversations).where(conversations.c.case_id == case_id))
    ).first()
    if row is None:
        raise NotFound("no conversation for this case")
    return dict(row._mapping)


async def staff_names(conn: AsyncConnection, case_id: UUID) -> dict[str, tuple[str, str]]:
    """The name and title of each member of staff in the case (professional, consultants)."""
    found: dict[str, tuple[str, str]] = {}
    rows = await conn.execute(
        select(consultants.c.staff_id, consultants.c.name, consultants.c.title).where(
            consultants.c.case_id == case_id
        )
    )
    for row in rows:
        found[row.staff_id] = (row.name, row.title)
    taker = (
        await conn.execute(
            select(
                conversations.c.staff_id, conversations.c.staff_name, conversations.c.staff_title
            ).where(conversations.c.case_id == case_id)
        )
    ).first()
    if taker is not None:
        found[taker.staff_id] = (taker.staff_name, taker.staff_title)
    return found


async def is_consultant(conn: AsyncConnection, case_id: UUID, staff_id: str) -> bool:
    """True when ``staff_id`` was invited to consult on this case."""
    row = await conn.execute(
        select(consultants.c.staff_id).where(
            consultants.c.case_id == case_id, consultants.c.staff_id == staff_id
        )
    )
    return row.first() is not None


async def add_invitation(
    conn: AsyncConnection, case_id: UUID, staff_id: str, reason: str, by: str, at: datetime
) -> bool:
    """Remember an invitation until the colleague joins; False if one is already pending."""
    done = await conn.execute(
        insert(consultant_invitations)
        .values(case_id=case_id, staff_id=staff_id, reason=reason, invited_by=by, invited_at=at)
        .on_conflict_do_nothing()
    )
    return done.rowcount == 1


async def take_invitation(conn: AsyncConnection, case_id: UUID, staff_id: str) -> Any:
    """The pending invitation of ``staff_id`` to this case (removed), or None."""
    row = await conn.execute(
        delete(consultant_invitations)
        .where(
            consultant_invitations.c.case_id == case_id,
            consultant_invitations.c.staff_id == staff_id,
        )
        .returning(consultant_invitations)
    )
    return row.first()


async def record_upload(
    conn: AsyncConnection, case_id: UUID, sha256: str, media_type: str, size: int, by: str
) -> None:
    """Remember that this case may reference the stored blob ``sha256``."""
    await conn.execute(
        insert(uploads)
        .values(
            case_id=case_id, sha256=sha256, media_type=media_type, size_bytes=size, uploaded_by=by
        )
        .on_conflict_do_nothing()
    )


async def uploaded(conn: AsyncConnection, case_id: UUID, shas: list[str]) -> list[dict[str, Any]]:
    """The uploads of this case among ``shas``, in the order asked."""
    if not shas:
        return []
    rows = await conn.execute(
        select(uploads).where(uploads.c.case_id == case_id, uploads.c.sha256.in_(shas))
    )
    found = {r.sha256: dict(r._mapping) for r in rows}
    return [found[s] for s in shas if s in found]


async def mark_read(
    conn: AsyncConnection, case_id: UUID, reader_id: str, role: str, up_to: int, now: datetime
) -> int:
    """Move the reader's receipt forward (never back); returns where it stands."""
    stmt = insert(receipts).values(
        case_id=case_id, reader_id=reader_id, reader_role=role, up_to_sequence=up_to, read_at=now
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[receipts.c.case_id, receipts.c.reader_id],
        set_={
            "up_to_sequence": func.greatest(
                receipts.c.up_to_sequence, stmt.excluded.up_to_sequence
            ),
            "read_at": stmt.excluded.read_at,
        },
    ).returning(receipts.c.up_to_sequence)
    stood = int((await conn.execute(upsert)).scalar_one())
    await notify(conn, case_id, "receipt", reader_id=reader_id, reader_role=role, up_to=stood)
    return stood


async def read_receipts(conn: AsyncConnection, case_id: UUID) -> list[dict[str, Any]]:
    """Every reader's receipt in a case."""
    rows = await conn.execute(
        select(receipts).where(receipts.c.case_id == case_id).order_by(receipts.c.reader_id)
    )
    return [dict(r._mapping) for r in rows]


async def add_signal(
    conn: AsyncConnection,
    case_id: UUID,
    video_contact_id: UUID,
    to_side: str,
    kind: str,
    payload: dict[str, Any],
) -> None:
    """Queue a signalling message for the other video participant (any replica)."""
    await conn.execute(
        insert(signals).values(
            case_id=case_id,
            video_contact_id=video_contact_id,
            to_side=to_side,
            kind=kind,
            payload=payload,
        )
    )
    await notify(conn, case_id, "signal")


async def signals_after(
    conn: AsyncConnection, case_id: UUID, to_side: str, after: int
) -> list[dict[str, Any]]:
    """Signalling messages for ``to_side`` newer than ``after``."""
    rows = await conn.execute(
        select(signals)
        .where(signals.c.case_id == case_id, signals.c.to_side == to_side, signals.c.id > after)
        .order_by(signals.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def last_signal_id(conn: AsyncConnection, case_id: UUID) -> int:
    """The newest signal id of a case (0 when none)."""
    value = await conn.scalar(
        select(func.coalesce(func.max(signals.c.id), 0)).where(signals.c.case_id == case_id)
    )
    return int(value or 0)


async def closed_cases_of(conn: AsyncConnection, caller: Principal) -> list[dict[str, Any]]:
    """The closed cases a patient may read: their own, or those of the child they act for now
    (whichever guardian opened them)."""
    mine = case_patients.c.patient_id == (caller.acting_for or caller.subject_id)
    rows = await conn.execute(
        select(conversations)
        .join(case_patients, case_patients.c.case_id == conversations.c.case_id)
        .where(mine, conversations.c.closed_at.is_not(None))
        .order_by(conversations.c.closed_at.desc())
    )
    return [dict(r._mapping) for r in rows]


async def record_access(
    conn: AsyncConnection,
    entry: kit_access_log.AccessEntry | None,
    repeat_within: timedelta | None = None,
) -> None:
    """Write one access-log entry (in the transaction of the read it records), unless the
    same read is logged within ``repeat_within`` before it."""
    await kit_access_log.record_access(conn, access_log, entry, repeat_within)
