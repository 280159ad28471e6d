"""Care staff's pages: the worklist with "take next", a case and its conversation, closing."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.problems import problems
from careflow.web import service, staff_service
from careflow.web.closing import FIELDS, OUTCOMES, REQUIRED
from careflow.web.http.common import (
    PAGE_RESPONSES,
    STOCKHOLM,
    load_page,
    redirect,
    render,
    signed_in,
    web_of,
)
from careflow.web.http.conversation import ATTACH_KEYS, read_up_to

#: The queues a case may be handed to (queue's skills).
SKILLS = (
    "nurse",
    "doctor",
    "psychologist",
    "youth_clinic",
    "child_health_care",
    "administrative",
)
#: A reason to requeue, transfer or invite: what queue and chat accept.
Reason = Annotated[str, Form(min_length=1, max_length=500)]


#: A message sent from the page's script (which asks for JSON) rather than the form.
SENT: dict[int | str, dict[str, Any]] = {201: {"description": "sent"}}


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/staff")
    async def worklist(request: Request, empty: bool = False, done: str | None = None) -> Response:
        session = signed_in(request, "staff")
        found = await staff_service.worklist(web_of(request), session)
        shown = done if done in ("requeued", "transferred") else None
        return render(request, "staff_worklist.html", empty=empty, done=shown, **found)

    @api.post("/staff/take-next", responses=problems(403, 409))
    async def take_next(request: Request) -> Response:
        session = signed_in(request, "staff")
        case_id = await service.take_next(web_of(request), session)
        return redirect(f"/staff/cases/{case_id}" if case_id else "/staff?empty=true")

    async def case_page(
        request: Request,
        case_id: uuid.UUID,
        status: int = 200,
        attach: str | None = None,
        invited: bool = False,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
        session = signed_in(request, "staff")
        seen = await service.staff_case(web_of(request), session, case_id)
        return render(
            request,
            "staff_case.html",
            status,
            case_id=case_id,
            outcomes=OUTCOMES,
            required=REQUIRED,
            skills=SKILLS,
            typed=form or {},
            errors=errors or {},
            invited=invited,
            attach_error=attach if attach in ATTACH_KEYS else None,
            read_up_to=await read_up_to(request, session, case_id, seen["contact"]),
            **seen,
        )

    @api.get("/staff/cases/{case_id}", responses=problems(404))
    async def case(
        request: Request, case_id: uuid.UUID, attach: str | None = None, invited: bool = False
    ) -> Response:
        return await case_page(request, case_id, attach=attach, invited=invited)

    @api.post(
        "/staff/cases/{case_id}/messages",
        responses=SENT | problems(403, 404, 409),
    )
    async def send(
        request: Request,
        case_id: uuid.UUID,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        key: Annotated[str, Form(min_length=8, max_length=100)] = "",
        accept: Annotated[str, Header()] = "",
    ) -> Response:
        session = signed_in(request, "staff")
        await service.send(web_of(request), session, case_id, text, key or str(uuid.uuid4()))
        if "application/json" in accept:
            return JSONResponse({"sent": True}, status_code=201)
        return redirect(f"/staff/cases/{case_id}#conversation")

    @api.post("/staff/cases/{case_id}/close", responses=problems(403, 404, 409, 422))
    async def close(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "staff")
        sent = await request.form()
        form = {k: str(sent.get(k) or "") for k in FIELDS}
        checked = await staff_service.close(web_of(request), session, case_id, form, STOCKHOLM)
        if checked.errors:
            # The form again, as typed, saying which field is missing or wrong.
            return await case_page(request, case_id, 422, form=form, errors=checked.errors)
        return redirect("/staff")

    @api.post("/staff/cases/{case_id}/requeue", responses=problems(403, 404, 409, 422))
    async def requeue(request: Request, case_id: uuid.UUID, reason: Reason) -> Response:
        session = signed_in(request, "staff")
        await staff_service.requeue(web_of(request), session, case_id, reason)
        return redirect("/staff?done=requeued")

    @api.post("/staff/cases/{case_id}/transfer", responses=problems(403, 404, 409, 422))
    async def transfer(
        request: Request,
        case_id: uuid.UUID,
        reason: Reason,
        skill: Annotated[str, Form(max_length=32)] = "",
        region: Annotated[str, Form(max_length=64)] = "",
    ) -> Response:
        session = signed_in(request, "staff")
        await staff_service.transfer(
            web_of(request), session, case_id, reason, skill or None, region.strip() or None
        )
        return redirect("/staff?done=transferred")

    @api.post("/staff/cases/{case_id}/consultants", responses=problems(403, 404, 409, 422))
    async def invite(
        request: Request,
        case_id: uuid.UUID,
        staff_id: Annotated[str, Form(min_length=1, max_length=64)],
        reason: Reason,
    ) -> Response:
        session = signed_in(request, "staff")
        await staff_service.invite(web_of(request), session, case_id, staff_id.strip(), reason)
        return redirect(f"/staff/cases/{case_id}?invited=true#consult")

    return api
