"""Questionnaires as data: the model, the YAML reader and the evaluator of one answer.

A questionnaire is a directed acyclic graph of questions that ends in outcomes.
Each question may carry red flags (checked first, they end the questionnaire at
once) and an ordered list of branches; the first branch whose condition holds
decides what comes next. Conditions look at earlier answers and at the patient's
age and sex. Pure: no I/O except ``load_file``/``load_directory``.

The YAML shape (see ``questionnaires/*.yaml``)::

    id, version, kind (complaint|errand), sample_content, languages,
    title {lang: text}, notice {lang: text}, start: <question id>,
    questions: {id: {kind, text, options|sites|unit/min/max/integer|max_length,
                     red_flags: [{when, outcome, rule}], next: id | [{when, goto, rule}]}},
    outcomes: {id: {urgency, recommendation, queue, text, advice}}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from careflow.contracts import Recommendation, Skill, Urgency
from careflow.kit.domain import Invalid

#: Every questionnaire must speak these languages.
REQUIRED_LANGUAGES: tuple[str, ...] = ("sv", "en")

#: Where the questionnaires shipped with the service live.
DEFAULT_DIRECTORY = Path(__file__).with_name("questionnaires")

AnswerValue = str | int | float | bool | list[str]
Text = Mapping[str, str]


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be read as a questionnaire; says where and why."""


class QuestionKind(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"
    NUMBER = "number"
    FREE_TEXT = "free_text"
    BODY_SITE = "body_site"


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class QuestionnaireKind(StrEnum):
    COMPLAINT = "complaint"
    ERRAND = "errand"


#: Body sites a body-site question may offer, with their texts in every language.
BODY_SITES: Mapping[str, Text] = {
    "head": {"sv": "Huvud", "en": "Head"},
    "face": {"sv": "Ansikte", "en": "Face"},
    "eye_left": {"sv": "Vänster öga", "en": "Left eye"},
    "eye_right": {"sv": "Höger öga", "en": "Right eye"},
    "eye_both": {"sv": "Båda ögonen", "en": "Both eyes"},
    "neck": {"sv": "Hals och nacke", "en": "Neck"},
    "chest": {"sv": "Bröst", "en": "Chest"},
    "abdomen": {"sv": "Mage", "en": "Abdomen"},
    "upper_back": {"sv": "Övre delen av ryggen", "en": "Upper back"},
    "lower_back": {"sv": "Nedre delen av ryggen", "en": "Lower back"},
    "genitals": {"sv": "Underliv", "en": "Genitals"},
    "arms": {"sv": "Armar", "en": "Arms"},
    "hands": {"sv": "Händer", "en": "Hands"},
    "legs": {"sv": "Ben", "en": "Legs"},
    "feet": {"sv": "Fötter", "en": "Feet"},
    "whole_body": {"sv": "Hela kroppen", "en": "Whole body"},
}

#: Age limits (in whole years) of the service: children under one are not triaged here.
MIN_AGE_YEARS = 1
MAX_AGE_YEARS = 130


# --- the patient --------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientContext:
    """What branching may know about the patient: age in whole years and sex."""

    age_years: int
    sex: Sex


def birth_date_of(pin: str) -> date:
    """The birth date in a 12-digit personal (or coordination) number."""
    if len(pin) != 12 or not pin.isdigit():
        raise Invalid("a personal identity number has 12 digits")
    day = int(pin[6:8])
    if day > 60:  # a coordination number: day of birth + 60
        day -= 60
    try:
        return date(int(pin[0:4]), int(pin[4:6]), day)
    except ValueError:
        raise Invalid("the personal identity number holds no valid birth date") from None


def sex_of(pin: str) -> Sex:
    """Sex by the second-to-last digit: odd for men, even for women."""
    return Sex.MALE if int(pin[10]) % 2 else Sex.FEMALE


def age_on(birth: date, today: date) -> int:
    """Age in whole years on ``today``."""
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - int(before_birthday)


def patient_context(pin: str, today: date) -> PatientContext:
    """Age and sex of the person a personal identity number names, on ``today``."""
    return PatientContext(age_on(birth_date_of(pin), today), sex_of(pin))


# --- conditions ---------------------------------------------------------------------------

ANSWER_OPERATORS = ("is", "in", "includes", "gte", "gt", "lte", "lt")
RANGE_OPERATORS = ("gte", "gt", "lte", "lt")


class Condition:
    """A test over the answers so far and the patient."""

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        raise NotImplementedError

    def parts(self) -> Iterable[Condition]:
        """This condition and every condition inside it."""
        yield self


def _compare(op: str, value: float, operand: float) -> bool:
    if op == "gte":
        return value >= operand
    if op == "gt":
        return value > operand
    if op == "lte":
        return value <= operand
    return value < operand


def _same(value: Any, operand: Any) -> bool:
    # True == 1 in Python; an answer "yes" must not equal option 1.
    return bool(value == operand) and isinstance(value, bool) == isinstance(operand, bool)


@dataclass(frozen=True)
class AnswerTest(Condition):
    """One test of one earlier answer; an unanswered question makes it false."""

    question: str
    op: str
    operand: Any

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        if self.question not in answers:
            return False
        value = answers[self.question]
        if self.op == "is":
            return _same(value, self.operand)
        if self.op == "in":
            return any(_same(value, o) for o in self.operand)
        if self.op == "includes":
            return isinstance(value, list) and self.operand in value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return _compare(self.op, value, self.operand)


@dataclass(frozen=True)
class AgeTest(Condition):
    op: str
    years: int

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return _compare(self.op, patient.age_years, self.years)


@dataclass(frozen=True)
class SexTest(Condition):
    sex: Sex

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return patient.sex is self.sex


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return all(c.holds(answers, patient) for c in self.items)

    def parts(self) -> Iterable[Condition]:
        yield self
        for c in self.items:
            yield from c.parts()


@dataclass(frozen=True)
class AnyOf(Condition):
    items: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return any(c.holds(answers, patient) for c in self.items)

    def parts(self) -> Iterable[Condition]:
        yield self
        for c in self.items:
            yield from c.parts()


@dataclass(frozen=True)
class NotOf(Condition):
    item: Condition

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return not self.item.holds(answers, patient)

    def parts(self) -> Iterable[Condition]:
        yield self
        yield from self.item.parts()


# --- the model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    id: str
    text: Text


@dataclass(frozen=True)
class Branch:
    """Go to ``goto`` (a question or an outcome) when ``when`` holds (always, if None)."""

    goto: str
    when: Condition | None
    rule: str


@dataclass(frozen=True)
class RedFlag:
    """An answer that ends the questionnaire at once with ``outcome``."""

    when: Condition
    outcome: str
    rule: str


@dataclass(frozen=True)
class Question:
    id: str
    kind: QuestionKind
    text: Text
    options: tuple[Option, ...] = ()
    unit: Text | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    max_length: int = 1000
    red_flags: tuple[RedFlag, ...] = ()
    branches: tuple[Branch, ...] = ()

    @property
    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.options)


