"""Answering one question: whether an answer fits it, and what it leads to. Pure.

``check_answer`` refuses an answer that does not fit its question, with the
reason; ``evaluate`` decides what follows an answered question: red flags first
(the most urgent that fires ends the questionnaire), then the first branch whose
condition holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from careflow.kit.domain import Invalid
from careflow.triage.messages import said
from careflow.triage.questionnaire.model import (
    AnswerValue,
    OutcomeDef,
    PatientContext,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
)


def check_answer(question: Question, value: Any) -> AnswerValue:
    """The answer if it fits the question; ``Invalid`` (422) with the reason otherwise."""
    q = question.id
    kind = question.kind
    if kind is QuestionKind.YES_NO:
        if not isinstance(value, bool):
            raise Invalid(f"{q} must be answered yes or no (true or false)", said("answer_yes_no"))
        return value
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.BODY_SITE):
        if not isinstance(value, str):
            raise Invalid(f"{q} must be answered with one option id", said("answer_one_option"))
        if value not in question.option_ids:
            raise Invalid(
                f"{q}: unknown option {value!r}; choose one of {', '.join(question.option_ids)}",
                said("answer_one_option"),
            )
        return value
    if kind is QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{q} must be answered with a list of option ids", said("answer_options"))
        for v in value:
            if v not in question.option_ids:
                raise Invalid(
                    f"{q}: unknown option {v!r}; choose from {', '.join(question.option_ids)}",
                    said("answer_options"),
                )
        if len(set(value)) != len(value):
            raise Invalid(f"{q}: an option was chosen twice", said("option_twice"))
        # The order the patient clicked in means nothing; keep the questionnaire's.
        return [o for o in question.option_ids if o in value]
    if kind is QuestionKind.NUMBER:
        assert question.minimum is not None and question.maximum is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{q} must be answered with a number", said("answer_number"))
        if question.integer and not float(value).is_integer():
            raise Invalid(f"{q} must be a whole number", said("answer_whole_number"))
        if not question.minimum <= value <= question.maximum:
            unit = question.unit.get("en", "") if question.unit else ""
            raise Invalid(
                f"{q} must be from {question.minimum:g} to {question.maximum:g}"
                + (f" {unit}" if unit else ""),
                said("answer_range", min=f"{question.minimum:g}", max=f"{question.maximum:g}"),
            )
        return int(value) if question.integer else value
    if not isinstance(value, str):
        raise Invalid(f"{q} must be answered with text", said("answer_text"))
    if len(value) > question.max_length:
        raise Invalid(
            f"{q}: at most {question.max_length} characters",
            said("answer_too_long", max=question.max_length),
        )
    return value


@dataclass(frozen=True)
class Evaluation:
    """What one answer leads to: the next question, or an outcome; and which rules fired."""

    next_question: str | None
    outcome: OutcomeDef | None
    rules_fired: tuple[str, ...]
    red_flag: bool = False


def evaluate(
    questionnaire: Questionnaire,
    question: Question,
    answers: Mapping[str, AnswerValue],
    patient: PatientContext,
) -> Evaluation:
    """Decide what follows ``question``, whose (checked) answer is already in ``answers``.

    Red flags come first and the most urgent one that fires wins; then the
    first branch whose condition holds.
    """
    fired = [rf for rf in question.red_flags if rf.when.holds(answers, patient)]
    if fired:
        worst = min(fired, key=lambda rf: questionnaire.outcomes[rf.outcome].urgency)
        return Evaluation(
            None, questionnaire.outcomes[worst.outcome], tuple(rf.rule for rf in fired), True
        )
    for branch in question.branches:
        if branch.when is None or branch.when.holds(answers, patient):
            rules = () if branch.when is None else (branch.rule,)
            if branch.goto in questionnaire.outcomes:
                return Evaluation(None, questionnaire.outcomes[branch.goto], rules)
            return Evaluation(branch.goto, None, rules)
    # lint guarantees a default branch; a questionnaire that reaches here is broken
    raise QuestionnaireError(f"{questionnaire.source}: {question.id}: no branch applies")
