"""An auditor's pages: search the region's cases, a case's timeline with its verification
and its state at a moment, a patient's access log, and the FHIR export.

Searches are posted forms: an identity number never travels in an address (history,
logs). The journal logs every search and every read.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response

from careflow.kit.domain import Invalid
from careflow.kit.problems import problems
from careflow.web import auditor
from careflow.web.http.common import (
    PAGE_RESPONSES,
    STOCKHOLM,
    load_page,
    render,
    signed_in,
    web_of,
)

Text = Annotated[str, Form(max_length=200)]


def _moment(local: str | None) -> datetime | None:
    """A time the auditor typed (Europe/Stockholm unless it says otherwise)."""
    if not local:
        return None
    try:
        when = datetime.fromisoformat(local)
    except ValueError as exc:
        raise Invalid("the time is not a time") from exc
    return when if when.tzinfo else when.replace(tzinfo=STOCKHOLM)


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/audit")
    async def start(request: Request) -> Response:
        signed_in(request, "auditor")
        return render(request, "audit_search.html", found=None, asked={})

    @api.post("/audit/search", responses=problems(403, 422))
    async def search(
        request: Request, pin: Text = "", professional: Text = "", on: Text = ""
    ) -> Response:
        session = signed_in(request, "auditor")
        asked = {"pin": pin, "professional": professional, "on": on}
        try:
            found = await auditor.search(web_of(request), session, pin, professional, on)
        except Invalid:
            return render(request, "audit_search.html", 422, found=None, asked=asked, error=True)
        return render(request, "audit_search.html", found=found, asked=asked)

    @api.get("/audit/cases/{case_id}", responses=problems(404, 422))
    async def case(request: Request, case_id: uuid.UUID, at: str | None = None) -> Response:
        session = signed_in(request, "auditor")
        seen = await auditor.case(web_of(request), session, case_id, _moment(at))
        return render(request, "audit_case.html", case_id=case_id, at=at or "", **seen)

    @api.get("/audit/cases/{case_id}/fhir", responses=problems(404))
    async def fhir(request: Request, case_id: uuid.UUID) -> Response:
        """The FHIR export as a file; the middleware marks it no-store like every page."""
        session = signed_in(request, "auditor")
        bundle = await auditor.fhir(web_of(request), session, case_id)
        return Response(
            json.dumps(bundle, ensure_ascii=False, indent=1),
            media_type="application/fhir+json",
            headers={"Content-Disposition": f'attachment; filename="case-{case_id}.fhir.json"'},
        )

    @api.post("/audit/access-log", responses=problems(403, 422))
    async def access_log(request: Request, pin: Annotated[str, Form(max_length=13)]) -> Response:
        session = signed_in(request, "auditor")
        try:
            found = await auditor.access_log(web_of(request), session, pin)
        except Invalid:
            return render(request, "audit_access.html", 422, found=None, error=True)
        return render(request, "audit_access.html", found=found, error=False)

    return api
