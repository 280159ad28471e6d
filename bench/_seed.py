"""Waiting cases seeded straight into queue's schema, as its TriageCompleted handler would
write them (events plus waiting rows): shared by the benchmarks that need a long queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, text

from careflow.contracts import (
    Actor,
    ActorRole,
    Recommendation,
    TriageCompleted,
)
from careflow.kit import eventstore
from careflow.kit.db import Database
from careflow.queue import adapters, domain
from careflow.queue.domain import Waiting


def triage_of(w: Waiting) -> TriageCompleted:
    """The triage that would have placed ``w`` in its queue."""
    return TriageCompleted(
        case_id=w.case_id,
        occurred_at=w.waiting_since,
        producer="bench",
        correlation_id=w.case_id,
        actor=Actor(id="p-bench", role=ActorRole.PATIENT),
        revision=1,
        questionnaire_id="q",
        questionnaire_version="1",
        questionnaire_hash="h",
        answers=(),
        rules_fired=("bench",),
        urgency=w.urgency,
        recommendation=Recommendation.DIGITAL_CONTACT,
        target_queue=w.queue,
    )


async def seed_waiting(
    db: Database,
    cases: list[Waiting],
    *,
    placed_at: datetime | None = None,
    empty_first: bool = False,
) -> None:
    """Queue every case as the TriageCompleted handler would: events plus waiting rows.

    ``placed_at``: when the cases were placed (default: each one's own waiting time);
    ``empty_first``: empty the waiting room, events and turns before (a fresh schema).
    """
    batch = []
    for w in cases:
        at = placed_at or w.waiting_since
        [queued] = domain.decide_place(domain.QueuedCase(), triage_of(w), at)
        batch.append((adapters.stream_id(w.case_id), 0, [queued]))
    async with db.transaction() as conn:
        if empty_first:
            await conn.execute(text("TRUNCATE waiting_cases, events, turns"))
        for i in range(0, len(batch), 2000):
            await eventstore.append_many(conn, batch[i : i + 2000])
        await conn.execute(
            insert(adapters.waiting_cases),
            [
                {
                    "case_id": w.case_id,
                    "region": w.queue.region,
                    "skill": w.queue.skill.value,
                    "urgency": int(w.urgency),
                    "waiting_since": w.waiting_since,
                }
                for w in cases
            ],
        )
        # Nothing is published in a benchmark: keep the relay's outbox index small.
        await conn.execute(text("UPDATE events SET published_at = now()"))
        await conn.execute(text("ANALYZE waiting_cases"))
        await conn.execute(text("ANALYZE events"))
