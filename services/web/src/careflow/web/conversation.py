"""The conversation's commands beyond plain messages: attachments, read receipts and the
names beside messages (``service`` holds the rest; every entry point calls one or the other).

Attachments pass through: the browser uploads to this service, which sends the bytes on to
chat with the person's own token; chat decides who may see them and checks their content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from careflow.kit.domain import Invalid, NotFound
from careflow.web import domain, service
from careflow.web.adapters.backends import AttachmentRefused
from careflow.web.domain import Session
from careflow.web.service import Web


class AttachmentProblem(Invalid):
    """An attachment that cannot be sent; ``key`` says why in plain words."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Download:
    media_type: str
    data: bytes


async def _party(web: Web, session: Session, case_id: uuid.UUID) -> None:
    """A patient reaches only their own cases here; chat checks staff (and patients again)."""
    if session.role == "patient":
        await service.own_case(web, session, case_id)
    elif session.role != "staff":
        raise NotFound("no such case")


async def attach(
    web: Web, session: Session, case_id: uuid.UUID, data: bytes, text: str, key: str
) -> None:
    """Upload one photo or PDF to chat and send it as a message (with ``text``, if any)."""
    await _party(web, session, case_id)
    problem = domain.attachment_problem(data)
    if problem is not None:
        raise AttachmentProblem(problem)
    try:
        uploaded = await service.call(
            web,
            session,
            "chat",
            "POST",
            f"/cases/{case_id}/attachments",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    except AttachmentRefused as exc:
        raise AttachmentProblem(domain.refused_attachment_key(exc.status)) from exc
    except Invalid as exc:
        raise AttachmentProblem("attach.failed") from exc
    await service.call(
        web,
        session,
        "chat",
        "POST",
        f"/cases/{case_id}/messages",
        json={"text": text, "attachments": [uploaded["sha256"]]},
        headers={"Idempotency-Key": key},
    )


async def attachment(web: Web, session: Session, case_id: uuid.UUID, sha256: str) -> Download:
    """One attachment of the case, for its parties only (chat refuses anyone else)."""
    if not domain.is_attachment_digest(sha256):
        raise NotFound("no such attachment")
    await _party(web, session, case_id)
    response = await service.respond(
        web, session, "chat", "GET", f"/cases/{case_id}/attachments/{sha256}"
    )
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type not in ("image/jpeg", "image/png", "image/webp", "application/pdf"):
        raise NotFound("no such attachment")
    return Download(media_type, response.content)


async def mark_read(web: Web, session: Session, case_id: uuid.UUID, up_to: int) -> None:
    await _party(web, session, case_id)
    path = f"/cases/{case_id}/read"
    await service.call(web, session, "chat", "POST", path, json={"up_to": up_to})


async def receipts(web: Web, session: Session, case_id: uuid.UUID) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = await service.call(
            web, session, "chat", "GET", f"/cases/{case_id}/receipts"
        )
        return found
    except NotFound:
        return []


async def start_video(web: Web, session: Session, case_id: uuid.UUID) -> None:
    """Staff start the case's video contact; chat tells both pages (and the patient accepts)."""
    await service.call(web, session, "chat", "POST", f"/cases/{case_id}/video/start")


async def end_video(web: Web, session: Session, case_id: uuid.UUID) -> None:
    await service.call(web, session, "chat", "POST", f"/cases/{case_id}/video/end")
