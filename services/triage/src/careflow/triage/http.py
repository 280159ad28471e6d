"""Triage's HTTP API: open a case, answer its questionnaire one question at a time, see the outcome.

Every command folds the case's stream, lets the domain decide, appends the
events and updates the read model in one transaction, then answers with the
step the patient is at, so a client that reconnects simply asks for it again.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, Depends, Query, status
from pydantic import BaseModel, Field

from careflow.contracts import Answer, Event, QueueRef, Recommendation, Urgency
from careflow.kit.auth import Principal, require
from careflow.kit.db import Database
from careflow.kit.domain import Conflict, Invalid, NotFound
from careflow.triage import adapters, domain
from careflow.triage.questionnaire import Catalogue, Question, QuestionKind, Questionnaire

Language = Annotated[str, Query(min_length=2, max_length=8, description="sv or en")]


class OptionView(BaseModel):
    id: str
    text: str


class QuestionView(BaseModel):
    id: str
    kind: QuestionKind
    text: str
    options: list[OptionView] = Field(default_factory=list)
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False
    max_length: int | None = None


class QuestionnaireRef(BaseModel):
    id: str
    version: str
    hash: str
    kind: str
    title: str
    notice: str
    sample_content: bool


class OutcomeView(BaseModel):
    revision: int
    urgency: Urgency
    colour: str
    recommendation: Recommendation
    target_queue: QueueRef | None
    rules_fired: tuple[str, ...]
    text: str | None
    advice: str | None


class Step(BaseModel):
    """Where the patient is: the question to answer now, or the outcome."""

    case_id: UUID
    status: domain.Status
    revision: int = Field(description="The revision the triage in progress will complete as.")
    questionnaire: QuestionnaireRef | None
    question: QuestionView | None
    answers: list[Answer]
    can_go_back: bool
    expires_at: datetime | None
    outcome: OutcomeView | None = Field(description="The latest completed triage, if any.")


class OpenCase(BaseModel):
    questionnaire_id: str | None = Field(
        default=None, description="Start this questionnaire at once (see GET /questionnaires)."
    )
    language: str = Field(default="sv", min_length=2, max_length=8)


class StartTriage(BaseModel):
    questionnaire_id: str
    language: str = Field(default="sv", min_length=2, max_length=8)


class OpenedCase(BaseModel):
    case_id: UUID
    step: Step | None = None


class AnswerIn(BaseModel):
    question_id: str = Field(min_length=1, max_length=100)
    value: Any = Field(
        description="true/false, an option id, a list of option ids, a number, or text."
    )


def _ref(q: Questionnaire, language: str) -> QuestionnaireRef:
    return QuestionnaireRef(
        id=q.id,
        version=q.version,
        hash=q.hash,
        kind=q.kind.value,
        title=q.text(q.title, language),
        notice=q.text(q.notice, language),
        sample_content=q.sample_content,
    )


def question_view(q: Questionnaire, question: Question, language: str) -> QuestionView:
    """A question as the patient sees it, in ``language``."""
    return QuestionView(
        id=question.id,
        kind=question.kind,
        text=q.text(question.text, language),
        options=[OptionView(id=o.id, text=q.text(o.text, language)) for o in question.options],
        unit=q.text(question.unit, language) or None,
        min=question.minimum,
        max=question.maximum,
        integer=question.integer,
        max_length=question.max_length if question.kind is QuestionKind.FREE_TEXT else None,
    )


def step_view(
    state: domain.CaseTriage,
    catalogue: Catalogue,
    language: str | None,
    now: datetime,
    abandon_after: timedelta,
) -> Step:
    """The patient's current step, as far as the state tells it."""
    assert state.case_id is not None
    session = state.session
    lang = language or (session.language if session else "sv")
    status_ = state.status
    if domain.is_expired(state, now, abandon_after):
        status_ = domain.Status.ABANDONED
    questionnaire = (
        catalogue.get(session.questionnaire_id, session.questionnaire_version) if session else None
    )
    question = None
    if (
        status_ is domain.Status.IN_PROGRESS
        and session is not None
        and session.current is not None
        and questionnaire is not None
        and session.current in questionnaire.questions
    ):
        question = question_view(questionnaire, questionnaire.questions[session.current], lang)
    outcome = None
    if state.completion is not None:
        c = state.completion
        done_by = catalogue.get(c.questionnaire_id, c.questionnaire_version)
        outcome_def = done_by.outcomes.get(c.outcome_id or "") if done_by else None
        outcome = OutcomeView(
            revision=c.revision,
            urgency=c.urgency,
            colour=c.urgency.name.lower(),
            recommendation=c.recommendation,
            target_queue=c.target_queue,
            rules_fired=c.rules_fired,
            text=done_by.text(outcome_def.text, lang) if done_by and outcome_def else None,
            advice=(done_by.text(outcome_def.advice, lang) or None)
            if done_by and outcome_def and outcome_def.advice
            else c.advice,
        )
    in_progress = status_ is domain.Status.IN_PROGRESS and session is not None
    return Step(
        case_id=state.case_id,
        status=status_,
        revision=session.revision if in_progress and session else state.revision + 1,
        questionnaire=_ref(questionnaire, lang) if questionnaire else None,
        question=question,
        answers=[Answer(question_id=q, value=v) for q, v in session.answers]
        if in_progress and session
        else [],
        can_go_back=bool(in_progress and session and session.answers),
        expires_at=session.last_activity_at + abandon_after
        if in_progress and session and session.last_activity_at
        else None,
        outcome=outcome,
    )


