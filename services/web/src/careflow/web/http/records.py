"""Record-keeping pages: a professional's unsigned notes (signing one) and the region's
complaints; the auditor's monthly sample check and the access-log search across services.

The access-log search is a posted form: an identity number never travels in an address.
A sample is named by care unit, month and seed, none of them personal, so its page and
CSV are plain addresses an auditor can come back to.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response

from careflow.kit.domain import Invalid
from careflow.kit.problems import problems
from careflow.web import records
from careflow.web.http.common import PAGE_RESPONSES, load_page, redirect, render, signed_in, web_of
from careflow.web.records import ReadSearch, SampleRequest

Text = Annotated[str, Form(max_length=200)]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
Named = Annotated[str, Query(min_length=1, max_length=200)]
Size = Annotated[int, Query(ge=1, le=200)]


def _sample_page(wanted: SampleRequest) -> str:
    return f"/audit/samples/report?{urlencode(wanted.params)}"


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/staff/unsigned-notes")
    async def unsigned(request: Request, signed: bool = False) -> Response:
        session = signed_in(request, "staff")
        notes = await records.unsigned_notes(web_of(request), session)
        return render(request, "staff_unsigned.html", notes=notes, signed=signed)

    @api.post("/staff/unsigned-notes/{case_id}/{note_id}/sign", responses=problems(403, 404, 409))
    async def sign(request: Request, case_id: uuid.UUID, note_id: uuid.UUID) -> Response:
        session = signed_in(request, "staff")
        await records.sign(web_of(request), session, case_id, note_id)
        return redirect("/staff/unsigned-notes?signed=true")

    @api.get("/staff/complaints", responses=problems(403))
    async def complaints(request: Request) -> Response:
        session = signed_in(request, "staff")
        found = await records.complaints(web_of(request), session)
        return render(request, "staff_complaints.html", complaints=found)

    @api.get("/audit/samples")
    async def sample_form(request: Request) -> Response:
        signed_in(request, "auditor")
        return render(request, "audit_sample.html", wanted=None, rows=None)

    @api.get("/audit/samples/report", responses=problems(403, 422))
    async def sample(
        request: Request, care_unit: Named, month: Month, seed: Named, size: Size = 20
    ) -> Response:
        session = signed_in(request, "auditor")
        wanted = SampleRequest(care_unit, month, seed, size)
        text = await records.sample_csv(web_of(request), session, wanted)
        rows = records.sample_rows(text)
        csv_url = f"/audit/samples/csv?{urlencode(wanted.params)}"
        return render(request, "audit_sample.html", wanted=wanted, rows=rows, csv_url=csv_url)

    @api.get(
        "/audit/samples/csv",
        responses={
            **problems(403, 422),
            200: {"content": {"text/csv": {}}, "description": "The sample as CSV."},
        },
        response_class=Response,
    )
    async def sample_csv(
        request: Request, care_unit: Named, month: Month, seed: Named, size: Size = 20
    ) -> Response:
        """The journal's CSV as a file; the middleware marks it no-store like every page."""
        session = signed_in(request, "auditor")
        wanted = SampleRequest(care_unit, month, seed, size)
        text = await records.sample_csv(web_of(request), session, wanted)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="sample-{month}.csv"'},
        )

    @api.post("/audit/samples/conclusions", responses=problems(403, 404, 422))
    async def conclude(
        request: Request,
        care_unit: Text,
        month: Annotated[str, Form(pattern=r"^\d{4}-\d{2}$")],
        seed: Text,
        access_id: Annotated[int, Form()],
        conclusion: Annotated[str, Form(max_length=2000)],
        size: Annotated[int, Form(ge=1, le=200)] = 20,
    ) -> Response:
        session = signed_in(request, "auditor")
        wanted = SampleRequest(care_unit, month, seed, size)
        await records.conclude(web_of(request), session, wanted, access_id, conclusion)
        return redirect(_sample_page(wanted) + f"#read-{access_id}")

    @api.get("/audit/reads")
    async def reads_form(request: Request) -> Response:
        signed_in(request, "auditor")
        return render(request, "audit_reads.html", found=None, asked={})

    @api.post("/audit/reads", responses=problems(403, 422))
    async def reads(
        request: Request,
        pin: Annotated[str, Form(max_length=13)] = "",
        reader: Text = "",
        care_unit: Text = "",
        since: Annotated[str, Form(max_length=10)] = "",
        until: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        session = signed_in(request, "auditor")
        asked = {"reader": reader, "care_unit": care_unit, "since": since, "until": until}
        try:
            wanted = ReadSearch(pin, reader, care_unit, since, until)
            found = await records.search_reads(web_of(request), session, wanted)
        except Invalid as exc:
            return render(
                request, "audit_reads.html", 422, found=None, asked=asked, error=exc.reason
            )
        return render(request, "audit_reads.html", found=found, asked=asked)

    return api
