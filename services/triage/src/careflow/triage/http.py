"""Triage's HTTP API: open a case, answer, see the outcome."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from careflow.contracts import QueueRef, Recommendation, TriageCompleted, Urgency
from careflow.kit.auth import Principal, require
from careflow.kit.db import Database
from careflow.kit.domain import Invalid
from careflow.kit.eventstore import Aggregate
from careflow.triage import domain

AGGREGATE = Aggregate(domain.CaseTriage, domain.evolve)


def stream_id(case_id: UUID) -> str:
    return f"triage-{case_id}"


class OpenedCase(BaseModel):
    case_id: UUID


class Answers(BaseModel):
    answers: dict[str, Any] = Field(description="question id -> answer")


class Outcome(BaseModel):
    case_id: UUID
    revision: int
    urgency: Urgency
    recommendation: Recommendation
    target_queue: QueueRef | None
    rules_fired: tuple[str, ...]


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["triage"])
    patient = Annotated[Principal, Depends(require(token_secret, "patient"))]

    @api.get("/questionnaire")
    async def questionnaire() -> dict[str, Any]:
        return {
            "id": domain.QUESTIONNAIRE_ID,
            "version": domain.QUESTIONNAIRE_VERSION,
            "questions": {q: kind.__name__ for q, kind in domain.QUESTIONS.items()},
        }

    @api.post("/cases", status_code=status.HTTP_201_CREATED)
    async def open_case(caller: patient) -> OpenedCase:
        if not caller.personal_identity_number:
            raise Invalid("the token carries no personal identity number")
        case_id = uuid4()
        person = domain.Patient(
            subject_id=caller.acting_for or caller.subject_id,
            personal_identity_number=caller.personal_identity_number,
            region=caller.region,
            acting_guardian_id=caller.subject_id if caller.acting_for else None,
        )
        async with db.transaction() as conn:
            await AGGREGATE.execute(
                conn,
                stream_id(case_id),
                lambda s: domain.decide_open(s, case_id, person, datetime.now(UTC)),
            )
        return OpenedCase(case_id=case_id)

    @api.post("/cases/{case_id}/answers")
    async def answer(case_id: UUID, body: Answers, caller: patient) -> Outcome:
        async with db.transaction() as conn:
            _, new = await AGGREGATE.execute(
                conn,
                stream_id(case_id),
                lambda s: domain.decide_complete(
                    s, body.answers, caller.subject_id, datetime.now(UTC)
                ),
            )
        done = new[0]
        assert isinstance(done, TriageCompleted)
        return Outcome(
            case_id=case_id,
            revision=done.revision,
            urgency=done.urgency,
            recommendation=done.recommendation,
            target_queue=done.target_queue,
            rules_fired=done.rules_fired,
        )

    return api