@dataclass(frozen=True)
class OutcomeDef:
    """Where a path ends: an urgency, a recommendation, maybe a queue and advice."""

    id: str
    urgency: Urgency
    recommendation: Recommendation
    skill: Skill | None
    text: Text
    advice: Text | None = None


@dataclass(frozen=True)
class Questionnaire:
    id: str
    version: str
    hash: str
    kind: QuestionnaireKind
    sample_content: bool
    languages: tuple[str, ...]
    title: Text
    notice: Text
    start: str
    questions: Mapping[str, Question]
    outcomes: Mapping[str, OutcomeDef]
    source: str = ""

    def text(self, texts: Text | None, language: str) -> str:
        """A text in ``language``, falling back to the first language of the file."""
        if not texts:
            return ""
        return texts.get(language) or texts[self.languages[0]]


# --- reading YAML -------------------------------------------------------------------------


def content_hash(document: Any) -> str:
    """sha256 of the document's canonical JSON: formatting and key order do not count."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, why: str) -> QuestionnaireError:
        return QuestionnaireError(f"{self.source}: {where}: {why}")

    def mapping(
        self, value: Any, where: str, allowed: Iterable[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping")
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed))
            if unknown:
                raise self.fail(where, f"unknown key(s) {', '.join(map(str, unknown))}")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "must be a non-empty string")
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, "must be a number")
        return value

    def text(self, value: Any, where: str) -> Text:
        texts = self.mapping(value, where)
        # Empty or missing languages are lint's business (it names every one).
        return {str(k): v if isinstance(v, str) else "" for k, v in texts.items()}

    def condition(self, value: Any, where: str, current: str | None) -> Condition:
        spec = self.mapping(value, where)
        if not spec:
            raise self.fail(where, "an empty condition")
        tests: list[Condition] = []
        for key in ("all", "any"):
            if key in spec:
                items = spec[key]
                if not isinstance(items, list) or not items:
                    raise self.fail(f"{where}.{key}", "must be a non-empty list")
                inner = tuple(
                    self.condition(c, f"{where}.{key}[{i}]", current) for i, c in enumerate(items)
                )
                tests.append(AllOf(inner) if key == "all" else AnyOf(inner))
        if "not" in spec:
            tests.append(NotOf(self.condition(spec["not"], f"{where}.not", current)))
        if "age" in spec:
            age = self.mapping(spec["age"], f"{where}.age", RANGE_OPERATORS)
            for op, years in age.items():
                if isinstance(years, bool) or not isinstance(years, int):
                    raise self.fail(f"{where}.age.{op}", "must be whole years")
                tests.append(AgeTest(op, years))
        if "sex" in spec:
            try:
                tests.append(SexTest(Sex(spec["sex"])))
            except ValueError:
                raise self.fail(f"{where}.sex", "must be female or male") from None
        ops = [op for op in ANSWER_OPERATORS if op in spec]
        if ops:
            question = spec.get("answer", current)
            if question is None:
                raise self.fail(where, "names no question ('answer')")
            question = self.string(question, f"{where}.answer")
            for op in ops:
                operand = spec[op]
                if op in RANGE_OPERATORS:
                    operand = self.number(operand, f"{where}.{op}")
                elif op == "in" and not isinstance(operand, list):
                    raise self.fail(f"{where}.in", "must be a list")
                tests.append(AnswerTest(question, op, operand))
        elif "answer" in spec:
            raise self.fail(where, "'answer' without a test (is, in, includes, gte, gt, lte, lt)")
        known = {"all", "any", "not", "age", "sex", "answer", *ANSWER_OPERATORS}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(map(str, unknown))}")
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests))

    def question(self, qid: str, value: Any) -> Question:
        where = f"questions.{qid}"
        spec = self.mapping(
            value,
            where,
            (
                "kind",
                "text",
                "options",
                "sites",
                "unit",
                "min",
                "max",
                "integer",
                "max_length",
                "red_flags",
                "next",
            ),
        )
        try:
            kind = QuestionKind(str(spec.get("kind")))
        except ValueError:
            kinds = ", ".join(k.value for k in QuestionKind)
            raise self.fail(f"{where}.kind", f"must be one of {kinds}") from None
        options: tuple[Option, ...] = ()
        if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            raw = spec.get("options")
            if not isinstance(raw, list) or not raw:
                raise self.fail(f"{where}.options", "a choice question needs options")
            opts = []
            for i, o in enumerate(raw):
                o = self.mapping(o, f"{where}.options[{i}]", ("id", "text"))
                opts.append(
                    Option(
                        self.string(o.get("id"), f"{where}.options[{i}].id"),
                        self.text(o.get("text"), f"{where}.options[{i}].text"),
                    )
                )
            if len({o.id for o in opts}) != len(opts):
                raise self.fail(f"{where}.options", "option ids must be unique")
            options = tuple(opts)
        elif kind is QuestionKind.BODY_SITE:
            sites = spec.get("sites", list(BODY_SITES))
            if not isinstance(sites, list) or not sites:
                raise self.fail(f"{where}.sites", "must be a non-empty list")
            for s in sites:
                if s not in BODY_SITES:
                    raise self.fail(f"{where}.sites", f"unknown body site {s!r}")
            options = tuple(Option(s, BODY_SITES[s]) for s in sites)
        elif kind is QuestionKind.YES_NO:
            options = (
                Option("yes", {"sv": "Ja", "en": "Yes"}),
                Option("no", {"sv": "Nej", "en": "No"}),
            )
        minimum = maximum = None
        unit = None
        if kind is QuestionKind.NUMBER:
            if "min" not in spec or "max" not in spec:
                raise self.fail(where, "a number question needs min and max")
            minimum = self.number(spec["min"], f"{where}.min")
            maximum = self.number(spec["max"], f"{where}.max")
            if minimum >= maximum:
                raise self.fail(where, "min must be below max")
            unit = self.text(spec.get("unit", {}), f"{where}.unit")
        red_flags = []
        for i, rf in enumerate(spec.get("red_flags") or []):
            rf = self.mapping(rf, f"{where}.red_flags[{i}]", ("when", "outcome", "rule"))
            red_flags.append(
                RedFlag(
                    self.condition(rf.get("when"), f"{where}.red_flags[{i}].when", qid),
                    self.string(rf.get("outcome"), f"{where}.red_flags[{i}].outcome"),
                    str(rf.get("rule") or f"red-flag:{qid}"),
                )
            )
        nxt = spec.get("next")
        branches: list[Branch] = []
        if isinstance(nxt, str):
            branches.append(Branch(nxt, None, f"{qid}->{nxt}"))
        elif isinstance(nxt, list) and nxt:
            for i, b in enumerate(nxt):
                b = self.mapping(b, f"{where}.next[{i}]", ("when", "goto", "rule"))
                goto = self.string(b.get("goto"), f"{where}.next[{i}].goto")
                when = (
                    self.condition(b["when"], f"{where}.next[{i}].when", qid)
                    if "when" in b
                    else None
                )
                branches.append(Branch(goto, when, str(b.get("rule") or f"{qid}->{goto}")))
        else:
            raise self.fail(f"{where}.next", "must be a question or outcome id, or branches")
        integer = spec.get("integer", False)
        if not isinstance(integer, bool):
            raise self.fail(f"{where}.integer", "must be true or false")
        max_length = spec.get("max_length", 1000)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise self.fail(f"{where}.max_length", "must be a positive whole number")
        return Question(
            id=qid,
            kind=kind,
            text=self.text(spec.get("text"), f"{where}.text"),
            options=options,
            unit=unit,
            minimum=minimum,
            maximum=maximum,
            integer=integer,
            max_length=max_length,
            red_flags=tuple(red_flags),
            branches=tuple(branches),
        )

    def outcome(self, oid: str, value: Any) -> OutcomeDef:
        where = f"outcomes.{oid}"
        spec = self.mapping(value, where, ("urgency", "recommendation", "queue", "text", "advice"))
        try:
            urgency = Urgency[str(spec.get("urgency", "")).upper()]
        except KeyError:
            raise self.fail(
                f"{where}.urgency", "must be red, orange, yellow, green or blue"
            ) from None
        try:
            recommendation = Recommendation(str(spec.get("recommendation")))
        except ValueError:
            allowed = ", ".join(r.value for r in Recommendation)
            raise self.fail(f"{where}.recommendation", f"must be one of {allowed}") from None
        skill = None
        if spec.get("queue") is not None:
            try:
                skill = Skill(spec["queue"])
            except ValueError:
                allowed = ", ".join(s.value for s in Skill)
                raise self.fail(f"{where}.queue", f"must be one of {allowed}") from None
        return OutcomeDef(
            id=oid,
            urgency=urgency,
            recommendation=recommendation,
            skill=skill,
            text=self.text(spec.get("text"), f"{where}.text"),
            advice=self.text(spec["advice"], f"{where}.advice") if "advice" in spec else None,
        )


def parse(document: Any, source: str = "<questionnaire>") -> Questionnaire:
    """Build a questionnaire from its YAML document; raises ``QuestionnaireError``.

    Only the shape is checked here; references, reachability, cycles and
    languages are ``lint``'s, which reports every problem, not the first.
    """
    r = _Reader(source)
    top = r.mapping(
        document,
        "(top)",
        (
            "id",
            "version",
            "kind",
            "sample_content",
            "languages",
            "title",
            "notice",
            "start",
            "questions",
            "outcomes",
        ),
    )
    try:
        kind = QuestionnaireKind(str(top.get("kind")))
    except ValueError:
        raise r.fail("kind", "must be complaint or errand") from None
    languages = top.get("languages")
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise r.fail("languages", "must be a list of language codes")
    questions = r.mapping(top.get("questions"), "questions")
    outcomes = r.mapping(top.get("outcomes"), "outcomes")
    version = top.get("version")
    if not isinstance(version, str | int | float) or isinstance(version, bool):
        raise r.fail("version", "must be a version string")
    return Questionnaire(
        id=r.string(top.get("id"), "id"),
        version=str(version),
        hash=content_hash(document),
        kind=kind,
        sample_content=top.get("sample_content") is True,
        languages=tuple(languages),
        title=r.text(top.get("title"), "title"),
        notice=r.text(top.get("notice", {}), "notice"),
        start=r.string(top.get("start"), "start"),
        questions={str(q): r.question(str(q), spec) for q, spec in questions.items()},
        outcomes={str(o): r.outcome(str(o), spec) for o, spec in outcomes.items()},
        source=source,
    )


def load_file(path: Path) -> Questionnaire:
    """Read one questionnaire file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise QuestionnaireError(f"{path.name}: not valid YAML: {exc}") from None
    return parse(document, path.name)


