"""Questionnaires as data: what the patient is asked, and what the answers lead to.

- ``model``: the questionnaire as the rules see it (questions, conditions, outcomes)
  and the patient's age and sex. Pure.
- ``document``: the file format as pydantic models, and its JSON Schema.
- ``reader``: YAML files, checked against the format, into the model.
- ``engine``: one answer: does it fit its question, and what comes next. Pure.
- ``paths``: every path through a questionnaire (lint's tests, the benchmark). Pure.
- ``catalogue``: the questionnaires a running service offers.

The names most callers need are importable from this package directly.
"""

from careflow.triage.questionnaire.catalogue import Catalogue, catalogue_key, catalogue_of
from careflow.triage.questionnaire.engine import Evaluation, check_answer, evaluate
from careflow.triage.questionnaire.model import (
    ANSWER_OPERATORS,
    BODY_SITES,
    MAX_AGE_YEARS,
    MIN_AGE_YEARS,
    RANGE_OPERATORS,
    REQUIRED_LANGUAGES,
    AgeTest,
    AllOf,
    AnswerTest,
    AnswerValue,
    AnyOf,
    Branch,
    Condition,
    NotOf,
    Option,
    OutcomeDef,
    PatientContext,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
    QuestionnaireKind,
    RedFlag,
    Sex,
    SexTest,
    Text,
    age_on,
    birth_date_of,
    patient_context,
    sex_of,
)
from careflow.triage.questionnaire.paths import (
    TooManyPaths,
    WalkedPath,
    representative_answers,
    representative_patients,
    thresholds,
    walk,
)
from careflow.triage.questionnaire.reader import (
    DEFAULT_DIRECTORY,
    content_hash,
    load_file,
    parse,
    questionnaire_files,
)

__all__ = [
    "ANSWER_OPERATORS",
    "BODY_SITES",
    "DEFAULT_DIRECTORY",
    "MAX_AGE_YEARS",
    "MIN_AGE_YEARS",
    "RANGE_OPERATORS",
    "REQUIRED_LANGUAGES",
    "AgeTest",
    "AllOf",
    "AnswerTest",
    "AnswerValue",
    "AnyOf",
    "Branch",
    "Catalogue",
    "Condition",
    "Evaluation",
    "NotOf",
    "Option",
    "OutcomeDef",
    "PatientContext",
    "Question",
    "QuestionKind",
    "Questionnaire",
    "QuestionnaireError",
    "QuestionnaireKind",
    "RedFlag",
    "Sex",
    "SexTest",
    "Text",
    "TooManyPaths",
    "WalkedPath",
    "age_on",
    "birth_date_of",
    "catalogue_key",
    "catalogue_of",
    "check_answer",
    "content_hash",
    "evaluate",
    "load_file",
    "parse",
    "patient_context",
    "questionnaire_files",
    "representative_answers",
    "representative_patients",
    "sex_of",
    "thresholds",
    "walk",
]
