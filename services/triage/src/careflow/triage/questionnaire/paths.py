"""Walking every path of a questionnaire: for lint's tests, the test suite and the benchmark.

Each question is answered with representative answers (every option, every
number threshold and its neighbours), for representative patients (every age
and sex a branch looks at), so that between them the walks take every branch.
Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from careflow.triage.questionnaire.engine import evaluate
from careflow.triage.questionnaire.model import (
    MAX_AGE_YEARS,
    MIN_AGE_YEARS,
    RANGE_OPERATORS,
    AgeTest,
    AnswerTest,
    AnswerValue,
    OutcomeDef,
    PatientContext,
    Question,
    QuestionKind,
    Questionnaire,
    Sex,
)


def thresholds(questionnaire: Questionnaire) -> tuple[dict[str, set[float]], set[int]]:
    """Every number each question's answer and the patient's age is compared with."""
    numbers: dict[str, set[float]] = {}
    ages: set[int] = set()
    for q in questionnaire.questions.values():
        conditions = [rf.when for rf in q.red_flags] + [b.when for b in q.branches if b.when]
        for c in conditions:
            for part in c.parts():
                if isinstance(part, AnswerTest) and part.op in RANGE_OPERATORS:
                    numbers.setdefault(part.question, set()).add(float(part.operand))
                elif isinstance(part, AgeTest):
                    ages.add(part.years)
    return numbers, ages


def representative_answers(
    question: Question, cut_points: Iterable[float] = (), max_subsets: int = 64
) -> list[AnswerValue]:
    """Answers that between them take every branch a question can take.

    Choices: every option (every subset, for multiple choice, while there are
    at most ``max_subsets``). Numbers: the range's ends and each cut point
    with its neighbours. Free text: one text (conditions never read it).
    """
    kind = question.kind
    if kind is QuestionKind.YES_NO:
        return [True, False]
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.BODY_SITE):
        return list(question.option_ids)
    if kind is QuestionKind.MULTIPLE_CHOICE:
        ids = question.option_ids
        if 2 ** len(ids) <= max_subsets:
            return [
                [o for i, o in enumerate(ids) if mask >> i & 1] for mask in range(2 ** len(ids))
            ]
        return [[], *([o] for o in ids), list(ids)]
    if kind is QuestionKind.NUMBER:
        assert question.minimum is not None and question.maximum is not None
        step = 1.0 if question.integer else 0.1
        values = {question.minimum, question.maximum}
        for t in cut_points:
            values.update({t - step, t, t + step})
        fitting = sorted(v for v in values if question.minimum <= v <= question.maximum)
        return [int(v) if question.integer else round(v, 3) for v in fitting]
    return ["text"]


def representative_patients(questionnaire: Questionnaire) -> list[PatientContext]:
    """Patients that between them take every age and sex branch."""
    _, ages = thresholds(questionnaire)
    values = {MIN_AGE_YEARS, 40, 90}
    for a in ages:
        values.update({a - 1, a})
    return [
        PatientContext(a, s)
        for a in sorted(v for v in values if MIN_AGE_YEARS <= v <= MAX_AGE_YEARS)
        for s in Sex
    ]


@dataclass(frozen=True)
class WalkedPath:
    """One walk from the start to an outcome."""

    patient: PatientContext
    answers: tuple[tuple[str, AnswerValue], ...]
    outcome: OutcomeDef
    rules_fired: tuple[str, ...]
    red_flag: bool


class TooManyPaths(RuntimeError):
    """A questionnaire has more paths than an exhaustive walk should take."""


def walk(
    questionnaire: Questionnaire,
    patient: PatientContext,
    limit: int = 200_000,
    choose: Callable[[Question, list[AnswerValue]], Sequence[AnswerValue]] | None = None,
) -> Iterable[WalkedPath]:
    """Every path from the start, answering each question with its representative answers.

    ``choose`` narrows the answers tried at each question (random walks);
    ``TooManyPaths`` is raised past ``limit`` paths.
    """
    numbers, _ = thresholds(questionnaire)
    produced = 0

    def go(
        qid: str,
        answers: dict[str, AnswerValue],
        trail: tuple[tuple[str, AnswerValue], ...],
        rules: tuple[str, ...],
    ) -> Iterable[WalkedPath]:
        nonlocal produced
        question = questionnaire.questions[qid]
        candidates = representative_answers(question, numbers.get(qid, ()))
        for value in choose(question, candidates) if choose else candidates:
            answers[qid] = value
            result = evaluate(questionnaire, question, answers, patient)
            here = (*trail, (qid, value))
            if result.outcome is not None:
                produced += 1
                if produced > limit:
                    raise TooManyPaths(f"{questionnaire.id}: more than {limit} paths")
                yield WalkedPath(
                    patient, here, result.outcome, (*rules, *result.rules_fired), result.red_flag
                )
            else:
                assert result.next_question is not None
                yield from go(result.next_question, answers, here, (*rules, *result.rules_fired))
            del answers[qid]

    yield from go(questionnaire.start, {}, (), ())
