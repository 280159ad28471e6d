"""Chat's HTTP API: send and read messages, close the case, read it afterwards."""

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, status
from pydantic import BaseModel, Field

from careflow.chat import adapters, domain
from careflow.contracts import Outcome, SenderRole
from careflow.kit.auth import Principal, require
from careflow.kit.cases import require_case_access
from careflow.kit.db import Database
from careflow.kit.eventstore import ConcurrencyError


class NewMessage(BaseModel):
    text: str = Field(min_length=1, max_length=domain.MAX_MESSAGE_CHARS)


class Message(BaseModel):
    message_id: UUID
    sequence: int
    sender_role: SenderRole
    text: str
    sent_at: datetime


class Closing(BaseModel):
    outcome: Outcome
    advice: str | None = Field(default=None, max_length=8000)
    documentation_note: str = Field(min_length=1, max_length=20000)


class CaseSummary(BaseModel):
    case_id: UUID
    professional: str
    title: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: Outcome | None
    advice: str | None


def _sender(caller: Principal) -> domain.Sender:
    return domain.Sender(
        subject_id=caller.subject_id, acting_for=caller.acting_for, is_staff=caller.role == "staff"
    )


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["chat"])
    anyone = Annotated[Principal, Depends(require(token_secret))]

    @api.post("/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED)
    async def send(
        case_id: UUID,
        body: NewMessage,
        caller: anyone,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=100)],
    ) -> Message:
        async def send_once() -> dict[str, object] | None:
            async with db.transaction() as conn:
                await require_case_access(conn, case_id, caller)
                existing = await adapters.message_by_key(conn, case_id, idempotency_key)
                if existing is None:  # a retried send returns the message it already made
                    who = await adapters.participants(conn, case_id)
                    _, new = await adapters.AGGREGATE.execute(
                        conn,
                        adapters.stream_id(case_id),
                        lambda s: domain.decide_send(
                            s, who, _sender(caller), body.text, datetime.now(UTC)
                        ),
                    )
                    await adapters.project(conn, new, idempotency_key)
                    existing = await adapters.message_by_key(conn, case_id, idempotency_key)
                return existing

        for attempt in range(5):
            try:
                existing = await send_once()
                break
            except ConcurrencyError:
                # Someone else's message took this sequence number: number ours after it.
                if attempt == 4:
                    raise
        assert existing is not None
        return Message.model_validate(existing)

    @api.get("/cases/{case_id}/messages")
    async def read(case_id: UUID, caller: anyone, after: int = 0) -> list[Message]:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await adapters.history(conn, case_id, after)
        return [Message.model_validate(r) for r in rows]

    @api.post("/cases/{case_id}/close")
    async def close(case_id: UUID, body: Closing, caller: anyone) -> CaseSummary:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            who = await adapters.participants(conn, case_id)
            _, new = await adapters.AGGREGATE.execute(
                conn,
                adapters.stream_id(case_id),
                lambda s: domain.decide_close(
                    s,
                    who,
                    _sender(caller),
                    body.outcome,
                    body.advice,
                    body.documentation_note,
                    datetime.now(UTC),
                ),
            )
            await adapters.project(conn, new)
            return _summary(await adapters.conversation(conn, case_id))

    @api.get("/cases/{case_id}")
    async def case_summary(case_id: UUID, caller: anyone) -> CaseSummary:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            return _summary(await adapters.conversation(conn, case_id))

    return api


def _summary(row: dict[str, object]) -> CaseSummary:
    return CaseSummary(
        case_id=row["case_id"],
        professional=row["staff_name"],
        title=row["staff_title"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        outcome=row["outcome"],
        advice=row["advice"],
    )