def router(
    db: Database,
    token_secret: str,
    catalogue: Catalogue,
    abandon_after: timedelta = domain.DEFAULT_ABANDON_AFTER,
) -> APIRouter:
    """Triage's routes; ``catalogue`` holds the linted questionnaires."""
    api = APIRouter(tags=["triage"])
    patient = Annotated[Principal, Depends(require("patient"))]

    def current(questionnaire_id: str) -> Questionnaire:
        q = catalogue.get(questionnaire_id)
        if q is None:
            raise NotFound(f"no questionnaire {questionnaire_id!r}")
        return q

    def of_session(state: domain.CaseTriage) -> Questionnaire:
        s = state.session
        if state.status is not domain.Status.IN_PROGRESS or s is None:
            raise Conflict("no triage is in progress on this case; start one")
        q = catalogue.get(s.questionnaire_id, s.questionnaire_version)
        if q is None:
            raise Conflict("the questionnaire changed since this triage started; start it again")
        return q

    async def run(
        case_id: UUID,
        decide: Callable[[domain.CaseTriage], Sequence[Event]],
        language: str | None = None,
    ) -> Step:
        async with db.transaction() as conn:
            state, new = await adapters.AGGREGATE.execute(conn, adapters.stream_id(case_id), decide)
            await adapters.project(conn, new)
        return step_view(state, catalogue, language, datetime.now(UTC), abandon_after)

    @api.get("/questionnaires")
    async def questionnaires(language: Language = "sv") -> list[QuestionnaireRef]:
        """Every questionnaire offered: the complaints and the errands."""
        return [_ref(q, language) for q in catalogue.by_id.values()]

    @api.get("/questionnaires/{questionnaire_id}")
    async def questionnaire(questionnaire_id: str, language: Language = "sv") -> dict[str, Any]:
        """One questionnaire's questions, in ``language``."""
        q = current(questionnaire_id)
        return {
            **_ref(q, language).model_dump(),
            "start": q.start,
            "questions": [
                question_view(q, qu, language).model_dump() for qu in q.questions.values()
            ],
        }

    @api.post("/cases", status_code=status.HTTP_201_CREATED)
    async def open_case(
        caller: patient, body: Annotated[OpenCase | None, Body()] = None
    ) -> OpenedCase:
        """Open a case for oneself, or for the child one acts for; optionally start triage."""
        if not caller.personal_identity_number:
            raise Invalid("the token carries no personal identity number")
        options = body or OpenCase()
        chosen = current(options.questionnaire_id) if options.questionnaire_id else None
        case_id = uuid4()
        person = domain.Patient(
            subject_id=caller.acting_for or caller.subject_id,
            personal_identity_number=caller.personal_identity_number,
            region=caller.region,
            acting_guardian_id=caller.subject_id if caller.acting_for else None,
        )

        def decide(state: domain.CaseTriage) -> list[Event]:
            now = datetime.now(UTC)
            events = domain.decide_open(state, case_id, person, now)
            if chosen is not None:
                opened = domain.evolve(state, events[0])
                events += domain.decide_start(
                    opened, chosen, options.language, caller.subject_id, now, abandon_after
                )
            return events

        step = await run(case_id, decide, options.language)
        return OpenedCase(case_id=case_id, step=step if chosen else None)

    @api.post("/cases/{case_id}/triage", status_code=status.HTTP_201_CREATED)
    async def start(case_id: UUID, body: StartTriage, caller: patient) -> Step:
        """Start the questionnaire; on a waiting case this is a re-triage (revision + 1)."""
        chosen = current(body.questionnaire_id)
        return await run(
            case_id,
            lambda s: domain.decide_start(
                s, chosen, body.language, caller.subject_id, datetime.now(UTC), abandon_after
            ),
            body.language,
        )

    @api.get("/cases/{case_id}/triage")
    async def step(case_id: UUID, caller: patient, language: Language | None = None) -> Step:
        """Where the patient is: resume here after reconnecting."""
        async with db.transaction() as conn:
            state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
        if not domain.may_see(state, caller.subject_id):
            raise NotFound("no such case")
        return step_view(state, catalogue, language, datetime.now(UTC), abandon_after)

    @api.post("/cases/{case_id}/triage/answers")
    async def answer(case_id: UUID, body: AnswerIn, caller: patient) -> Step:
        """Answer the current question; the answer that reaches an outcome completes triage."""

        def decide(state: domain.CaseTriage) -> list[Event]:
            # The stranger check comes before the questionnaire lookup, so both 404 alike.
            if not domain.may_see(state, caller.subject_id):
                raise NotFound("no such case")
            return domain.decide_answer(
                state,
                of_session(state),
                body.question_id,
                body.value,
                caller.subject_id,
                datetime.now(UTC),
                abandon_after,
            )

        return await run(case_id, decide)

    @api.post("/cases/{case_id}/triage/back")
    async def back(case_id: UUID, caller: patient) -> Step:
        """Go back one question."""
        return await run(
            case_id,
            lambda s: domain.decide_back(s, caller.subject_id, datetime.now(UTC), abandon_after),
        )

    @api.delete("/cases/{case_id}/triage")
    async def give_up(case_id: UUID, caller: patient) -> Step:
        """Stop answering; an earlier completed triage of the case still stands."""
        return await run(
            case_id, lambda s: domain.decide_give_up(s, caller.subject_id, datetime.now(UTC))
        )

    @api.get("/cases/{case_id}/outcome")
    async def outcome(
        case_id: UUID, caller: patient, language: Language | None = None
    ) -> OutcomeView:
        """The latest completed triage of the case."""
        found = await step(case_id, caller, language)
        if found.outcome is None:
            raise NotFound("this case has no completed triage yet")
        return found.outcome

    return api
