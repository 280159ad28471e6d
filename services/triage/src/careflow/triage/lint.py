"""The safety net under questionnaires: nobody gets stuck, nothing is missing.

``lint`` checks one questionnaire and reports every problem it finds: every
path ends in an outcome (every list of branches ends with an unconditional
one), no question or outcome is unreachable, there is no cycle, every
reference (start, branch target, red-flag outcome, the question, option and
number a condition tests) exists and is answered before it is tested, every
text exists in every language (Swedish, English, Arabic, Somali, Persian and
Finnish), every Swedish text reads plainly (LIX at most 50; the aim is 40),
outcomes agree with the urgency scale, and red flags are the most urgent
outcomes of their questionnaire. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from careflow.contracts import Recommendation, Urgency
from careflow.kit.readability import LIX_LIMIT, lix
from careflow.triage.questionnaire import (
    DEFAULT_DIRECTORY,
    MAX_AGE_YEARS,
    MIN_AGE_YEARS,
    RANGE_OPERATORS,
    REQUIRED_LANGUAGES,
    AgeTest,
    AnswerTest,
    Condition,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
    QuestionnaireKind,
    Text,
    load_file,
    questionnaire_files,
)

#: The recommendation each urgency means for a complaint (the five-level scale).
RECOMMENDATION_FOR: Mapping[Urgency, Recommendation] = {
    Urgency.RED: Recommendation.CALL_112,
    Urgency.ORANGE: Recommendation.CALL_1177_OR_EMERGENCY,
    Urgency.YELLOW: Recommendation.DIGITAL_CONTACT,
    Urgency.GREEN: Recommendation.BOOK_VISIT,
    Urgency.BLUE: Recommendation.SELF_CARE,
}
QUEUED = (Recommendation.DIGITAL_CONTACT, Recommendation.BOOK_VISIT)
#: Errands are not medical: in a queue they come after every medical case.
ERRAND_URGENCY = Urgency.BLUE

#: Where a check reports a problem: (where in the file, what is wrong).
_ProblemSink = Callable[[str, str], None]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a questionnaire: in which file, where, and what."""

    source: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.message}"


def lint(q: Questionnaire) -> list[Problem]:
    """Every problem of one (parsed) questionnaire; empty when it is sound."""
    problems: list[Problem] = []

    def problem(where: str, message: str) -> None:
        problems.append(Problem(q.source or q.id, where, message))

    _check_texts(q, problem)
    nodes = set(q.questions) | set(q.outcomes)
    for shared in sorted(set(q.questions) & set(q.outcomes)):
        problem(f"outcomes.{shared}", "a question and an outcome share this id")
    if q.start not in q.questions:
        problem("start", f"names no question: {q.start!r}")

    edges: dict[str, list[str]] = {qid: [] for qid in q.questions}
    for qid, question in q.questions.items():
        where = f"questions.{qid}"
        for i, rf in enumerate(question.red_flags):
            if rf.outcome not in q.outcomes:
                problem(f"{where}.red_flags[{i}].outcome", f"no such outcome: {rf.outcome!r}")
            else:
                edges[qid].append(rf.outcome)
        for i, branch in enumerate(question.branches):
            if branch.goto not in nodes:
                problem(f"{where}.next[{i}]", f"goes to nothing: {branch.goto!r}")
            else:
                edges[qid].append(branch.goto)
            if branch.when is None and i < len(question.branches) - 1:
                problem(f"{where}.next[{i + 1}]", "unreachable: an earlier branch always applies")
        if question.branches and question.branches[-1].when is not None:
            problem(
                f"{where}.next",
                "the last branch has a condition: a patient could be left without a next step",
            )

    cycle = _find_cycle(q.start, edges)
    if cycle:
        problem("questions", "a cycle: " + " -> ".join(cycle))
    reachable = _reachable(q.start, edges) if q.start in q.questions else set()
    for qid in q.questions:
        if qid not in reachable:
            problem(f"questions.{qid}", "unreachable from the start")
    for oid in q.outcomes:
        if oid not in reachable:
            problem(f"outcomes.{oid}", "unreachable: no path ends here")

    if not cycle and q.start in q.questions:
        answered_before = _answered_on_every_path(q, edges)
        for qid, question in q.questions.items():
            if qid not in answered_before:
                continue
            known = answered_before[qid] | {qid}
            where = f"questions.{qid}"
            for i, rf in enumerate(question.red_flags):
                _check_condition(q, rf.when, known, f"{where}.red_flags[{i}].when", problem)
                for part in rf.when.parts():
                    if isinstance(part, AnswerTest) and part.question != qid:
                        problem(
                            f"{where}.red_flags[{i}].when",
                            "a red flag may test only its own question's answer",
                        )
            for i, branch in enumerate(question.branches):
                if branch.when is not None:
                    _check_condition(q, branch.when, known, f"{where}.next[{i}].when", problem)

    _check_outcomes(q, problem)
    return problems


