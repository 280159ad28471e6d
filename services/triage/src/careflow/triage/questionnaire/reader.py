"""Reading questionnaire files: YAML, checked against the file format, into the rules' model.

The shape is ``document.QuestionnaireDocument`` (the one definition of the file
format, also published as JSON Schema); every shape problem of a file is reported
at once, with where it is. References, reachability, cycles and languages are
``lint``'s, which likewise reports every problem, not the first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from careflow.contracts import Urgency
from careflow.triage.questionnaire import document as doc
from careflow.triage.questionnaire.model import (
    BODY_SITES,
    AgeTest,
    AllOf,
    AnswerTest,
    AnyOf,
    Branch,
    Condition,
    NotOf,
    Option,
    OutcomeDef,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireError,
    QuestionnaireKind,
    RedFlag,
    SexTest,
)

#: Where the questionnaires shipped with the service live.
DEFAULT_DIRECTORY = Path(__file__).parent.parent / "questionnaires"

_YES_NO = (Option("yes", {"sv": "Ja", "en": "Yes"}), Option("no", {"sv": "Nej", "en": "No"}))


def content_hash(document: Any) -> str:
    """sha256 of the document's canonical JSON: formatting and key order do not count."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse(document: Any, source: str = "<questionnaire>") -> Questionnaire:
    """Build a questionnaire from its YAML document; raises ``QuestionnaireError``."""
    try:
        checked = doc.QuestionnaireDocument.model_validate(document)
    except ValidationError as exc:
        problems = _problems(document, exc)
        first = "; ".join(f"{where}: {why}" for where, why in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise QuestionnaireError(f"{source}: {first}{more}", problems) from None
    return Questionnaire(
        id=checked.id,
        version=str(checked.version),
        hash=content_hash(document),
        kind=QuestionnaireKind(checked.kind),
        sample_content=checked.sample_content,
        languages=tuple(checked.languages),
        title=checked.title,
        notice=checked.notice,
        start=checked.start,
        questions={qid: _question(qid, q) for qid, q in checked.questions.items()},
        outcomes={oid: _outcome(oid, o) for oid, o in checked.outcomes.items()},
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


def _problems(document: Any, exc: ValidationError) -> list[tuple[str, str]]:
    """(where, why) per place; a value that fits none of a union's types gets one line."""
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        why = found.setdefault(_where(document, error["loc"], error["type"]), [])
        if error["msg"] not in why:
            why.append(error["msg"])
    return [(where, ", or ".join(why)) for where, why in found.items()]


def _where(document: Any, loc: Sequence[int | str], kind: str) -> str:
    """Where in the file an error is, as ``questions.fever.next[0].goto``.

    pydantic's location also names union members and tags, which are not in the
    file: only the steps that exist in the document are kept (and the last one of
    a missing key).
    """
    where = ""
    node = document
    for i, step in enumerate(loc):
        if isinstance(node, dict) and step in node:
            node = node[step]
            where += f".{step}"
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            where += f"[{step}]"
        elif kind == "missing" and i == len(loc) - 1:
            where += f".{step}"
    return where.lstrip(".") or "(top)"


def _question(qid: str, q: doc.Question) -> Question:
    red_flags = tuple(
        RedFlag(_condition(rf.when, qid), rf.outcome, rf.rule or f"red-flag:{qid}")
        for rf in q.red_flags
    )
    if isinstance(q.next, str):
        branches: tuple[Branch, ...] = (Branch(q.next, None, f"{qid}->{q.next}"),)
    else:
        branches = tuple(
            Branch(
                b.goto,
                _condition(b.when, qid) if b.when is not None else None,
                b.rule or f"{qid}->{b.goto}",
            )
            for b in q.next
        )
    common: dict[str, Any] = {
        "id": qid,
        "kind": QuestionKind(q.kind),
        "text": q.text,
        "red_flags": red_flags,
        "branches": branches,
    }
    if isinstance(q, doc.ChoiceQuestion):
        return Question(**common, options=tuple(Option(o.id, o.text) for o in q.options))
    if isinstance(q, doc.BodySiteQuestion):
        return Question(**common, options=tuple(Option(s, BODY_SITES[s]) for s in q.sites))
    if isinstance(q, doc.YesNoQuestion):
        return Question(**common, options=_YES_NO)
    if isinstance(q, doc.NumberQuestion):
        return Question(**common, unit=q.unit, minimum=q.min, maximum=q.max, integer=q.integer)
    return Question(**common, max_length=q.max_length)


def _condition(c: doc.Condition, current: str) -> Condition:
    """The rules' condition; an answer test without ``answer`` tests ``current``."""
    tests: list[Condition] = []
    if c.all_ is not None:
        tests.append(AllOf(tuple(_condition(i, current) for i in c.all_)))
    if c.any_ is not None:
        tests.append(AnyOf(tuple(_condition(i, current) for i in c.any_)))
    if c.not_ is not None:
        tests.append(NotOf(_condition(c.not_, current)))
    if c.age is not None:
        bounds = {"gte": c.age.gte, "gt": c.age.gt, "lte": c.age.lte, "lt": c.age.lt}
        tests.extend(AgeTest(op, years) for op, years in bounds.items() if years is not None)
    if c.sex is not None:
        tests.append(SexTest(c.sex))
    question = c.answer or current
    tests.extend(AnswerTest(question, op, operand) for op, operand in c.answer_tests())
    return tests[0] if len(tests) == 1 else AllOf(tuple(tests))


def _outcome(oid: str, o: doc.Outcome) -> OutcomeDef:
    return OutcomeDef(
        id=oid,
        urgency=Urgency[o.urgency.upper()],
        recommendation=o.recommendation,
        skill=o.queue,
        text=o.text,
        advice=o.advice,
    )
