"""Care staff's pages: the worklist with "take next", a case and its conversation, closing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.domain import Conflict, Invalid
from careflow.kit.problems import problems
from careflow.web import service
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

OUTCOMES = (
    "self_care_advice",
    "booked_appointment",
    "referral",
    "prescription_renewal",
    "redirected_to_emergency",
)


def _stockholm(local: str) -> str:
    """A time typed in the form (no zone: the care unit's own, Europe/Stockholm)."""
    try:
        when = datetime.fromisoformat(local)
    except ValueError as exc:
        raise Invalid("the appointment's time is not a time") from exc
    return (when if when.tzinfo else when.replace(tzinfo=STOCKHOLM)).isoformat()


def closing_of(form: dict[str, str]) -> dict[str, Any]:
    """chat's closing body from the outcome form: exactly what the chosen outcome needs."""
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise Invalid("choose an outcome")
    body: dict[str, Any] = {
        "outcome": outcome,
        "advice": form.get("advice") or None,
        "documentation_note": form.get("documentation_note", ""),
    }
    if outcome == "booked_appointment":
        body["appointment"] = {
            "care_unit": form.get("appointment_unit", ""),
            "starts_at": _stockholm(form.get("appointment_at", "")),
        }
    elif outcome == "referral":
        body["referral_to"] = form.get("referral_to") or None
    elif outcome == "prescription_renewal":
        body["renewed_prescription"] = form.get("renewed_prescription") or None
    elif outcome == "redirected_to_emergency":
        body["emergency_unit"] = form.get("emergency_unit") or None
    return body


#: A message sent from the page's script (which asks for JSON) rather than the form.
SENT: dict[int | str, dict[str, Any]] = {201: {"description": "sent"}}


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/staff")
    async def worklist(request: Request, empty: bool = False) -> Response:
        session = signed_in(request, "staff")
        found = await service.worklist(web_of(request), session)
        return render(request, "staff_worklist.html", empty=empty, **found)

    @api.post("/staff/take-next", responses=problems(403, 409))
    async def take_next(request: Request) -> Response:
        session = signed_in(request, "staff")
        case_id = await service.take_next(web_of(request), session)
        return redirect(f"/staff/cases/{case_id}" if case_id else "/staff?empty=true")

    @api.get("/staff/cases/{case_id}", responses=problems(404))
    async def case(
        request: Request, case_id: uuid.UUID, error: str | None = None, attach: str | None = None
    ) -> Response:
        session = signed_in(request, "staff")
        seen = await service.staff_case(web_of(request), session, case_id)
        return render(
            request,
            "staff_case.html",
            case_id=case_id,
            outcomes=OUTCOMES,
            error=error,
            attach_error=attach if attach in ATTACH_KEYS else None,
            read_up_to=await read_up_to(request, session, case_id, seen["contact"]),
            **seen,
        )

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

    @api.post("/staff/cases/{case_id}/close", responses=problems(403, 404, 409))
    async def close(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "staff")
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            await service.close(web_of(request), session, case_id, closing_of(form))
        except (Invalid, Conflict):
            return redirect(f"/staff/cases/{case_id}?error=close#close")
        return redirect("/staff")

    return api