def questionnaire_files(directory: Path = DEFAULT_DIRECTORY) -> list[Path]:
    """The questionnaire files in ``directory``, in name order."""
    return sorted(directory.glob("*.yaml"))


# --- answering ----------------------------------------------------------------------------


def check_answer(question: Question, value: Any) -> AnswerValue:
    """The answer if it fits the question; ``Invalid`` (422) with the reason otherwise."""
    q = question.id
    kind = question.kind
    if kind is QuestionKind.YES_NO:
        if not isinstance(value, bool):
            raise Invalid(f"{q} must be answered yes or no (true or false)")
        return value
    if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.BODY_SITE):
        if not isinstance(value, str):
            raise Invalid(f"{q} must be answered with one option id")
        if value not in question.option_ids:
            raise Invalid(
                f"{q}: unknown option {value!r}; choose one of {', '.join(question.option_ids)}"
            )
        return value
    if kind is QuestionKind.MULTIPLE_CHOICE:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise Invalid(f"{q} must be answered with a list of option ids")
        for v in value:
            if v not in question.option_ids:
                raise Invalid(
                    f"{q}: unknown option {v!r}; choose from {', '.join(question.option_ids)}"
                )
        if len(set(value)) != len(value):
            raise Invalid(f"{q}: an option was chosen twice")
        # The order the patient clicked in means nothing; keep the questionnaire's.
        return [o for o in question.option_ids if o in value]
    if kind is QuestionKind.NUMBER:
        assert question.minimum is not None and question.maximum is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"{q} must be answered with a number")
        if question.integer and not float(value).is_integer():
            raise Invalid(f"{q} must be a whole number")
        if not question.minimum <= value <= question.maximum:
            unit = question.unit.get("en", "") if question.unit else ""
            raise Invalid(
                f"{q} must be from {question.minimum:g} to {question.maximum:g}"
                + (f" {unit}" if unit else "")
            )
        return int(value) if question.integer else value
    if not isinstance(value, str):
        raise Invalid(f"{q} must be answered with text")
    if len(value) > question.max_length:
        raise Invalid(f"{q}: at most {question.max_length} characters")
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


# --- walking every path (tests, lint, benchmark) --------------------------------------------


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


def catalogue_key(questionnaire: Questionnaire) -> tuple[str, str]:
    return (questionnaire.id, questionnaire.version)


@dataclass(frozen=True)
class Catalogue:
    """The questionnaires the service offers, by id (newest version) and by (id, version)."""

    by_id: Mapping[str, Questionnaire]
    by_version: Mapping[tuple[str, str], Questionnaire] = field(default_factory=dict)

    def get(self, questionnaire_id: str, version: str | None = None) -> Questionnaire | None:
        if version is None:
            return self.by_id.get(questionnaire_id)
        return self.by_version.get((questionnaire_id, version))


def catalogue_of(questionnaires: Iterable[Questionnaire]) -> Catalogue:
    """A catalogue; each id's highest version (compared numerically) is the current one."""

    def version_key(q: Questionnaire) -> tuple[tuple[int, str], ...]:
        return tuple((int(p), "") if p.isdigit() else (-1, p) for p in q.version.split("."))

    ordered = sorted(questionnaires, key=lambda q: (q.id, version_key(q)))
    by_id = {q.id: q for q in ordered}
    return Catalogue(by_id, {catalogue_key(q): q for q in ordered})
