"""Queue's HTTP API: staff claim, take, requeue, transfer and survey queues; patients see
their place and estimated wait, and may withdraw."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from careflow.contracts import Actor, ActorRole, Professional, QueueRef, Skill, Urgency
from careflow.kit.auth import Principal, require
from careflow.kit.cases import require_case_access
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden, Invalid, NotFound
from careflow.queue import adapters, domain


@dataclass(frozen=True)
class QueueConfig:
    """What the HTTP layer needs besides the database: rules' numbers and regions."""

    token_secret: str
    regions: domain.Regions
    answer_within: timedelta = timedelta(minutes=5)
    read: adapters.Settings = field(default_factory=adapters.Settings)


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
    near_guarantee_limit: list[NearLimit]


def staff_of(caller: Principal) -> domain.Staff:
    """The staff member a token names; skills come from the title (for now)."""
    return domain.Staff(
        professional=Professional(
            staff_id=caller.subject_id,
            name=caller.name or caller.subject_id,
            title=caller.title or "staff",
            care_unit=caller.care_unit or "unknown",
        ),
        region=caller.region,
        skills=domain.skills_for_title(caller.title),
    )


def _claimed(state: domain.QueuedCase, turn: Any) -> Claimed:
    assert state.urgency is not None
    return Claimed(
        case_id=turn.case_id,
        queue=turn.queue,
        urgency=state.urgency,
        waited_seconds=turn.waited_seconds,
        turn_reached_at=turn.occurred_at,
    )


def router(db: Database, config: QueueConfig) -> APIRouter:
    api = APIRouter(tags=["queue"])
    staff = Annotated[Principal, Depends(require("staff"))]
    patient = Annotated[Principal, Depends(require("patient"))]
    anyone = Annotated[Principal, Depends(require())]

    def serving(caller: Principal) -> domain.Staff:
        """The staff member, if their care unit serves their region's queues (403 otherwise)."""
        if not config.regions.calendar(caller.region).served_by(caller.care_unit):
            raise Forbidden(f"your care unit does not serve the queues of {caller.region}")
        return staff_of(caller)

    async def place_of(conn: Any, case_id: UUID, state: domain.QueuedCase) -> Place:
        now = datetime.now(UTC)
        seen = await adapters.place(conn, state, now, config.regions, config.read)
        return Place(case_id=case_id, **seen)

    @api.post(
        "/claims", response_model=Claimed, responses={204: {"description": "nobody is waiting"}}
    )
    async def claim_next(body: ClaimRequest, caller: staff) -> Any:
        """Take the most urgent, longest-waiting case of your region and skills."""
        who = serving(caller)
        domain.check_region(who, body.region)
        skills = domain.choose_skills(who, body.skills)
        async with db.transaction() as conn:
            got = await adapters.claim_next(conn, who, skills, datetime.now(UTC))
        if got is None:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        return _claimed(*got)

    @api.post("/cases/{case_id}/take")
    async def take(case_id: UUID, caller: staff) -> Claimed:
        """Take one particular waiting case of your region and skills."""
        who = serving(caller)
        async with db.transaction() as conn:
            state, turn = await adapters.take(conn, who, case_id, datetime.now(UTC))
        return _claimed(state, turn)

    @api.post("/cases/{case_id}/requeue")
    async def requeue(case_id: UUID, body: Requeue, caller: staff) -> Place:
        """Put a case you took back in its queue; it keeps its place."""
        who = serving(caller)
        async with db.transaction() as conn:
            state, _ = await adapters.execute(
                conn,
                case_id,
                lambda s: domain.decide_requeue(
                    s,
                    who,
                    body.reason,
                    datetime.now(UTC),
                    no_answer=body.no_answer,
                    answer_within=config.answer_within,
                ),
            )
            return await place_of(conn, case_id, state)

    @api.post("/cases/{case_id}/transfer")
    async def transfer(case_id: UUID, body: Transfer, caller: staff) -> Place:
        """Move a case to another skill's or region's queue; it keeps its waiting time."""
        who = serving(caller)
        if body.region is not None and not config.regions.knows(body.region):
            raise Invalid(f"unknown region {body.region!r}")

        def decide(s: domain.QueuedCase) -> list[Any]:
            current = s.queue or QueueRef(region=who.region, skill=Skill.NURSE)
            to = QueueRef(region=body.region or current.region, skill=body.skill or current.skill)
            return domain.decide_transfer(s, who, to, body.reason, datetime.now(UTC))

        async with db.transaction() as conn:
            state, _ = await adapters.execute(conn, case_id, decide)
            return await place_of(conn, case_id, state)

    @api.post("/cases/{case_id}/close-unanswered")
    async def close_unanswered(case_id: UUID, caller: staff) -> Place:
        """The patient did not answer after their turn: close the case as withdrawn."""
        who = serving(caller)
        async with db.transaction() as conn:
            state, _ = await adapters.execute(
                conn,
                case_id,
                lambda s: domain.decide_close_unanswered(
                    s, who, datetime.now(UTC), config.answer_within
                ),
            )
            return await place_of(conn, case_id, state)

    @api.post("/cases/{case_id}/withdraw")
    async def withdraw(case_id: UUID, caller: patient) -> Place:
        """The patient leaves the queue: the case closes as withdrawn."""
        actor = Actor(
            id=caller.subject_id,
            role=ActorRole.GUARDIAN if caller.acting_for else ActorRole.PATIENT,
            on_behalf_of=caller.acting_for,
        )
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            state, _ = await adapters.execute(
                conn, case_id, lambda s: domain.decide_withdraw(s, actor, datetime.now(UTC))
            )
            return await place_of(conn, case_id, state)

    @api.get("/cases/{case_id}")
    async def place(case_id: UUID, caller: anyone) -> Place:
        """A case's status, position and estimated wait (its patient, or staff of its queue)."""
        async with db.transaction() as conn:
            if caller.role == "patient":
                await require_case_access(conn, case_id, caller)
            state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
            if caller.role != "patient" and (
                state.queue is None
                or state.queue.region != caller.region
                or not config.regions.calendar(caller.region).served_by(caller.care_unit)
            ):
                raise NotFound("no such case in your region's queues")
            return await place_of(conn, case_id, state)

    @api.get("/queues")
    async def queues(caller: staff) -> list[QueueView]:
        """Every skill's queue of your region."""
        serving(caller)
        async with db.transaction() as conn:
            now = datetime.now(UTC)
            return [
                QueueView(
                    **await adapters.overview(
                        conn, caller.region, skill, now, config.regions, config.read
                    )
                )
                for skill in Skill
            ]

    @api.get("/unreached")
    async def unreached(caller: staff) -> list[Unreached]:
        """Patients of your region whom a notification could not reach: call them instead."""
        serving(caller)
        async with db.transaction() as conn:
            return [
                Unreached(**row) for row in await adapters.unreached_in_region(conn, caller.region)
            ]

    @api.get("/queues/{skill}")
    async def queue_view(skill: Skill, caller: staff) -> QueueView:
        """One queue of your region: counts, longest wait, cases near the guarantee limit."""
        serving(caller)
        async with db.transaction() as conn:
            return QueueView(
                **await adapters.overview(
                    conn, caller.region, skill, datetime.now(UTC), config.regions, config.read
                )
            )

    return api
