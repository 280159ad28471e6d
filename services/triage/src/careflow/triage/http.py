"""Triage's HTTP API: open a case, answer its questionnaire one question at a time, see the outcome.

Each route authenticates, calls one command of ``service`` and answers with the
step the patient is at, so a client that reconnects simply asks for it again.
Answers about a case carry health data: the kit marks every answer ``Cache-Control: no-store``.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, status

from careflow.kit.auth import Principal, require
from careflow.kit.problems import problems
from careflow.triage import service
from careflow.triage.views import (
    AnswerIn,
    OpenCase,
    OpenedCase,
    OutcomeView,
    QuestionnaireRef,
    QuestionnaireView,
    RegionRule,
    StartTriage,
    Step,
    questionnaire_ref,
    questionnaire_view,
    step_view,
)

Language = Annotated[str, Query(min_length=2, max_length=8, description="sv or en")]
Patient = Annotated[Principal, Depends(require("patient"))]


def router(ctx: service.Context) -> APIRouter:
    """Triage's routes; ``ctx.catalogue`` holds the linted questionnaires."""
    api = APIRouter(tags=["triage"])

    def shown(progress: service.Progress, language: str | None = None) -> Step:
        return step_view(progress.state, ctx.catalogue, language, progress.at, ctx.abandon_after)

    @api.get("/questionnaires")
    async def questionnaires(language: Language = "sv") -> list[QuestionnaireRef]:
        """Every questionnaire offered: the complaints and the errands."""
        return [questionnaire_ref(q, language) for q in ctx.catalogue.by_id.values()]

    @api.get("/questionnaires/{questionnaire_id}", responses=problems(404))
    async def questionnaire(questionnaire_id: str, language: Language = "sv") -> QuestionnaireView:
        """One questionnaire's questions, in ``language``, each with what its answer must be."""
        return questionnaire_view(service.offered(ctx, questionnaire_id), language)

    @api.get("/regions")
    async def regions() -> list[RegionRule]:
        """Public, no login: the regions, and whether each takes patients from other regions."""
        choice = ctx.regions
        return [
            RegionRule(region=name, patients_from_other_regions=choice.open_to_others(name))
            for name in choice.names()
        ]

    @api.post(
        "/cases",
        status_code=status.HTTP_201_CREATED,
        responses=problems(403, 404),
    )
    async def open_case(
        caller: Patient, body: Annotated[OpenCase | None, Body()] = None
    ) -> OpenedCase:
        """Open a case for oneself, or for the child one acts for; optionally start triage."""
        options = body or OpenCase()
        opened = await service.open_case(
            ctx, caller, options.questionnaire_id, options.language, options.region
        )
        step = shown(opened, options.language) if options.questionnaire_id else None
        return OpenedCase(case_id=opened.case_id, step=step)

    @api.post(
        "/cases/{case_id}/triage",
        status_code=status.HTTP_201_CREATED,
        responses=problems(404, 409),
    )
    async def start(case_id: UUID, body: StartTriage, caller: Patient) -> Step:
        """Start the questionnaire; on a waiting case this is a re-triage (revision + 1)."""
        started = await service.start(ctx, caller, case_id, body.questionnaire_id, body.language)
        return shown(started, body.language)

    @api.get("/cases/{case_id}/triage", responses=problems(404))
    async def step(case_id: UUID, caller: Patient, language: Language | None = None) -> Step:
        """Where the patient is: resume here after reconnecting."""
        return shown(await service.progress(ctx, caller, case_id), language)

    @api.post("/cases/{case_id}/triage/answers", responses=problems(404, 409))
    async def answer(case_id: UUID, body: AnswerIn, caller: Patient) -> Step:
        """Answer the current question; the answer that reaches an outcome completes triage."""
        return shown(await service.answer(ctx, caller, case_id, body.question_id, body.value))

    @api.post("/cases/{case_id}/triage/back", responses=problems(404, 409))
    async def back(case_id: UUID, caller: Patient) -> Step:
        """Go back one question: the last answer is withdrawn and its question asked again."""
        return shown(await service.go_back(ctx, caller, case_id))

    @api.delete("/cases/{case_id}/triage", responses=problems(404, 409))
    async def give_up(case_id: UUID, caller: Patient) -> Step:
        """Stop answering; an earlier completed triage of the case still stands."""
        return shown(await service.give_up(ctx, caller, case_id))

    @api.get("/cases/{case_id}/outcome", responses=problems(404))
    async def outcome(
        case_id: UUID, caller: Patient, language: Language | None = None
    ) -> OutcomeView:
        """The latest completed triage of the case."""
        found = shown(await service.outcome(ctx, caller, case_id), language)
        assert found.outcome is not None
        return found.outcome

    return api
