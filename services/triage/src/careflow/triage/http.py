"""Triage's HTTP API: open a case, answer its questionnaire one question at a time, see the outcome.

Each route authenticates, calls one command of ``service`` and answers with the
step the patient is at, so a client that reconnects simply asks for it again.
Answers about a case carry health data: the kit marks every answer ``Cache-Control: no-store``.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query, status

from careflow.kit.auth import Principal, require
from careflow.kit.i18n import negotiate
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

Language = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=8,
        description="sv, en, ar, so, fa or fi; default: the Accept-Language header's.",
    ),
]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]
Patient = Annotated[Principal, Depends(require("patient"))]


def asked(language: str | None, accept_language: str | None) -> str | None:
    """The language asked for: explicitly, else the ``Accept-Language`` header's, or None."""
    return language or negotiate(accept_language)


def chosen(language: str | None, accept_language: str | None) -> str:
    """The language asked for, else Swedish."""
    return asked(language, accept_language) or "sv"


def router(ctx: service.Context) -> APIRouter:
    """Triage's routes; ``ctx.catalogue`` holds the linted questionnaires."""
    api = APIRouter(tags=["triage"])

    def shown(progress: service.Progress, language: str | None = None) -> Step:
        return step_view(progress.state, ctx.catalogue, language, progress.at, ctx.abandon_after)

    @api.get("/questionnaires")
    async def questionnaires(
        language: Language = None, accept_language: AcceptLanguage = None
    ) -> list[QuestionnaireRef]:
        """Every questionnaire offered: the complaints and the errands."""
        lang = chosen(language, accept_language)
        return [questionnaire_ref(q, lang) for q in ctx.catalogue.by_id.values()]

    @api.get("/questionnaires/{questionnaire_id}", responses=problems(404))
    async def questionnaire(
        questionnaire_id: str, language: Language = None, accept_language: AcceptLanguage = None
    ) -> QuestionnaireView:
        """One questionnaire's questions, in ``language``, each with what its answer must be."""
        lang = chosen(language, accept_language)
        return questionnaire_view(service.offered(ctx, questionnaire_id), lang)

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
        caller: Patient,
        body: Annotated[OpenCase | None, Body()] = None,
        accept_language: AcceptLanguage = None,
    ) -> OpenedCase:
        """Open a case for oneself, or for the child one acts for; optionally start triage."""
        options = body or OpenCase()
        lang = chosen(options.language, accept_language)
        opened = await service.open_case(
            ctx, caller, options.questionnaire_id, lang, options.region
        )
        step = shown(opened, lang) if options.questionnaire_id else None
        return OpenedCase(case_id=opened.case_id, step=step)

    @api.post(
        "/cases/{case_id}/triage",
        status_code=status.HTTP_201_CREATED,
        responses=problems(404, 409),
    )
    async def start(
        case_id: UUID, body: StartTriage, caller: Patient, accept_language: AcceptLanguage = None
    ) -> Step:
        """Start the questionnaire; on a waiting case this is a re-triage (revision + 1)."""
        lang = chosen(body.language, accept_language)
        started = await service.start(ctx, caller, case_id, body.questionnaire_id, lang)
        return shown(started, lang)

    @api.get("/cases/{case_id}/triage", responses=problems(404))
    async def step(
        case_id: UUID,
        caller: Patient,
        language: Language = None,
        accept_language: AcceptLanguage = None,
    ) -> Step:
        """Where the patient is: resume here after reconnecting (in the language triage was
        started in, unless another is asked for)."""
        lang = asked(language, accept_language)
        return shown(await service.progress(ctx, caller, case_id), lang)

    @api.post("/cases/{case_id}/triage/answers", responses=problems(404, 409))
    async def answer(
        case_id: UUID, body: AnswerIn, caller: Patient, accept_language: AcceptLanguage = None
    ) -> Step:
        """Answer the current question; the answer that reaches an outcome completes triage."""
        lang = asked(None, accept_language)
        return shown(await service.answer(ctx, caller, case_id, body.question_id, body.value), lang)

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
        case_id: UUID,
        caller: Patient,
        language: Language = None,
        accept_language: AcceptLanguage = None,
    ) -> OutcomeView:
        """The latest completed triage of the case."""
        lang = asked(language, accept_language)
        found = shown(await service.outcome(ctx, caller, case_id), lang)
        assert found.outcome is not None
        return found.outcome

    return api