def _check_texts(q: Questionnaire, problem: _ProblemSink) -> None:
    for lang in REQUIRED_LANGUAGES:
        if lang not in q.languages:
            problem("languages", f"must include {lang!r}")

    def texts(where: str, text: Text | None, required: bool = True) -> None:
        if text is None or (not text and not required):
            return
        for lang in q.languages:
            if not (text.get(lang) or "").strip():
                problem(where, f"no text in {lang!r}")
        swedish = lix(text.get("sv") or "")
        if swedish.judged and swedish.value > LIX_LIMIT:
            problem(
                where,
                f"the Swedish text is hard to read: LIX {swedish.value:.0f} (at most "
                f"{LIX_LIMIT:.0f}; aim for 40): shorter sentences, shorter words",
            )

    texts("title", q.title)
    texts("notice", q.notice)
    for qid, question in q.questions.items():
        where = f"questions.{qid}"
        texts(f"{where}.text", question.text)
        texts(f"{where}.unit", question.unit, required=False)
        if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            for option in question.options:
                texts(f"{where}.options.{option.id}", option.text)
    for oid, outcome in q.outcomes.items():
        texts(f"outcomes.{oid}.text", outcome.text)
        texts(f"outcomes.{oid}.advice", outcome.advice)


def _find_cycle(start: str, edges: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle among the questions (depth first from every question), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(edges, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in edges.get(node, []):
            if nxt not in edges:
                continue  # an outcome: a leaf
            if colour[nxt] == GREY:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == WHITE and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = BLACK
        return None

    for node in [start, *edges] if start in edges else list(edges):
        if colour[node] == WHITE and (found := visit(node)):
            return found
    return None


def _reachable(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _answered_on_every_path(
    q: Questionnaire, edges: Mapping[str, list[str]]
) -> dict[str, set[str]]:
    """For each reachable question, the questions answered on every path to it (acyclic)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        seen.add(node)
        for nxt in edges.get(node, []):
            if nxt in q.questions and nxt not in seen:
                visit(nxt)
        order.append(node)

    visit(q.start)
    order.reverse()  # topological: every question before those it leads to
    before: dict[str, set[str]] = {q.start: set()}
    for node in order:
        for nxt in edges[node]:
            if nxt not in q.questions:
                continue
            via = before[node] | {node}
            before[nxt] = before[nxt] & via if nxt in before else via
    return before


def _check_condition(
    q: Questionnaire, condition: Condition, known: set[str], where: str, problem: _ProblemSink
) -> None:
    for part in condition.parts():
        if isinstance(part, AgeTest):
            if not MIN_AGE_YEARS <= part.years <= MAX_AGE_YEARS:
                problem(where, f"age {part.years} is outside {MIN_AGE_YEARS}-{MAX_AGE_YEARS}")
            continue
        if not isinstance(part, AnswerTest):
            continue
        target = q.questions.get(part.question)
        if target is None:
            problem(where, f"tests an answer to no such question: {part.question!r}")
            continue
        if part.question not in known:
            problem(where, f"tests {part.question!r}, which is not answered on every path here")
        problem_text = _operator_problem(target, part)
        if problem_text:
            problem(where, problem_text)


def _operator_problem(question: Question, test: AnswerTest) -> str | None:
    kind = question.kind
    name = question.id
    if kind is QuestionKind.FREE_TEXT:
        return f"free text ({name}) must not decide a path"
    if test.op in RANGE_OPERATORS:
        if kind is not QuestionKind.NUMBER:
            return f"{test.op} needs a number question; {name} is {kind.value}"
        assert question.minimum is not None and question.maximum is not None
        if not question.minimum <= test.operand <= question.maximum:
            return f"{test.op} {test.operand} is outside {name}'s range"
        return None
    if kind is QuestionKind.NUMBER:
        return f"{test.op} does not apply to the number question {name}"
    if test.op == "includes":
        if kind is not QuestionKind.MULTIPLE_CHOICE:
            return f"includes needs a multiple-choice question; {name} is {kind.value}"
        return (
            None
            if test.operand in question.option_ids
            else f"{name} has no option {test.operand!r}"
        )
    if kind is QuestionKind.MULTIPLE_CHOICE:
        return f"{test.op} does not apply to the multiple-choice question {name}; use includes"
    operands = test.operand if test.op == "in" else [test.operand]
    for operand in operands:
        if kind is QuestionKind.YES_NO:
            if not isinstance(operand, bool):
                return f"{name} is yes/no: test it with true or false, not {operand!r}"
        elif operand not in question.option_ids:
            return f"{name} has no option {operand!r}"
    return None


def _check_outcomes(q: Questionnaire, problem: _ProblemSink) -> None:
    red_flag_outcomes = {rf.outcome for qu in q.questions.values() for rf in qu.red_flags}
    others = [o.urgency for oid, o in q.outcomes.items() if oid not in red_flag_outcomes]
    for oid, outcome in q.outcomes.items():
        where = f"outcomes.{oid}"
        rec = outcome.recommendation
        queued = rec in QUEUED
        if queued and outcome.skill is None:
            problem(where, f"{rec.value} needs a queue")
        if not queued and outcome.skill is not None:
            problem(where, f"{rec.value} must not queue the patient")
        if rec is Recommendation.SELF_CARE and outcome.advice is None:
            problem(where, "self care needs advice text")
        if q.kind is QuestionnaireKind.ERRAND and queued:
            if outcome.urgency is not ERRAND_URGENCY:
                problem(
                    where,
                    "an errand is queued with the non-medical urgency "
                    f"{ERRAND_URGENCY.name.lower()}",
                )
        elif RECOMMENDATION_FOR[outcome.urgency] is not rec:
            problem(
                where,
                f"urgency {outcome.urgency.name.lower()} means "
                f"{RECOMMENDATION_FOR[outcome.urgency].value}, not {rec.value}",
            )
        if oid in red_flag_outcomes:
            if outcome.urgency > Urgency.ORANGE:
                problem(where, "a red flag must lead to call 112 or to emergency care now")
            if any(outcome.urgency > u for u in others):
                problem(where, "a red flag must be at least as urgent as every other outcome")


def lint_files(paths: Iterable[Path]) -> tuple[list[Questionnaire], list[Problem]]:
    """Read and lint questionnaire files: the sound questionnaires, and every problem."""
    sound: list[Questionnaire] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        try:
            q = load_file(path)
        except QuestionnaireError as exc:
            if exc.problems:
                problems.extend(Problem(path.name, where, why) for where, why in exc.problems)
            else:
                problems.append(
                    Problem(path.name, "(file)", str(exc).removeprefix(f"{path.name}: "))
                )
            continue
        found = lint(q)
        key = (q.id, q.version)
        if key in seen:
            found.append(Problem(path.name, "id", f"{q.id} {q.version} is also in {seen[key]}"))
        seen[key] = path.name
        problems.extend(found)
        if not found:
            sound.append(q)
    return sound, problems


def lint_directory(
    directory: Path = DEFAULT_DIRECTORY,
) -> tuple[list[Questionnaire], list[Problem]]:
    """Lint every questionnaire file in ``directory``."""
    files = questionnaire_files(directory)
    if not files:
        return [], [Problem(str(directory), "(directory)", "holds no questionnaire")]
    return lint_files(files)


def swedish_texts(q: Questionnaire) -> list[tuple[str, str]]:
    """Every patient-facing Swedish text of a questionnaire: (where, text)."""
    found: list[tuple[str, str]] = []

    def add(where: str, text: Text | None) -> None:
        if text and (text.get("sv") or "").strip():
            found.append((where, text["sv"]))

    add("title", q.title)
    add("notice", q.notice)
    for qid, question in q.questions.items():
        add(f"questions.{qid}.text", question.text)
        add(f"questions.{qid}.unit", question.unit)
        for option in question.options:
            add(f"questions.{qid}.options.{option.id}", option.text)
    for oid, outcome in q.outcomes.items():
        add(f"outcomes.{oid}.text", outcome.text)
        add(f"outcomes.{oid}.advice", outcome.advice)
    return found
