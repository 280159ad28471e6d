# ruff: noqa: RUF001
# (Texts in Arabic and Persian script, whose letters look like Latin ones to the linter.)
"""The questionnaire as the rules see it: questions, branches, red flags, outcomes.

A questionnaire is a directed acyclic graph of questions that ends in outcomes.
Each question may carry red flags (checked first, they end the questionnaire at
once) and an ordered list of branches; the first branch whose condition holds
decides what comes next. Conditions look at earlier answers and at the patient's
age and sex. Pure: built by ``reader`` from a YAML document, walked by
``engine`` (one answer) and ``paths`` (every path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from careflow.contracts import Recommendation, Skill, Urgency
from careflow.kit.domain import Invalid

#: Every questionnaire must speak these languages: Swedish first, English, and the languages
#: many patients need (Arabic and Persian, written right to left; Somali; Finnish, a national
#: minority language). Texts other than Swedish and English are sample translations until
#: reviewed by people.
REQUIRED_LANGUAGES: tuple[str, ...] = ("sv", "en", "ar", "so", "fa", "fi")
#: Written right to left.
RTL_LANGUAGES: frozenset[str] = frozenset({"ar", "fa"})

AnswerValue = str | int | float | bool | list[str]
Text = Mapping[str, str]


class QuestionnaireError(ValueError):
    """A questionnaire that cannot be read or followed; says where and why.

    ``problems`` lists (where, why) for each thing wrong with a file's shape, when
    the reader found several.
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class QuestionKind(StrEnum):
    """What a question asks for, and so what its answer must be."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    YES_NO = "yes_no"
    NUMBER = "number"
    FREE_TEXT = "free_text"
    BODY_SITE = "body_site"


class Sex(StrEnum):
    """Sex as a personal identity number records it; branches may depend on it."""

    FEMALE = "female"
    MALE = "male"


class QuestionnaireKind(StrEnum):
    """A complaint (symptoms) or an errand (administrative, queued after medical cases)."""

    COMPLAINT = "complaint"
    ERRAND = "errand"


#: Body sites a body-site question may offer, with their texts in every language (all but
#: Swedish and English are sample translations until reviewed by people).
BODY_SITES: Mapping[str, Text] = {
    "head": {"sv": "Huvud", "en": "Head", "ar": "رأس", "so": "Madax", "fa": "سر", "fi": "Pää"},
    "face": {
        "sv": "Ansikte",
        "en": "Face",
        "ar": "وجه",
        "so": "Weji",
        "fa": "صورت",
        "fi": "Kasvot",
    },
    "eye_left": {
        "sv": "Vänster öga",
        "en": "Left eye",
        "ar": "العين اليسرى",
        "so": "Isha bidix",
        "fa": "چشم چپ",
        "fi": "Vasen silmä",
    },
    "eye_right": {
        "sv": "Höger öga",
        "en": "Right eye",
        "ar": "العين اليمنى",
        "so": "Isha midig",
        "fa": "چشم راست",
        "fi": "Oikea silmä",
    },
    "eye_both": {
        "sv": "Båda ögonen",
        "en": "Both eyes",
        "ar": "كلتا العينين",
        "so": "Labada indhood",
        "fa": "هر دو چشم",
        "fi": "Molemmat silmät",
    },
    "neck": {
        "sv": "Hals och nacke",
        "en": "Neck",
        "ar": "الرقبة",
        "so": "Qoorta",
        "fa": "گردن",
        "fi": "Kaula ja niska",
    },
    "chest": {
        "sv": "Bröst",
        "en": "Chest",
        "ar": "الصدر",
        "so": "Laabta",
        "fa": "قفسه سینه",
        "fi": "Rintakehä",
    },
    "abdomen": {
        "sv": "Mage",
        "en": "Abdomen",
        "ar": "البطن",
        "so": "Caloosha",
        "fa": "شکم",
        "fi": "Vatsa",
    },
    "upper_back": {
        "sv": "Övre delen av ryggen",
        "en": "Upper back",
        "ar": "أعلى الظهر",
        "so": "Dhabarka sare",
        "fa": "بالای کمر",
        "fi": "Yläselkä",
    },
    "lower_back": {
        "sv": "Nedre delen av ryggen",
        "en": "Lower back",
        "ar": "أسفل الظهر",
        "so": "Dhabarka hoose",
        "fa": "پایین کمر",
        "fi": "Alaselkä",
    },
    "genitals": {
        "sv": "Underliv",
        "en": "Genitals",
        "ar": "الأعضاء التناسلية",
        "so": "Xubinta taranka",
        "fa": "اندام تناسلی",
        "fi": "Sukuelimet",
    },
    "arms": {
        "sv": "Armar",
        "en": "Arms",
        "ar": "الذراعان",
        "so": "Gacmaha",
        "fa": "بازوها",
        "fi": "Kädet ja käsivarret",
    },
    "hands": {
        "sv": "Händer",
        "en": "Hands",
        "ar": "اليدان",
        "so": "Calaacalaha",
        "fa": "دست‌ها",
        "fi": "Kämmenet",
    },
    "legs": {
        "sv": "Ben",
        "en": "Legs",
        "ar": "الساقان",
        "so": "Lugaha",
        "fa": "پاها",
        "fi": "Jalat",
    },
    "feet": {
        "sv": "Fötter",
        "en": "Feet",
        "ar": "القدمان",
        "so": "Cagaha",
        "fa": "کف پاها",
        "fi": "Jalkaterät",
    },
    "whole_body": {
        "sv": "Hela kroppen",
        "en": "Whole body",
        "ar": "الجسم كله",
        "so": "Jirka oo dhan",
        "fa": "تمام بدن",
        "fi": "Koko keho",
    },
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
    """The patient's age in whole years compared with ``years``."""

    op: str
    years: int

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return _compare(self.op, patient.age_years, self.years)


@dataclass(frozen=True)
class SexTest(Condition):
    """The patient is of ``sex``."""

    sex: Sex

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return patient.sex is self.sex


@dataclass(frozen=True)
class AllOf(Condition):
    """Every condition holds."""

    items: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return all(c.holds(answers, patient) for c in self.items)

    def parts(self) -> Iterable[Condition]:
        yield self
        for c in self.items:
            yield from c.parts()


@dataclass(frozen=True)
class AnyOf(Condition):
    """At least one condition holds."""

    items: tuple[Condition, ...]

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return any(c.holds(answers, patient) for c in self.items)

    def parts(self) -> Iterable[Condition]:
        yield self
        for c in self.items:
            yield from c.parts()


@dataclass(frozen=True)
class NotOf(Condition):
    """The condition does not hold."""

    item: Condition

    def holds(self, answers: Mapping[str, AnswerValue], patient: PatientContext) -> bool:
        return not self.item.holds(answers, patient)

    def parts(self) -> Iterable[Condition]:
        yield self
        yield from self.item.parts()


# --- the model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One choice; the patient answers with its id."""

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
    """One question: what it asks, what answers fit, and what comes after each."""

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
        """The ids a choice or body-site answer may name, in the questionnaire's order."""
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
    """A questionnaire as read from its file, with the hash of its content."""

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
