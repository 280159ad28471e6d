"""Journal's HTTP API: read a case's record and verify its chain (staff of the case's region)."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from careflow.journal import adapters, domain
from careflow.kit.auth import Principal, require
from careflow.kit.db import Database
from careflow.kit.domain import NotFound


class JournalEntry(BaseModel):
    sequence: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    patient_pin: str | None
    author_role: str
    professional_name: str | None
    professional_title: str | None
    care_unit: str | None
    content: dict[str, Any]
    entry_hash: str


class ChainCheck(BaseModel):
    valid: bool
    entries: int
    first_broken_sequence: int | None
    reason: str | None


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["journal"])
    staff = Annotated[Principal, Depends(require(token_secret, "staff"))]

    async def _rows(case_id: UUID, caller: Principal) -> list[dict[str, Any]]:
        async with db.transaction() as conn:
            region = await adapters.region_of(conn, case_id)
            if region is None or region != caller.region:
                raise NotFound("no journal for this case")
            return await adapters.entries(conn, case_id)

    @api.get("/cases/{case_id}/entries")
    async def read(case_id: UUID, caller: staff) -> list[JournalEntry]:
        return [JournalEntry.model_validate(r) for r in await _rows(case_id, caller)]

    @api.get("/cases/{case_id}/verify")
    async def verify(case_id: UUID, caller: staff) -> ChainCheck:
        rows = await _rows(case_id, caller)
        result = domain.verify_chain([adapters.as_chain_item(r) for r in rows])
        return ChainCheck(
            valid=result.valid,
            entries=result.entries,
            first_broken_sequence=result.first_broken_sequence,
            reason=result.reason,
        )

    return api
