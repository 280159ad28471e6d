"""The questionnaire file format, as pydantic models: one definition for reading and for the schema.

``reader`` validates every YAML document against ``QuestionnaireDocument`` before
building the rules' model from it, and ``schema`` publishes the same models as the
JSON Schema of the files. Only the shape is checked here; references,
reachability, cycles and languages are lint's.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from careflow.contracts import Recommendation, Skill
from careflow.triage.questionnaire.model import (
    ANSWER_OPERATORS,
    BODY_SITES,
    QuestionnaireKind,
    Sex,
)

Id = Annotated[
    StrictStr,
    StringConstraints(min_length=1, pattern=r"\S"),
    Field(description="An id: a non-empty string."),
]
Number = StrictInt | StrictFloat
Text = Annotated[
    dict[StrictStr, StrictStr],
    Field(
        description="One text per language code, e.g. {sv: ..., en: ...}; lint requires every "
        "language the questionnaire lists.",
    ),
]
Operand = StrictBool | StrictInt | StrictFloat | StrictStr


def _known_site(site: str) -> str:
    if site not in BODY_SITES:
        raise ValueError(f"unknown body site {site!r}")
    return site


BodySite = Annotated[
    StrictStr,
    AfterValidator(_known_site),
    WithJsonSchema({"type": "string", "enum": list(BODY_SITES)}),
]


class _Part(BaseModel):
    """A part of a questionnaire file: unknown keys are refused, and so is an explicit null
    where the key may only be left out (the schema does not allow null there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Keys whose value may be null in a file.
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key not in cls.NULLABLE:
                    raise ValueError(f"{key} must not be empty (leave the key out instead)")
        return data


class AgeRange(_Part):
    """The patient's age in whole years: every bound given must hold."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    gte: StrictInt | SkipJsonSchema[None] = None
    gt: StrictInt | SkipJsonSchema[None] = None
    lte: StrictInt | SkipJsonSchema[None] = None
    lt: StrictInt | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _some_bound(self) -> AgeRange:
        if not self.model_fields_set:
            raise ValueError("an age test needs a bound (gte, gt, lte or lt)")
        return self


class Condition(_Part):
    """A test (``when``). Several keys in one mapping must all hold.

    Answer tests (``is``, ``in``, ``includes``, ``gte``, ``gt``, ``lte``, ``lt``) look at
    the answer to ``answer``, by default the question the condition belongs to.
    """

    model_config = ConfigDict(
        populate_by_name=False,
        json_schema_extra={
            "minProperties": 1,
            "dependentSchemas": {
                "answer": {"anyOf": [{"required": [op]} for op in ANSWER_OPERATORS]}
            },
        },
    )

    all_: Annotated[list[Condition], Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, alias="all", description="Every condition holds."
    )
    any_: Annotated[list[Condition], Field(min_length=1)] | SkipJsonSchema[None] = Field(
        None, alias="any", description="At least one condition holds."
    )
    not_: Condition | SkipJsonSchema[None] = Field(
        None, alias="not", description="The condition does not hold."
    )
    age: AgeRange | SkipJsonSchema[None] = None
    sex: Sex | SkipJsonSchema[None] = None
    answer: Id | SkipJsonSchema[None] = Field(
        None, description="The question whose answer is tested; default: this question."
    )
    is_: Operand | SkipJsonSchema[None] = Field(
        None,
        alias="is",
        description="The answer equals this: true/false for yes_no, an option id for "
        "single_choice and body_site.",
    )
    in_: list[Operand] | SkipJsonSchema[None] = Field(
        None, alias="in", description="The answer equals one of these."
    )
    includes: StrictStr | SkipJsonSchema[None] = Field(
        None, description="A multiple_choice answer includes this option id."
    )
    gte: Number | SkipJsonSchema[None] = Field(None, description="A number answer >= this.")
    gt: Number | SkipJsonSchema[None] = Field(None, description="A number answer > this.")
    lte: Number | SkipJsonSchema[None] = Field(None, description="A number answer <= this.")
    lt: Number | SkipJsonSchema[None] = Field(None, description="A number answer < this.")

    @model_validator(mode="after")
    def _tests_something(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("an empty condition")
        if self.answer is not None and not self.answer_tests():
            raise ValueError("'answer' without a test (is, in, includes, gte, gt, lte, lt)")
        return self

    def answer_tests(self) -> list[tuple[str, Any]]:
        """(operator, operand) of every answer test given, in a fixed order."""
        operands = {
            "is": self.is_,
            "in": self.in_,
            "includes": self.includes,
            "gte": self.gte,
            "gt": self.gt,
            "lte": self.lte,
            "lt": self.lt,
        }
        return [(op, operands[op]) for op in ANSWER_OPERATORS if operands[op] is not None]


class RedFlag(_Part):
    """An answer that ends the questionnaire at once; the most urgent that fires wins."""

    when: Condition
    outcome: Id = Field(description="The outcome it ends in (call 112 or emergency care).")
    rule: StrictStr | SkipJsonSchema[None] = Field(
        None, description="The name recorded when it fires; default red-flag:<question>."
    )


class Branch(_Part):
    """Go to ``goto`` when ``when`` holds (always, without ``when``)."""

    when: Condition | SkipJsonSchema[None] = None
    goto: Id = Field(description="A question or outcome id.")
    rule: StrictStr | SkipJsonSchema[None] = Field(
        None, description="The name recorded when it fires; default <question>-><goto>."
    )


class Option(_Part):
    """One choice of a choice question; the patient answers with its id."""

    id: Id
    text: Text


def _next_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "id"
    return "branches" if isinstance(value, list) else None


# Told apart by their type, so a wrong branch is not also reported as "not a string".
Next = Annotated[
    Annotated[Id, Tag("id")] | Annotated[list[Branch], Field(min_length=1), Tag("branches")],
    Discriminator(
        _next_kind,
        custom_error_type="next",
        custom_error_message="must be a question or outcome id, or a list of branches",
    ),
]


class _Question(_Part):
    text: Text
    red_flags: list[RedFlag] = Field(
        default_factory=list, description="Checked before the branches."
    )
    next: Next = Field(
        description="A question or outcome id, or branches: the first whose condition holds "
        "is taken, and the last must have no condition."
    )


class YesNoQuestion(_Question):
    """Answered true (yes) or false (no)."""

    kind: Literal["yes_no"]


class ChoiceQuestion(_Question):
    """Answered with one option id (single_choice) or a list of option ids (multiple_choice)."""

    kind: Literal["single_choice", "multiple_choice"]
    options: Annotated[list[Option], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_options(self) -> ChoiceQuestion:
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError("option ids must be unique")
        return self


class BodySiteQuestion(_Question):
    """Answered with one body site id, out of ``sites``."""

    kind: Literal["body_site"]
    sites: Annotated[list[BodySite], Field(min_length=1)] = Field(
        default_factory=lambda: list(BODY_SITES),
        description="The body sites offered; default: all of them.",
    )


class NumberQuestion(_Question):
    """Answered with a number from ``min`` to ``max``."""

    kind: Literal["number"]
    min: Number
    max: Number
    integer: StrictBool = Field(False, description="Whole numbers only.")
    unit: Text = Field(default_factory=dict)

    @model_validator(mode="after")
    def _a_range(self) -> NumberQuestion:
        if self.min >= self.max:
            raise ValueError("min must be below max")
        return self


class FreeTextQuestion(_Question):
    """Answered with text; free text never decides a path."""

    kind: Literal["free_text"]
    max_length: StrictInt = Field(1000, ge=1, description="The longest answer, in characters.")


Question = Annotated[
    YesNoQuestion | ChoiceQuestion | BodySiteQuestion | NumberQuestion | FreeTextQuestion,
    Field(discriminator="kind"),
]


class Outcome(_Part):
    """Where a path ends. Urgency and recommendation go together (see the service README)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"queue"})

    urgency: Literal["red", "orange", "yellow", "green", "blue"]
    recommendation: Recommendation
    queue: Skill | None = Field(
        None, description="The queue's skill, for digital_contact and book_visit only."
    )
    text: Text
    advice: Text | SkipJsonSchema[None] = Field(None, description="Required for self_care.")


class QuestionnaireDocument(_Part):
    """A triage questionnaire: questions that branch on the answers, ending in outcomes."""

    model_config = ConfigDict(title="careflow triage questionnaire")

    id: Id = Field(description="Stable; TriageCompleted carries it with version and hash.")
    version: StrictStr | StrictInt | StrictFloat
    kind: QuestionnaireKind = Field(
        description="complaint, or errand (queued with the non-medical urgency blue)."
    )
    sample_content: StrictBool = Field(False, description="Not clinically validated.")
    languages: list[StrictStr] = Field(description="Every text exists in each; sv and en at least.")
    title: Text
    notice: Text = Field(default_factory=dict)
    start: Id = Field(description="The first question.")
    questions: dict[StrictStr, Question]
    outcomes: dict[StrictStr, Outcome]
