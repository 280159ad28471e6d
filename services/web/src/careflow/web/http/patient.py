"""The patient's pages: start, triage one question at a time, the case (waiting room,
conversation, outcome, rating) and "My cases"."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.domain import Invalid
from careflow.kit.problems import problems
from careflow.web import domain, service
from careflow.web.http.common import (
    PAGE_RESPONSES,
    load_page,
    page_of,
    redirect,
    render,
    signed_in,
    web_of,
)
from careflow.web.http.conversation import ATTACH_KEYS, read_up_to

#: A message sent from the page's script (which asks for JSON) rather than the form.
SENT: dict[int | str, dict[str, Any]] = {201: {"description": "sent"}}


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/start")
    async def start(request: Request) -> Response:
        session = signed_in(request, "patient")
        language = page_of(request).language
        offered = await service.questionnaires(web_of(request), session, language)
        who = session.data.get("who") or {}
        today = await service.region_today(web_of(request), str(who.get("region", "")))
        return render(
            request,
            "start.html",
            today=today,
            complaints=[q for q in offered if q["kind"] == "complaint"],
            errands=[q for q in offered if q["kind"] != "complaint"],
        )

    @api.post("/cases", responses=problems(403, 404))
    async def open_case(
        request: Request, questionnaire_id: Annotated[str, Form(max_length=100)]
    ) -> Response:
        session = signed_in(request, "patient")
        web = web_of(request)
        case_id = await service.open_case(web, session, questionnaire_id, page_of(request).language)
        return redirect(f"/cases/{case_id}/triage")

    @api.get("/cases/{case_id}/triage", responses=problems(404))
    async def question(request: Request, case_id: uuid.UUID, error: str | None = None) -> Response:
        session = signed_in(request, "patient")
        step = await service.step(web_of(request), session, case_id, page_of(request).language)
        if step["status"] != "in_progress":
            return redirect(f"/cases/{case_id}")
        return render(request, "question.html", case_id=case_id, step=step, error=error)

    @api.post("/cases/{case_id}/triage/answer", responses=problems(403, 404, 409))
    async def answer(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "patient")
        form = await request.form()
        fields = {k: [str(v) for v in form.getlist(k)] for k in form}
        web = web_of(request)
        step = await service.step(web, session, case_id, page_of(request).language)
        asked = step.get("question")
        if asked is None or fields.get("question_id", [""])[0] != asked["id"]:
            return redirect(f"/cases/{case_id}/triage")
        try:
            value = domain.answer_value(asked["kind"], fields, bool(asked.get("integer")))
            await service.answer(web, session, case_id, asked["id"], value)
        except (ValueError, Invalid):
            # The same question again, saying what kind of answer it needs.
            return render(
                request, "question.html", 422, case_id=case_id, step=step, error="triage.invalid"
            )
        return redirect(f"/cases/{case_id}/triage")

    @api.post("/cases/{case_id}/triage/back", responses=problems(403, 404, 409))
    async def back(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "patient")
        await service.back(web_of(request), session, case_id)
        return redirect(f"/cases/{case_id}/triage")

    @api.get("/cases/{case_id}", responses=problems(404))
    async def case(request: Request, case_id: uuid.UUID, attach: str | None = None) -> Response:
        session = signed_in(request, "patient")
        seen = await service.patient_case(
            web_of(request), session, case_id, page_of(request).language
        )
        if seen["triage"]["status"] == "in_progress":
            return redirect(f"/cases/{case_id}/triage")
        outcome = seen["triage"].get("outcome") or {}
        place = seen["place"] or {}
        return render(
            request,
            "case.html",
            case_id=case_id,
            outcome=outcome,
            outcome_key=domain.RECOMMENDATION_KEYS.get(outcome.get("recommendation", ""), ""),
            queued=outcome.get("recommendation") in domain.QUEUED,
            place=place,
            wait_minutes=domain.wait_minutes(place.get("estimated_wait_seconds")),
            contact=seen["contact"],
            messages=seen["messages"],
            attach_error=attach if attach in ATTACH_KEYS else None,
            read_up_to=await read_up_to(request, session, case_id, seen["contact"]),
        )

    @api.post("/cases/{case_id}/withdraw", responses=problems(403, 404, 409))
    async def withdraw(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "patient")
        await service.withdraw(web_of(request), session, case_id)
        return redirect(f"/cases/{case_id}")

    @api.post("/cases/{case_id}/messages", responses=SENT | problems(403, 404, 409))
    async def send(
        request: Request,
        case_id: uuid.UUID,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        key: Annotated[str, Form(min_length=8, max_length=100)] = "",
        accept: Annotated[str, Header()] = "",
    ) -> Response:
        session = signed_in(request, "patient")
        await service.send(web_of(request), session, case_id, text, key or str(uuid.uuid4()))
        if "application/json" in accept:
            return JSONResponse({"sent": True}, status_code=201)
        return redirect(f"/cases/{case_id}#conversation")

    @api.post("/cases/{case_id}/rating", responses=problems(403, 404, 409))
    async def rate(
        request: Request,
        case_id: uuid.UUID,
        rating: Annotated[int, Form(ge=1, le=5)],
        comment: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        session = signed_in(request, "patient")
        await service.rate(web_of(request), session, case_id, rating, comment)
        return redirect(f"/cases/{case_id}")

    @api.get("/my/cases")
    async def my_cases(request: Request) -> Response:
        session = signed_in(request, "patient")
        found = await service.my_cases(web_of(request), session, page_of(request).language)
        return render(request, "my_cases.html", cases=found)

    return api
