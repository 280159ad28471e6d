"""Chat's complaint routes: a patient complains about a contact; the region's staff list them."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from careflow.chat import complaints
from careflow.contracts.chat_events import ComplaintCategory
from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.problems import problems


class ComplaintIn(BaseModel):
    category: ComplaintCategory = "other"
    text: str = Field(min_length=1, max_length=4000, description="What went wrong, in your words.")


class Filed(BaseModel):
    complaint_id: UUID
    case_id: UUID
    category: str
    filed_at: datetime


class Complaint(BaseModel):
    complaint_id: UUID
    case_id: UUID
    region: str
    staff_id: str
    staff_name: str
    staff_title: str
    category: str
    text: str
    filed_at: datetime


def router(db: Database, clock: Clock) -> APIRouter:
    """File a complaint about a contact; the region's list of complaints."""
    api = APIRouter(tags=["chat"])
    patient = Annotated[Principal, Depends(require("patient"))]
    staff = Annotated[Principal, Depends(require("staff"))]

    @api.post(
        "/cases/{case_id}/complaints",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404, 422),
    )
    async def file(case_id: UUID, body: ComplaintIn, caller: patient) -> Filed:
        """Complain about the contact (its own event, handled by the region's staff)."""
        return Filed(**await complaints.file(db, clock, caller, case_id, body.category, body.text))

    @api.get("/complaints", responses=problems(403))
    async def of_region(caller: staff) -> list[Complaint]:
        """The complaints about contacts in your region, newest first."""
        return [Complaint(**r) for r in await complaints.of_region(db, clock, caller)]

    return api
