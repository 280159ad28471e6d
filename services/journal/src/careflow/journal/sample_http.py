"""The auditor's access-log search and monthly sample check, over HTTP (auditors only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from careflow.journal import sample_checks
from careflow.journal.domain.sampling import MAX_SAMPLE
from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.problems import problems

Auditor = Annotated[Principal, Depends(require("auditor"))]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (Europe/Stockholm).")]
Seed = Annotated[str, Query(min_length=1, max_length=200, description="Kept with the report.")]
Size = Annotated[int, Query(ge=1, le=MAX_SAMPLE, description="Reads in the sample.")]
Unit = Annotated[str, Query(min_length=1, max_length=200)]


class LoggedRead(BaseModel):
    id: int
    at: datetime
    reader_id: str
    reader_role: str
    reader_name: str | None
    reader_title: str | None
    care_unit: str | None
    case_id: UUID
    action: str
    purpose: str
    emergency: bool
    basis: str | None = None


class Conclusion(BaseModel):
    care_unit: str = Field(min_length=1, max_length=200)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    seed: str = Field(min_length=1, max_length=200)
    size: int = Field(default=20, ge=1, le=MAX_SAMPLE)
    access_id: int
    conclusion: str = Field(min_length=1, max_length=2000)


class RecordedConclusion(BaseModel):
    id: int
    care_unit: str
    month: str
    seed: str
    access_id: int
    conclusion: str
    reviewer_id: str
    reviewer_name: str | None
    recorded_at: datetime


def sample_router(db: Database, clock: Clock) -> APIRouter:
    """Search the access log; a care unit's monthly sample check as CSV, and conclusions."""
    api = APIRouter(tags=["journal"])

    @api.get("/audit/accesses", responses=problems(403, 422))
    async def search_accesses(
        caller: Auditor,
        personal_identity_number: Annotated[str | None, Query(max_length=13)] = None,
        reader: Annotated[
            str | None, Query(max_length=200, description="HSA id, or part of the name.")
        ] = None,
        care_unit: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[date | None, Query(description="First day (Europe/Stockholm).")] = None,
        until: Annotated[date | None, Query(description="Last day, included.")] = None,
    ) -> list[LoggedRead]:
        """Reads of the auditor's region's cases by patient, reader, care unit and period."""
        found = await sample_checks.search(
            db, caller, personal_identity_number, reader, care_unit, since, until
        )
        return [LoggedRead.model_validate(r) for r in found]

    @api.get(
        "/audit/samples",
        responses={
            **problems(403, 422),
            200: {"content": {"text/csv": {}}, "description": "The sample as CSV."},
        },
        response_class=Response,
    )
    async def sample_report(
        caller: Auditor, care_unit: Unit, month: Month, seed: Seed, size: Size = 20
    ) -> Response:
        """A care unit's seeded random sample of reads for a month, with a conclusion column."""
        body = await sample_checks.report(db, caller, care_unit, month, seed, size)
        name = f"sample-{month}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @api.post(
        "/audit/samples/conclusions",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 422),
    )
    async def conclude(caller: Auditor, body: Conclusion) -> RecordedConclusion:
        """Record the reviewer's conclusion on one read of the sample (append-only)."""
        row = await sample_checks.conclude(
            db,
            clock,
            caller,
            body.care_unit,
            body.month,
            body.seed,
            body.size,
            body.access_id,
            body.conclusion,
        )
        return RecordedConclusion.model_validate(row)

    return api
