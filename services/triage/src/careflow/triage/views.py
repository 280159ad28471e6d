"""What triage's HTTP API reads and answers: request bodies, and the representations of
questionnaires, questions and a case's step, shaped from the domain's state.

A question says what its answer must be (``kind``, ``answer_with`` and its
``options``), and the answer body's ``value`` documents each shape it may take.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from careflow.contracts import Answer, QueueRef, Recommendation, Urgency
from careflow.triage import domain
from careflow.triage.questionnaire import Catalogue, Question, QuestionKind, Questionnaire

# --- what an answer is --------------------------------------------------------------------


class AnswerShape(StrEnum):
    """The JSON an answer's ``value`` must be, by the question's kind."""

    BOOLEAN = "boolean"
    OPTION_ID = "option_id"
    OPTION_IDS = "option_ids"
    NUMBER = "number"
    TEXT = "text"


ANSWER_SHAPE: dict[QuestionKind, AnswerShape] = {
    QuestionKind.YES_NO: AnswerShape.BOOLEAN,
    QuestionKind.SINGLE_CHOICE: AnswerShape.OPTION_ID,
    QuestionKind.BODY_SITE: AnswerShape.OPTION_ID,
    QuestionKind.MULTIPLE_CHOICE: AnswerShape.OPTION_IDS,
    QuestionKind.NUMBER: AnswerShape.NUMBER,
    QuestionKind.FREE_TEXT: AnswerShape.TEXT,
}

YesNo = Annotated[
    bool,
    Field(title="yes_no", description="A yes_no question: true for yes, false for no."),
]
OptionIdOrText = Annotated[
    str,
    Field(
        title="single_choice, body_site or free_text",
        description="A single_choice or body_site question: one of the question's option ids "
        "(options[].id). A free_text question: the text, at most max_length characters.",
    ),
]
OptionIds = Annotated[
    list[str],
    Field(
        title="multiple_choice",
        description="A multiple_choice question: the ids of every chosen option "
        "(options[].id), each once, in any order; an empty list when none applies.",
    ),
]
WholeNumber = Annotated[
    int,
    Field(title="number", description="A number question: from min to max."),
]
Number = Annotated[
    float,
    Field(
        title="number (with decimals)",
        description="A number question whose integer is false: from min to max.",
    ),
]


class AnswerIn(BaseModel):
    """One answer to the current question."""

    question_id: str = Field(min_length=1, max_length=100, description="The current question.")
    value: YesNo | WholeNumber | Number | OptionIdOrText | OptionIds = Field(
        description="Depends on the question's kind (its answer_with says which): a boolean "
        "for yes_no; one option id for single_choice and body_site; a list of option ids for "
        "multiple_choice; a number for number; text for free_text. Anything else, an unknown "
        "option or a number out of range is refused with 422 and the reason."
    )


class OpenCase(BaseModel):
    """Open a case; optionally start a questionnaire at once."""

    questionnaire_id: str | None = Field(
        default=None, description="Start this questionnaire at once (see GET /questionnaires)."
    )
    language: str | None = Field(
        default=None,
        min_length=2,
        max_length=8,
        description="sv, en, ar, so, fa or fi; default: the Accept-Language header's, else sv.",
    )
    region: str | None = Field(
        default=None,
        max_length=64,
        description="Seek care in another region than your own, where its service allows it "
        "(GET /triage/regions); default: your own.",
    )


class RegionRule(BaseModel):
    region: str
    patients_from_other_regions: bool


class StartTriage(BaseModel):
    """Start a questionnaire on a case."""

    questionnaire_id: str
    language: str | None = Field(
        default=None,
        min_length=2,
        max_length=8,
        description="sv, en, ar, so, fa or fi; default: the Accept-Language header's, else sv.",
    )


# --- what is shown ------------------------------------------------------------------------


class OptionView(BaseModel):
    id: str = Field(description="What an answer names to choose this option.")
    text: str


class QuestionView(BaseModel):
    """A question as the patient sees it, with what its answer must be."""

    id: str
    kind: QuestionKind = Field(
        description="yes_no, single_choice, multiple_choice, body_site, number or free_text."
    )
    answer_with: AnswerShape = Field(
        description="The JSON the answer's value must be: boolean (yes_no), option_id "
        "(single_choice, body_site), option_ids (multiple_choice), number, or text (free_text)."
    )
    text: str
    options: list[OptionView] = Field(
        default_factory=list,
        description="The allowed option ids and their texts, for choice and body-site "
        "questions. A yes_no question lists the texts of yes and no: answer it true or false.",
    )
    unit: str | None = None
    min: float | None = Field(default=None, description="A number question's lowest answer.")
    max: float | None = Field(default=None, description="A number question's highest answer.")
    integer: bool = Field(default=False, description="A number question takes whole numbers.")
    max_length: int | None = Field(default=None, description="A free_text answer's longest.")


class QuestionnaireRef(BaseModel):
    id: str
    version: str
    hash: str
    kind: str
    title: str
    notice: str
    sample_content: bool


class QuestionnaireView(QuestionnaireRef):
    """One questionnaire with all its questions."""

    start: str = Field(description="The first question's id.")
    questions: list[QuestionView]


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


class OpenedCase(BaseModel):
    case_id: UUID
    step: Step | None = None


def questionnaire_ref(q: Questionnaire, language: str) -> QuestionnaireRef:
    """A questionnaire as listed, in ``language``."""
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
        answer_with=ANSWER_SHAPE[question.kind],
        text=q.text(question.text, language),
        options=[OptionView(id=o.id, text=q.text(o.text, language)) for o in question.options],
        unit=q.text(question.unit, language) or None,
        min=question.minimum,
        max=question.maximum,
        integer=question.integer,
        max_length=question.max_length if question.kind is QuestionKind.FREE_TEXT else None,
    )


def questionnaire_view(q: Questionnaire, language: str) -> QuestionnaireView:
    """A questionnaire with every question, in ``language``."""
    return QuestionnaireView(
        **questionnaire_ref(q, language).model_dump(),
        start=q.start,
        questions=[question_view(q, question, language) for question in q.questions.values()],
    )


def outcome_view(completion: domain.Completion, catalogue: Catalogue, language: str) -> OutcomeView:
    """The latest completed triage, with its texts from the questionnaire that decided it."""
    c = completion
    done_by = catalogue.get(c.questionnaire_id, c.questionnaire_version)
    outcome_def = done_by.outcomes.get(c.outcome_id or "") if done_by else None
    return OutcomeView(
        revision=c.revision,
        urgency=c.urgency,
        colour=c.urgency.name.lower(),
        recommendation=c.recommendation,
        target_queue=c.target_queue,
        rules_fired=c.rules_fired,
        text=done_by.text(outcome_def.text, language) if done_by and outcome_def else None,
        advice=(done_by.text(outcome_def.advice, language) or None)
        if done_by and outcome_def and outcome_def.advice
        else c.advice,
    )


def step_view(
    state: domain.CaseTriage,
    catalogue: Catalogue,
    language: str | None,
    now: datetime,
    abandon_after: timedelta,
) -> Step:
    """The patient's current step, as far as the state tells it at ``now``."""
    assert state.case_id is not None
    session = state.session
    lang = language or (session.language if session else "sv")
    status = state.status
    if domain.is_expired(state, now, abandon_after):
        status = domain.Status.ABANDONED
    questionnaire = (
        catalogue.get(session.questionnaire_id, session.questionnaire_version) if session else None
    )
    in_progress = status is domain.Status.IN_PROGRESS and session is not None
    question = None
    if (
        in_progress
        and session is not None
        and questionnaire is not None
        and session.current in questionnaire.questions
    ):
        assert session.current is not None
        question = question_view(questionnaire, questionnaire.questions[session.current], lang)
    return Step(
        case_id=state.case_id,
        status=status,
        revision=session.revision if in_progress and session else state.revision + 1,
        questionnaire=questionnaire_ref(questionnaire, lang) if questionnaire else None,
        question=question,
        answers=[Answer(question_id=q, value=v) for q, v in session.answers]
        if in_progress and session
        else [],
        can_go_back=bool(in_progress and session and session.answers),
        expires_at=session.last_activity_at + abandon_after
        if in_progress and session and session.last_activity_at
        else None,
        outcome=outcome_view(state.completion, catalogue, lang) if state.completion else None,
    )
