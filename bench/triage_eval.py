"""Evaluating one triage answer: the data-driven engine against a hand-written baseline.

Every step of every path of the fever questionnaire (exhaustively, for the
representative patients) is replayed: the answer is checked against its
question and the next question or outcome is decided. The baseline, timed
in the same run on the same steps, is the same questionnaire written by hand
as if/else code, the fastest it could be without data; the run also checks
that both agree on every step. A third figure is the whole domain command
(``decide_answer`` and ``evolve``: events built and validated), still without
I/O. The budget is a p99 under 1 ms per evaluated answer.
"""

from __future__ import annotations

import gc
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from careflow.triage import domain
from careflow.triage.lint import lint_directory
from careflow.triage.questionnaire import (
    AnswerValue,
    PatientContext,
    Questionnaire,
    check_answer,
    evaluate,
    representative_patients,
    walk,
)

BUDGET_P99_MS = 1.0
ROUNDS = 5

Step = tuple[PatientContext, str, dict[str, AnswerValue], AnswerValue]


def fever_by_hand(qid: str, answers: dict[str, Any], age: int) -> str:
    """fever.yaml written out as code: the next question or outcome id."""
    if qid == "breathing":
        return "call_112" if answers["breathing"] else "spots"
    if qid == "spots":
        return "call_112" if answers["spots"] else "temperature"
    if qid == "temperature":
        if answers["temperature"] >= 41.5:
            return "emergency"
        return "child_drinking" if age < 13 else "days"
    if qid == "child_drinking":
        drinking = answers["child_drinking"]
        if drinking == "refuses":
            return "emergency"
        if answers["temperature"] >= 40 or drinking == "less":
            return "nurse_priority"
        return "days"
    if qid == "days":
        return "nurse_priority" if answers["days"] >= 3 else "symptoms"
    symptoms = answers["symptoms"]
    if "ear_pain" in symptoms or "pain_urinating" in symptoms:
        return "book_visit"
    return "book_visit" if age >= 75 else "self_care"


def steps_of(q: Questionnaire) -> list[Step]:
    """(patient, question, answers before it, the answer) for every step of every path."""
    steps: list[Step] = []
    for patient in representative_patients(q):
        for path in walk(q, patient):
            before: dict[str, AnswerValue] = {}
            for qid, value in path.answers:
                steps.append((patient, qid, dict(before), value))
                before[qid] = value
    return steps


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1e6

    return {
        "p50_ms": round(at(0.50), 5),
        "p99_ms": round(at(0.99), 5),
        "max_ms": round(ordered[-1] / 1e6, 5),
        "mean_ms": round(statistics.fmean(ordered) / 1e6, 5),
    }


def timed(steps: list[Step], one: Callable[[Step], object]) -> list[int]:
    gc.collect()  # the setup's garbage is not the measured code's
    samples: list[int] = []
    clock = time.perf_counter_ns
    for _ in range(ROUNDS):
        for step in steps:
            start = clock()
            one(step)
            samples.append(clock() - start)
    return samples


async def run(bootstrap: str, database_url: str) -> list[dict[str, object]]:
    """No Kafka or PostgreSQL involved: evaluating an answer is pure."""
    fever = {q.id: q for q in lint_directory()[0]}["fever"]
    steps = steps_of(fever)

    def engine(step: Step) -> str:
        patient, qid, before, value = step
        question = fever.questions[qid]
        answers = {**before, qid: check_answer(question, value)}
        result = evaluate(fever, question, answers, patient)
        return result.next_question or (result.outcome.id if result.outcome else "")

    def by_hand(step: Step) -> str:
        patient, qid, before, value = step
        return fever_by_hand(qid, {**before, qid: value}, patient.age_years)

    disagreements = sum(engine(s) != by_hand(s) for s in steps)
    engine_ns = timed(steps, engine)
    baseline_ns = timed(steps, by_hand)

    # The whole command on the aggregate: one state per step, folded beforehand.
    now = datetime.now(UTC)
    prepared: list[tuple[domain.CaseTriage, str, AnswerValue]] = []
    for patient, qid, before, value in steps[:2000]:
        session = domain.Session(
            revision=1,
            questionnaire_id=fever.id,
            questionnaire_version=fever.version,
            questionnaire_hash=fever.hash,
            language="sv",
            patient=patient,
            answers=tuple(before.items()),
            rules=tuple(() for _ in before),
            current=qid,
            last_activity_at=now,
        )
        state = domain.CaseTriage(
            case_id=uuid.uuid4(),
            patient_id="p-1",
            region="Uppsala",
            status=domain.Status.IN_PROGRESS,
            session=session,
        )
        prepared.append((state, qid, value))

    def command(item: tuple[domain.CaseTriage, str, AnswerValue]) -> object:
        state, qid, value = item
        for event in domain.decide_answer(state, fever, qid, value, "p-1", now):
            state = domain.evolve(state, event)
        return state

    command_ns: list[int] = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(ROUNDS):
        for item in prepared:
            start = clock()
            command(item)
            command_ns.append(clock() - start)

    engine_p = percentiles(engine_ns)
    base_p = percentiles(baseline_ns)
    command_p = percentiles(command_ns)
    return [
        {
            "name": "triage_eval_answer",
            "questionnaire": "fever",
            "steps": len(steps),
            "samples": len(engine_ns),
            **engine_p,
            "baseline": "the same questionnaire hand-written as if/else",
            "baseline_p50_ms": base_p["p50_ms"],
            "baseline_p99_ms": base_p["p99_ms"],
            "ratio_to_baseline": round(engine_p["p99_ms"] / base_p["p99_ms"], 2),
            "disagreements_with_baseline": disagreements,
            "budget_p99_ms": BUDGET_P99_MS,
            "within_budget": engine_p["p99_ms"] < BUDGET_P99_MS,
        },
        {
            "name": "triage_decide_answer",
            "questionnaire": "fever",
            "samples": len(command_ns),
            **command_p,
            "baseline": "triage_eval_answer (the evaluation alone)",
            "baseline_p99_ms": engine_p["p99_ms"],
            "ratio_to_baseline": round(command_p["p99_ms"] / engine_p["p99_ms"], 2),
        },
    ]


if __name__ == "__main__":
    import asyncio
    import json

    print(json.dumps(asyncio.run(run("", "")), indent=2))
