"""Queue's HTTP API: staff claim, take, requeue, transfer and survey queues; patients see
their place and estimated wait, and may withdraw.

Thin: each route authenticates, calls one command of ``service`` and shapes its answer.
"""

import datetime as dt
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from careflow.contracts import QueueRef, Skill, Urgency
from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.problems import problems
from careflow.queue import domain, service
from careflow.queue.service import QueueConfig


class ClaimRequest(BaseModel):
    skills: list[Skill] | None = Field(
        default=None, min_length=1, description="Queues to draw from; default: all of yours."
    )
    region: str | None = Field(default=None, description="Must be your own region if given.")


class Claimed(BaseModel):
    case_id: UUID
    queue: QueueRef
    urgency: Urgency
    waited_seconds: float
    turn_reached_at: datetime


class Reasoned(BaseModel):
    reason: str = Field(min_length=1, max_length=domain.MAX_REASON_CHARS)


class Requeue(Reasoned):
    no_answer: bool = Field(
        default=False, description="The patient did not answer after their turn."
    )


class Transfer(Reasoned):
    skill: Skill | None = Field(default=None, description="Default: the same skill.")
    region: str | None = Field(default=None, description="Default: the same region.")


class Place(BaseModel):
    case_id: UUID
    status: domain.Status
    queue: QueueRef | None
    urgency: Urgency | None
    waiting_since: datetime | None
    position: int | None = Field(description="1: next to be helped; null when not waiting.")
    estimated_wait_seconds: float | None = Field(
        description="From the queue's recent throughput; null when there is none to go by."
    )
    region_open: bool | None
    opens_at: datetime | None = Field(description="When staff answer next (now, while open).")


class NearLimit(BaseModel):
    case_id: UUID
    urgency: Urgency
    waiting_since: datetime
    contact_due: datetime
    assessment_due: datetime
    overdue: bool


class Unreached(BaseModel):
    notification_id: UUID
    case_id: UUID
    kind: str
    channel: str
    reason: str
    failed_at: datetime


class GuaranteeItem(BaseModel):
    """A case against the care guarantee: a medical assessment within 3 days of first contact."""

    case_id: UUID
    outcome: str | None = Field(description="How the contact ended; null while not assessed.")
    first_contact_at: datetime
    assessment_due: datetime
    assessed_at: datetime | None = Field(
        description="When the assessment was made: the contact's close, or the booked visit."
    )
    alert: bool = Field(description="Not assessed yet and the deadline is near.")
    overdue: bool
    booking_beyond_limit: bool = Field(description="A visit booked past the deadline.")


class QueueView(BaseModel):
    region: str
    skill: Skill
    waiting: int
    by_urgency: dict[str, int]
    longest_wait_seconds: float | None
    turns_last_window: int
    window_seconds: float
    region_open: bool
    opens_at: datetime | None
    near_guarantee_limit: list[NearLimit] = Field(
        description="The cases most at risk of the care guarantee, oldest first, at most a few."
    )
    near_guarantee_limit_count: int = Field(
        description="How many cases are near or past the limit, of the longest-waiting scanned."
    )
    overdue_count: int = Field(description="How many of those are past the limit.")
    near_limit_scanned: int = Field(
        description="How many of the longest-waiting cases were scanned: the counts' ceiling."
    )


class WaitingItem(BaseModel):
    """A waiting case as the worklist lists it, in the order staff are handed them."""

    case_id: UUID
    urgency: Urgency
    waiting_since: datetime
    waited_seconds: float
    contact_due: datetime = Field(description="The care guarantee's same-day contact limit.")
    assessment_due: datetime = Field(description="The care guarantee's 3-day assessment limit.")
    near_limit: bool = Field(description="A limit is near (or past).")
    overdue: bool
    unreached: bool = Field(description="A notification could not reach the patient.")


class WorklistQueue(QueueView):
    first_waiting: list[WaitingItem] = Field(
        description="The queue's first waiting cases in order: most urgent, then longest waiting."
    )


class Worklist(BaseModel):
    """All staff's worklist page shows, in one answer: every queue of the region with its
    first waiting cases, and the patients a notification could not reach."""

    queues: list[WorklistQueue]
    unreached: list[Unreached]


class RegionToday(BaseModel):
    region: str
    date: dt.date = Field(description="Today, in the region's time zone.")
    # Wall-clock times as "HH:MM": JSON Schema's "time" format wants an offset, which a
    # local opening hour has none of (the region's time zone holds all year, summer or not).
    opens: str | None = Field(
        pattern=r"^\d{2}:\d{2}$", description="Local time (HH:MM); null when closed all day."
    )
    closes: str | None = Field(pattern=r"^\d{2}:\d{2}$", description="Local time (HH:MM).")
    closed_because: str | None = Field(description="The holiday (or other reason) closing today.")
    open_now: bool
    next_opening: datetime | None = Field(
        description="When staff next begin to answer (after now); null: not within two weeks."
    )


def _today(day: domain.DayHours) -> RegionToday:
    return RegionToday(
        region=day.region,
        date=day.date,
        opens=day.hours.opens.strftime("%H:%M") if day.hours else None,
        closes=day.hours.closes.strftime("%H:%M") if day.hours else None,
        closed_because=day.closed_because,
        open_now=day.open_now,
        next_opening=day.next_opening,
    )


