"""The patient's pages: start (region and hours), triage one question at a time, the case
(waiting room, answering again when worse, conversation, outcome, rating, complaint) and
"My cases"."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.domain import Invalid
from careflow.kit.problems import problems
from careflow.web import domain, journey, service
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

#: Why a re-triage was refused, as the case page's query names it (message keys retriage.*).
RETRIAGE_REFUSALS = frozenset({"in_contact", "closed", "refused"})

#: A message sent from the page's script (which asks for JSON) rather than the form.
SENT: dict[int | str, dict[str, Any]] = {201: {"description": "sent"}}


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/start")
    async def start(request: Request, region: str | None = None) -> Response:
        session = signed_in(request, "patient")
        language = page_of(request).language
        web = web_of(request)
        offered = await service.questionnaires(web, session, language)
        home = journey.home_region(session)
        seeking = journey.chosen_region(session) or home
        found = await journey.regions(web)
        today = next((r for r in found if r["region"] == seeking), None)
        if today is None:
            today = await service.region_today(web, seeking)
        return render(
            request,
            "start.html",
            today=today,
            home_region=home,
            seeking_region=seeking,
            choosable=journey.choosable(found, home),
            region_refused=region == "refused",
            complaints=[q for q in offered if q["kind"] == "complaint"],
            errands=[q for q in offered if q["kind"] != "complaint"],
        )

    @api.post("/start/region", responses=problems(403))
    async def choose_region(
        request: Request, region: Annotated[str, Form(min_length=1, max_length=64)]
    ) -> Response:
        session = signed_in(request, "patient")
        allowed = await journey.choose_region(web_of(request), session, region)
        return redirect("/start" if allowed else "/start?region=refused")

    @api.post("/cases", responses=problems(403, 404))
    async def open_case(
        request: Request, questionnaire_id: Annotated[str, Form(max_length=100)]
    ) -> Response:
        session = signed_in(request, "patient")
        web = web_of(request)
        case_id = await service.open_case(
            web,
            session,
            questionnaire_id,
            page_of(request).language,
            region=journey.chosen_region(session),
        )
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
    async def case(
        request: Request,
        case_id: uuid.UUID,
        attach: str | None = None,
        retriage: str | None = None,
    ) -> Response:
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
            retriage_refused=f"retriage.{retriage}" if retriage in RETRIAGE_REFUSALS else None,
            read_up_to=await read_up_to(request, session, case_id, seen["contact"]),
        )

    @api.post("/cases/{case_id}/retriage", responses=problems(403, 404))
    async def answer_again(request: Request, case_id: uuid.UUID) -> Response:
        """ "I have got worse": the questionnaire again; the new urgency moves the case."""
        session = signed_in(request, "patient")
        refused = await journey.retriage(
            web_of(request), session, case_id, page_of(request).language
        )
        if refused is not None:
            return redirect(f"/cases/{case_id}?retriage={refused.removeprefix('retriage.')}")
        return redirect(f"/cases/{case_id}/triage")

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

    @api.get("/cases/{case_id}/complaint", responses=problems(404))
    async def complaint_form(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "patient")
        await service.own_case(web_of(request), session, case_id)
        return render(
            request, "complaint.html", case_id=case_id, categories=domain.COMPLAINT_CATEGORIES
        )

    @api.post("/cases/{case_id}/complaint", responses=problems(403, 404, 422))
    async def complain(
        request: Request,
        case_id: uuid.UUID,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        category: Annotated[str, Form(max_length=32)] = "other",
    ) -> Response:
        session = signed_in(request, "patient")
        if category not in domain.COMPLAINT_CATEGORIES:
            raise Invalid("no such kind of complaint")
        await journey.complain(web_of(request), session, case_id, category, text.strip())
        return redirect(f"/cases/{case_id}/complaint/receipt")

    @api.get("/cases/{case_id}/complaint/receipt", responses=problems(404))
    async def complaint_receipt(request: Request, case_id: uuid.UUID) -> Response:
        session = signed_in(request, "patient")
        receipt = session.data.get(journey.LAST_COMPLAINT) or {}
        if receipt.get("case_id") != str(case_id):
            return redirect(f"/cases/{case_id}")
        return render(request, "complaint_receipt.html", case_id=case_id, receipt=receipt)

    @api.get("/my/cases")
    async def my_cases(request: Request) -> Response:
        session = signed_in(request, "patient")
        found = await service.my_cases(web_of(request), session, page_of(request).language)
        return render(request, "my_cases.html", cases=found)

    return api
