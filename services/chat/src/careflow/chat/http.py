"""Chat's HTTP API: messages, attachments, consultants, video, receipts, closing, afterwards."""

import time
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from careflow.chat import adapters, attachments, domain, service
from careflow.chat.settings import ChatSettings, ice_servers
from careflow.contracts import AttachmentRef, Outcome, Professional, SenderRole
from careflow.contracts.chat_events import BookedAppointment
from careflow.kit.auth import Principal, require
from careflow.kit.cases import require_case_access
from careflow.kit.db import Database
from careflow.kit.domain import Conflict, Forbidden, NotFound


class NewMessage(BaseModel):
    text: str = Field(default="", max_length=domain.MAX_MESSAGE_CHARS)
    attachments: list[str] = Field(
        default_factory=list,
        max_length=domain.MAX_ATTACHMENTS_PER_MESSAGE,
        description="SHA-256 of attachments uploaded to this case.",
    )


class Message(BaseModel):
    message_id: UUID
    sequence: int
    sender_role: SenderRole
    text: str
    sent_at: datetime
    attachments: list[AttachmentRef] = []


class Closing(BaseModel):
    outcome: Outcome
    advice: str | None = Field(default=None, max_length=8000)
    documentation_note: str = Field(min_length=1, max_length=20000)
    appointment: BookedAppointment | None = None
    referral_to: str | None = Field(default=None, max_length=200)
    renewed_prescription: str | None = Field(default=None, max_length=500)
    emergency_unit: str | None = Field(default=None, max_length=200)


class Invitation(BaseModel):
    consultant: Professional
    reason: str = Field(min_length=1, max_length=1000)


class Reading(BaseModel):
    up_to: int = Field(ge=0)


class Receipt(BaseModel):
    reader_id: str
    reader_role: SenderRole
    up_to_sequence: int
    read_at: datetime


class Rating(BaseModel):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class Appointment(BaseModel):
    care_unit: str
    starts_at: AwareDatetime


class CaseSummary(BaseModel):
    case_id: UUID
    professional: str
    title: str
    care_unit: str | None = None
    opened_at: datetime
    closed_at: datetime | None
    outcome: Outcome | None
    advice: str | None
    appointment: Appointment | None = None
    referral_to: str | None = None
    renewed_prescription: str | None = None
    emergency_unit: str | None = None
    video_in_progress: bool = False
    rating: int | None = None
    rating_comment: str | None = None


class VideoState(BaseModel):
    video_contact_id: UUID
    started_at: datetime | None = None
    duration_seconds: float | None = None