def _claimed(turn: service.Turn) -> Claimed:
    state, reached = turn
    assert state.urgency is not None
    return Claimed(
        case_id=reached.case_id,
        queue=reached.queue,
        urgency=state.urgency,
        waited_seconds=reached.waited_seconds,
        turn_reached_at=reached.occurred_at,
    )


#: The answer of a claim when nobody waits, beside the problems it may answer.
_NOBODY_WAITING: dict[int | str, dict[str, Any]] = {204: {"description": "nobody is waiting"}}


def router(db: Database, clock: Clock, config: QueueConfig) -> APIRouter:
    """The queue's routes, reading the time from ``clock``."""
    api = APIRouter(tags=["queue"])
    staff = Annotated[Principal, Depends(require("staff"))]
    patient = Annotated[Principal, Depends(require("patient"))]
    anyone = Annotated[Principal, Depends(require())]

    @api.get("/regions")
    async def regions() -> list[RegionToday]:
        """Public, no login: every region's opening hours today and its next opening.

        Cases are accepted around the clock; staff answer within these hours.
        """
        return [_today(day) for day in service.regions_today(clock, config)]

    @api.get("/regions/{region}", responses=problems(404))
    async def region_today(region: str) -> RegionToday:
        """Public, no login: one region's opening hours today and its next opening."""
        [day] = service.regions_today(clock, config, region)
        return _today(day)

    @api.post("/claims", response_model=Claimed, responses=_NOBODY_WAITING | problems(409))
    async def claim_next(body: ClaimRequest, caller: staff) -> Any:
        """Take the most urgent, longest-waiting case of your region and skills."""
        who = service.serving(config, caller)
        got = await service.claim_next(db, clock, who, body.skills, body.region)
        if got is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return _claimed(got)

    @api.post("/cases/{case_id}/take", responses=problems(404, 409))
    async def take(case_id: UUID, caller: staff) -> Claimed:
        """Take one particular waiting case of your region and skills."""
        who = service.serving(config, caller)
        return _claimed(await service.take(db, clock, who, case_id))

    @api.post("/cases/{case_id}/requeue", responses=problems(404, 409))
    async def requeue(case_id: UUID, body: Requeue, caller: staff) -> Place:
        """Put a case you took back in its queue; it keeps its place."""
        who = service.serving(config, caller)
        seen = await service.requeue(
            db, clock, config, who, case_id, body.reason, no_answer=body.no_answer
        )
        return Place(**seen)

    @api.post("/cases/{case_id}/transfer", responses=problems(404, 409))
    async def transfer(case_id: UUID, body: Transfer, caller: staff) -> Place:
        """Move a case to another skill's or region's queue; it keeps its waiting time."""
        who = service.serving(config, caller)
        seen = await service.transfer(
            db, clock, config, who, case_id, body.reason, skill=body.skill, region=body.region
        )
        return Place(**seen)

    @api.post("/cases/{case_id}/close-unanswered", responses=problems(404, 409))
    async def close_unanswered(case_id: UUID, caller: staff) -> Place:
        """The patient did not answer after their turn: close the case as withdrawn."""
        who = service.serving(config, caller)
        return Place(**await service.close_unanswered(db, clock, config, who, case_id))

    @api.post("/cases/{case_id}/withdraw", responses=problems(404, 409))
    async def withdraw(case_id: UUID, caller: patient) -> Place:
        """The patient leaves the queue: the case closes as withdrawn."""
        return Place(**await service.withdraw(db, clock, config, caller, case_id))

    @api.get("/cases/{case_id}", responses=problems(404))
    async def place(case_id: UUID, caller: anyone) -> Place:
        """A case's status, position and estimated wait (its patient, or staff of its queue)."""
        return Place(**await service.place(db, clock, config, caller, case_id))

    @api.get("/queues")
    async def queues(caller: staff) -> list[QueueView]:
        """Every skill's queue of your region."""
        who = service.serving(config, caller)
        return [QueueView(**v) for v in await service.overviews(db, clock, config, who, Skill)]

    @api.get("/guarantee")
    async def guarantee(caller: staff) -> list[GuaranteeItem]:
        """Your region's cases against the 3-day assessment limit: deadlines, alerts, breaches."""
        who = service.serving(config, caller)
        rows = await service.guarantee_worklist(db, clock, config, who)
        return [GuaranteeItem(**row) for row in rows]

    @api.get("/unreached")
    async def unreached(caller: staff) -> list[Unreached]:
        """Patients of your region whom a notification could not reach: call them instead."""
        who = service.serving(config, caller)
        return [Unreached(**row) for row in await service.unreached(db, clock, who)]

    @api.get("/worklist")
    async def worklist(
        caller: staff,
        first: Annotated[int, Query(ge=0, le=200, description="Cases listed per queue.")] = 30,
    ) -> Worklist:
        """Your region's queues with the first ``first`` waiting cases of each, in order, and
        the patients a notification could not reach: the worklist page in one call."""
        who = service.serving(config, caller)
        seen = await service.worklist(db, clock, config, who, Skill, first)
        return Worklist(
            queues=[WorklistQueue(**v) for v in seen["queues"]],
            unreached=[Unreached(**r) for r in seen["unreached"]],
        )

    @api.get("/queues/{skill}")
    async def queue_view(skill: Skill, caller: staff) -> QueueView:
        """One queue of your region: counts, longest wait, cases near the guarantee limit."""
        who = service.serving(config, caller)
        [view] = await service.overviews(db, clock, config, who, [skill])
        return QueueView(**view)

    return api
