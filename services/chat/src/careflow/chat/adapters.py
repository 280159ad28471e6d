"""Chat's database: event store, conversations (from TurnReached) and the message history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import domain
from careflow.contracts import CaseClosed, Event, MessageSent, Professional, TurnReached
from careflow.kit.cases import case_patients
from careflow.kit.domain import Conflict, NotFound
from careflow.kit.eventstore import Aggregate

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("correlation_id", PgUUID(as_uuid=True), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("staff_name", String(200), nullable=False),
    Column("staff_title", String(100), nullable=False),
    Column("care_unit", String(200), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("advice", Text, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("message_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("idempotency_key", String(100), nullable=False),
    Column("sender_role", String(16), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "idempotency_key", name="messages_idempotency_key"),
)

AGGREGATE = Aggregate(domain.Conversation, domain.evolve)


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


async def participants(conn: AsyncConnection, case_id: UUID) -> domain.Participants:
    row = (
        await conn.execute(
            select(conversations, case_patients.c.patient_id, case_patients.c.acting_guardian_id)
            .join(case_patients, case_patients.c.case_id == conversations.c.case_id)
            .where(conversations.c.case_id == case_id)
        )
    ).first()
    if row is None:
        raise Conflict("there is no conversation yet: it is not the patient's turn")
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


async def project(conn: AsyncConnection, events: list[Event], idempotency_key: str = "") -> None:
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
                )
            )
        elif isinstance(event, CaseClosed):
            await conn.execute(
                update(conversations)
                .where(conversations.c.case_id == event.case_id)
                .values(
                    closed_at=event.occurred_at, outcome=event.outcome.value, advice=event.advice
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
