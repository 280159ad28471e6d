"""The conversation's routes for patients (``/cases/...``) and staff (``/staff/cases/...``):
attachments up and down, read receipts, starting and ending video."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from careflow.kit.problems import problems
from careflow.web import conversation, domain
from careflow.web.domain import Session
from careflow.web.http.common import PAGE_RESPONSES, load_page, page_of, redirect, signed_in, web_of
from careflow.web.i18n import translator

#: Answers to the page's script (which asks for JSON) rather than to a plain form.
DONE: dict[int | str, dict[str, Any]] = {
    201: {"description": "done"},
    204: {"description": "done"},
}
#: The refusals an attachment can get, each shown in plain words.
ATTACH_KEYS = ("attach.empty", "attach.too_large", "attach.wrong_type", "attach.failed")


def _case_page(role: str, case_id: uuid.UUID) -> str:
    return f"/staff/cases/{case_id}" if role == "staff" else f"/cases/{case_id}"


async def read_up_to(
    request: Request, session: Session, case_id: uuid.UUID, contact: dict[str, Any] | None
) -> int:
    """How far the other side has read: the page marks the person's own messages read."""
    if contact is None:
        return 0
    found = await conversation.receipts(web_of(request), session, case_id)
    return domain.read_by_other(found, session.role)


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)
    for role, prefix in (("patient", ""), ("staff", "/staff")):
        _routes(api, role, prefix)
    _video(api)
    return api


def _routes(api: APIRouter, role: str, prefix: str) -> None:
    @api.post(
        f"{prefix}/cases/{{case_id}}/attachments",
        responses=DONE | problems(403, 404, 409, 422),
        name=f"{role}_attach",
    )
    async def attach(
        request: Request,
        case_id: uuid.UUID,
        file: Annotated[UploadFile, File()],
        text: Annotated[str, Form(max_length=4000)] = "",
        key: Annotated[str, Form(max_length=100)] = "",
        accept: Annotated[str, Header()] = "",
    ) -> Response:
        session = signed_in(request, role)
        # One byte over the limit is enough to know it is too large.
        data = await file.read(domain.MAX_ATTACHMENT_BYTES + 1)
        idempotency = key if len(key) >= 8 else str(uuid.uuid4())
        wants_json = "application/json" in accept
        try:
            await conversation.attach(web_of(request), session, case_id, data, text, idempotency)
        except conversation.AttachmentProblem as exc:
            if wants_json:
                said = translator(page_of(request).language)(exc.key)
                return JSONResponse({"status": 422, "detail": said}, status_code=422)
            return redirect(f"{_case_page(role, case_id)}?attach={exc.key}#attach")
        if wants_json:
            return JSONResponse({"sent": True}, status_code=201)
        return redirect(f"{_case_page(role, case_id)}#conversation")

    @api.get(
        f"{prefix}/cases/{{case_id}}/attachments/{{sha256}}",
        responses=problems(404),
        name=f"{role}_attachment",
    )
    async def attachment(request: Request, case_id: uuid.UUID, sha256: str) -> Response:
        session = signed_in(request, role)
        found = await conversation.attachment(web_of(request), session, case_id, sha256)
        # A photo is shown in the page; a PDF is saved, never run inside this site.
        image = found.media_type.startswith("image/")
        disposition = "inline" if image else 'attachment; filename="bilaga.pdf"'
        return Response(
            found.data,
            media_type=found.media_type,
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )

    @api.post(
        f"{prefix}/cases/{{case_id}}/read",
        status_code=204,
        responses=DONE | problems(403, 404, 409, 422),
        name=f"{role}_read",
    )
    async def read(
        request: Request, case_id: uuid.UUID, up_to: Annotated[int, Form(ge=0)]
    ) -> Response:
        session = signed_in(request, role)
        await conversation.mark_read(web_of(request), session, case_id, up_to)
        return Response(status_code=204)


def _video(api: APIRouter) -> None:
    """Staff start and end the video (the page's script sends the CSRF token in a header)."""

    @api.post(
        "/staff/cases/{case_id}/video/start",
        status_code=204,
        responses=DONE | problems(403, 404, 409, 422),
    )
    async def start_video(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "staff")
        await conversation.start_video(web_of(request), session, case_id)
        return Response(status_code=204)

    @api.post(
        "/staff/cases/{case_id}/video/end",
        status_code=204,
        responses=DONE | problems(403, 404, 409, 422),
    )
    async def end_video(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "staff")
        await conversation.end_video(web_of(request), session, case_id)
        return Response(status_code=204)
