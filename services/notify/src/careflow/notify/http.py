"""Notify's HTTP API: a patient's notifications for a case."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from careflow.kit.auth import Principal, require
from careflow.kit.cases import require_case_access
from careflow.kit.db import Database
from careflow.notify import adapters


class Notification(BaseModel):
    notification_id: UUID
    case_id: UUID
    kind: str
    channel: str
    created_at: datetime


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["notify"])
    anyone = Annotated[Principal, Depends(require(token_secret))]

    @api.get("/cases/{case_id}/notifications")
    async def list_notifications(case_id: UUID, caller: anyone) -> list[Notification]:
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await adapters.for_case(conn, case_id)
        return [Notification.model_validate(r) for r in rows]

    return api
