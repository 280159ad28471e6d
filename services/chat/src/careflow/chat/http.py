"""Chat's HTTP API: messages, attachments, consultants, video, receipts, closing, afterwards.

Routes parse and authenticate, call one of ``service``'s commands or queries and shape
the answer; the rules live in ``domain``.
"""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from careflow.chat import blobs, domain, service
from careflow.chat.settings import ChatSettings, ice_servers
from careflow.contracts import AttachmentRef, Outcome, SenderRole
from careflow.contracts.chat_events import BookedAppointment
from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.problems import problems


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
    sender_name: str | None = Field(default=None, description="Staff's messages: the writer.")
    sender_title: str | None = Field(default=None, description="Staff's messages: their title.")


class Closing(BaseModel):
    outcome: Outcome
    advice: str | None = Field(default=None, max_length=8000)
    documentation_note: str = Field(min_length=1, max_length=20000)
    appointment: BookedAppointment | None = None
    referral_to: str | None = Field(default=None, max_length=200)
    renewed_prescription: str | None = Field(default=None, max_length=500)
    emergency_unit: str | None = Field(default=None, max_length=200)


class Invitee(BaseModel):
    """The colleague invited, by staff id only: their name, title and care unit are taken
    from their own token when they join (anything else sent here is ignored)."""

    staff_id: str = Field(min_length=1, max_length=64, description="HSA-id or equivalent.")


class Invitation(BaseModel):
    consultant: Invitee
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
    clock: Clock,
    settings: ChatSettings | None = None,
    store: blobs.BlobStore | None = None,
) -> APIRouter:
    """The chat API under ``/chat``; attachments go to ``store`` (default: the settings' one)."""
    settings = settings or ChatSettings()
    blob_store = store if store is not None else blobs.store_for(settings, db)
    api = APIRouter(tags=["chat"])
    anyone = Annotated[Principal, Depends(require())]
    patient = Annotated[Principal, Depends(require("patient"))]

    @api.post(
        "/cases/{case_id}/messages",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 409),
    )
    async def send(
        case_id: UUID,
        body: NewMessage,
        caller: anyone,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=100)],
    ) -> Message:
        made = await service.send(
            db, clock, case_id, caller, body.text, idempotency_key, body.attachments
        )
        return Message.model_validate(made)

    @api.get("/cases/{case_id}/messages", responses=problems(404))
    async def read(case_id: UUID, caller: anyone, after: int = 0) -> list[Message]:
        rows = await service.messages(db, clock, case_id, caller, after)
        return [Message.model_validate(r) for r in rows]

    @api.post(
        "/cases/{case_id}/attachments",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 409, 413, 415),
    )
    async def upload(case_id: UUID, request: Request, caller: anyone) -> AttachmentRef:
        """Upload one image or PDF as the raw request body (the type is read from the bytes)."""
        declared = request.headers.get("content-length")
        return await service.upload(
            db,
            blob_store,
            case_id,
            caller,
            request.stream(),
            int(declared) if declared is not None and declared.isdigit() else None,
            settings.max_attachment_bytes,
        )

    @api.get("/cases/{case_id}/attachments/{sha256}", responses=problems(404))
    async def download(case_id: UUID, sha256: str, caller: anyone) -> Response:
        media_type, data = await service.attachment(db, clock, blob_store, case_id, caller, sha256)
        return Response(
            data,
            media_type=media_type,
            headers={"Content-Disposition": "attachment", "X-Content-Type-Options": "nosniff"},
        )

    @api.post(
        "/cases/{case_id}/consultants",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 409),
    )
    async def invite(case_id: UUID, body: Invitation, caller: anyone) -> dict[str, str]:
        await service.invite(db, clock, case_id, caller, body.consultant.staff_id, body.reason)
        return {"staff_id": body.consultant.staff_id}

    @api.post(
        "/cases/{case_id}/video/start",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 409),
    )
    async def start_video(case_id: UUID, caller: anyone) -> VideoState:
        started = await service.start_video(db, clock, case_id, caller)
        return VideoState(video_contact_id=started.video_contact_id, started_at=started.occurred_at)

    @api.post("/cases/{case_id}/video/end", responses=problems(403, 404, 409))
    async def end_video(case_id: UUID, caller: anyone) -> VideoState:
        ended = await service.end_video(db, clock, case_id, caller)
        return VideoState(
            video_contact_id=ended.video_contact_id,
            started_at=ended.started_at,
            duration_seconds=ended.duration_seconds,
        )

    @api.get("/video/ice-servers")
    async def ice(caller: anyone) -> list[dict[str, Any]]:
        """STUN servers for the browser's RTCPeerConnection (TURN logins: per case)."""
        return ice_servers(settings, caller.subject_id, clock.now().timestamp(), relay=False)

    @api.get("/cases/{case_id}/video/ice-servers", responses=problems(404, 409))
    async def case_ice(case_id: UUID, caller: anyone) -> list[dict[str, Any]]:
        """STUN servers, and TURN logins (which expire) for the case's two video
        participants while their video contact runs."""
        relay = await service.may_relay_video(db, case_id, caller)
        return ice_servers(settings, caller.subject_id, clock.now().timestamp(), relay)

    @api.post("/cases/{case_id}/read", responses=problems(403, 404, 409))
    async def mark_read(case_id: UUID, body: Reading, caller: anyone) -> dict[str, int]:
        return {"up_to": await service.mark_read(db, clock, case_id, caller, body.up_to)}

    @api.get("/cases/{case_id}/receipts", responses=problems(404))
    async def receipts(case_id: UUID, caller: anyone) -> list[Receipt]:
        rows = await service.receipts(db, clock, case_id, caller)
        return [Receipt.model_validate(r) for r in rows]

    @api.post("/cases/{case_id}/close", responses=problems(403, 404, 409))
    async def close(case_id: UUID, body: Closing, caller: anyone) -> CaseSummary:
        details = domain.ClosingDetails(
            appointment=body.appointment,
            referral_to=body.referral_to,
            renewed_prescription=body.renewed_prescription,
            emergency_unit=body.emergency_unit,
        )
        row = await service.close(
            db, clock, case_id, caller, body.outcome, body.advice, body.documentation_note, details
        )
        return _summary(row)

    @api.get("/cases/{case_id}", responses=problems(404))
    async def case_summary(case_id: UUID, caller: anyone) -> CaseSummary:
        return _summary(await service.summary(db, clock, case_id, caller))

    @api.get("/my/closed-cases")
    async def my_closed_cases(caller: patient) -> list[CaseSummary]:
        """The caller's closed cases, or, while acting for a child, the child's."""
        return [_summary(r) for r in await service.closed_cases(db, caller)]

    @api.post(
        "/cases/{case_id}/rating",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 409),
    )
    async def rate(case_id: UUID, body: Rating, caller: anyone) -> CaseSummary:
        row = await service.rate(db, clock, case_id, caller, body.rating, body.comment)
        return _summary(row)

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