def router(
    db: Database,
    token_secret: str,
    settings: ChatSettings | None = None,
    store: attachments.BlobStore | None = None,
) -> APIRouter:
    """The chat API under ``/chat``; attachments go to ``store`` (default: the settings' one)."""
    settings = settings or ChatSettings()
    if store is None:
        store = attachments.store_for(settings)
    api = APIRouter(tags=["chat"])
    anyone = Annotated[Principal, Depends(require())]
    patient = Annotated[Principal, Depends(require("patient"))]

    @api.post("/cases/{case_id}/messages", status_code=status.HTTP_201_CREATED)
    async def send(
        case_id: UUID,
        body: NewMessage,
        caller: anyone,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=100)],
    ) -> Message:
        made = await service.send(db, case_id, caller, body.text, idempotency_key, body.attachments)
        return Message.model_validate(made)

    @api.get("/cases/{case_id}/messages")
    async def read(case_id: UUID, caller: anyone, after: int = 0) -> list[Message]:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await adapters.history(conn, case_id, after)
        return [Message.model_validate(r) for r in rows]

    @api.post("/cases/{case_id}/attachments", status_code=status.HTTP_201_CREATED)
    async def upload(case_id: UUID, request: Request, caller: anyone) -> AttachmentRef:
        """Upload one image or PDF as the raw request body (the type is read from the bytes)."""
        async with db.transaction() as conn:
            who = await service.member(conn, case_id, caller)
            state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
            if state.closed:
                raise Conflict("the case is closed; nobody can write in it")
            domain.role_of(service.sender_of(caller), who, state)
        limit = settings.max_attachment_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise attachments.TooLarge(f"an attachment may be at most {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise attachments.TooLarge(f"an attachment may be at most {limit} bytes")
            chunks.append(chunk)
        cleaned = attachments.clean(b"".join(chunks), limit)
        await store.put(cleaned.sha256, cleaned.data)
        async with db.transaction() as conn:
            await adapters.record_upload(
                conn,
                case_id,
                cleaned.sha256,
                cleaned.media_type,
                cleaned.size_bytes,
                caller.subject_id,
            )
        return AttachmentRef(
            sha256=cleaned.sha256, media_type=cleaned.media_type, size_bytes=cleaned.size_bytes
        )

    @api.get("/cases/{case_id}/attachments/{sha256}")
    async def download(case_id: UUID, sha256: str, caller: anyone) -> Response:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await adapters.uploaded(conn, case_id, [sha256])
        found = rows[0] if rows else None
        data = await store.get(sha256) if found else None
        if found is None or data is None:
            raise NotFound("no such attachment in this case")
        return Response(
            data,
            media_type=found["media_type"],
            headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
        )

    @api.post("/cases/{case_id}/consultants", status_code=status.HTTP_201_CREATED)
    async def invite(case_id: UUID, body: Invitation, caller: anyone) -> dict[str, str]:
        await service.invite(db, case_id, caller, body.consultant, body.reason)
        return {"staff_id": body.consultant.staff_id}

    @api.post("/cases/{case_id}/video/start", status_code=status.HTTP_201_CREATED)
    async def start_video(case_id: UUID, caller: anyone) -> VideoState:
        [started] = await service.start_video(db, case_id, caller)
        return VideoState(
            video_contact_id=started.video_contact_id,  # type: ignore[attr-defined]
            started_at=started.occurred_at,
        )

    @api.post("/cases/{case_id}/video/end")
    async def end_video(case_id: UUID, caller: anyone) -> VideoState:
        [ended] = await service.end_video(db, case_id, caller)
        return VideoState(
            video_contact_id=ended.video_contact_id,  # type: ignore[attr-defined]
            started_at=ended.started_at,  # type: ignore[attr-defined]
            duration_seconds=ended.duration_seconds,  # type: ignore[attr-defined]
        )

    @api.get("/video/ice-servers")
    async def ice(caller: anyone) -> list[dict[str, Any]]:
        """STUN/TURN servers for the browser's RTCPeerConnection (TURN logins expire)."""
        return ice_servers(settings, caller.subject_id, time.time())

    @api.post("/cases/{case_id}/read")
    async def mark_read(case_id: UUID, body: Reading, caller: anyone) -> dict[str, int]:
        return {"up_to": await service.mark_read(db, case_id, caller, body.up_to)}

    @api.get("/cases/{case_id}/receipts")
    async def receipts(case_id: UUID, caller: anyone) -> list[Receipt]:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await adapters.read_receipts(conn, case_id)
        return [Receipt.model_validate(r) for r in rows]

    @api.post("/cases/{case_id}/close")
    async def close(case_id: UUID, body: Closing, caller: anyone) -> CaseSummary:
        details = domain.ClosingDetails(
            appointment=body.appointment,
            referral_to=body.referral_to,
            renewed_prescription=body.renewed_prescription,
            emergency_unit=body.emergency_unit,
        )
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            who = await adapters.participants(conn, case_id)

            now = datetime.now(UTC)
            await service.execute(
                conn,
                case_id,
                lambda s: domain.decide_close(
                    s,
                    who,
                    service.sender_of(caller),
                    body.outcome,
                    body.advice,
                    body.documentation_note,
                    now,
                    details,
                ),
            )
            return _summary(await adapters.conversation(conn, case_id))

    @api.get("/cases/{case_id}")
    async def case_summary(case_id: UUID, caller: anyone) -> CaseSummary:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            return _summary(await adapters.conversation(conn, case_id))

    @api.get("/my/closed-cases")
    async def my_closed_cases(caller: patient) -> list[CaseSummary]:
        """The caller's closed cases, or, while acting for a child, the child's."""
        async with db.transaction() as conn:
            rows = await adapters.closed_cases_of(conn, caller)
        return [_summary(r) for r in rows]

    @api.post("/cases/{case_id}/rating", status_code=status.HTTP_201_CREATED)
    async def rate(case_id: UUID, body: Rating, caller: anyone) -> CaseSummary:
        if caller.role != "patient":
            raise Forbidden("only the patient may rate the contact")
        async with db.transaction() as conn:
            who = await service.member(conn, case_id, caller)

            now = datetime.now(UTC)
            await service.execute(
                conn,
                case_id,
                lambda s: domain.decide_rate(
                    s, who, service.sender_of(caller), body.rating, body.comment, now
                ),
            )
            return _summary(await adapters.conversation(conn, case_id))

    return api


def _summary(row: dict[str, Any]) -> CaseSummary:
    details = row.get("outcome_details") or {}
    return CaseSummary(
        case_id=row["case_id"],
        professional=row["staff_name"],
        title=row["staff_title"],
        care_unit=row.get("care_unit"),
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        outcome=row["outcome"],
        advice=row["advice"],
        appointment=details.get("appointment"),
        referral_to=details.get("referral_to"),
        renewed_prescription=details.get("renewed_prescription"),
        emergency_unit=details.get("emergency_unit"),
        video_in_progress=row.get("video_contact_id") is not None,
        rating=row.get("rating"),
        rating_comment=row.get("rating_comment"),
    )
