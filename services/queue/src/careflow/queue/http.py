"""Queue's HTTP API: staff claim the next case; patients see their place."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from careflow.contracts import Professional, Skill, TurnReached
from careflow.kit.auth import Principal, require
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden
from careflow.queue import adapters, domain


class ClaimRequest(BaseModel):
    skills: list[Skill] = Field(min_length=1)


class Claimed(BaseModel):
    case_id: UUID
    waited_seconds: float


class Place(BaseModel):
    case_id: UUID
    status: domain.Status
    position: int | None


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["queue"])
    staff = Annotated[Principal, Depends(require(token_secret, "staff"))]
    anyone = Annotated[Principal, Depends(require(token_secret))]

    @api.post(
        "/claims", response_model=Claimed, responses={204: {"description": "nobody is waiting"}}
    )
    async def claim_next(body: ClaimRequest, caller: staff) -> Any:
        professional = Professional(
            staff_id=caller.subject_id,
            name=caller.name or caller.subject_id,
            title=caller.title or "staff",
            care_unit=caller.care_unit or "unknown",
        )
        async with db.transaction() as conn:
            case_id = await adapters.next_waiting(
                conn, caller.region, [s.value for s in body.skills]
            )
            if case_id is None:
                return Response(status_code=status.HTTP_204_NO_CONTENT)
            _, new = await adapters.AGGREGATE.execute(
                conn,
                adapters.stream_id(case_id),
                lambda s: domain.decide_claim(s, professional, datetime.now(UTC)),
            )
            await adapters.project(conn, new)
        turn = new[0]
        assert isinstance(turn, TurnReached)
        return Claimed(case_id=case_id, waited_seconds=turn.waited_seconds)

    @api.get("/cases/{case_id}")
    async def place(case_id: UUID, caller: anyone) -> Place:
        async with db.transaction() as conn:
            state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
            pos = await adapters.position(conn, case_id)
        if caller.role == "staff" and state.queue and state.queue.region != caller.region:
            raise Forbidden("this case is in another region's queue")
        return Place(case_id=case_id, status=state.status, position=pos)

    return api
