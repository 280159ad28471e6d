"""The queue's ordering rule as a plain reference model, and operations to drive it.

Shared by the pure property test and the same property run against PostgreSQL: the
model knows nothing of the service's code, only the rule: most urgent first, then
who has waited longest (case id breaks ties), and who is waiting at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from careflow.contracts import (
    Actor,
    ActorRole,
    Professional,
    QueueRef,
    Recommendation,
    Skill,
    TriageCompleted,
    Urgency,
)
from careflow.queue import domain

START = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
REGIONS = ("Uppsala", "Gotland")
SKILLS = (Skill.NURSE, Skill.DOCTOR)
QUEUED_URGENCIES = (Urgency.ORANGE, Urgency.YELLOW, Urgency.GREEN, Urgency.BLUE)


_CASES = uuid.UUID("5b1e7d3c-0000-4000-8000-000000000000")


def case_uuid(n: int) -> uuid.UUID:
    """Case ids in no particular order, so that their tiebreak is really tested."""
    return uuid.uuid5(_CASES, str(n))


def triage_event(
    n: int, at: datetime, urgency: Urgency, queue: QueueRef | None, revision: int
) -> TriageCompleted:
    """A TriageCompleted as triage would send it (``queue`` None: call 112)."""
    return TriageCompleted(
        case_id=case_uuid(n),
        occurred_at=at,
        producer="triage",
        correlation_id=case_uuid(n),
        actor=Actor(id=f"p-{n}", role=ActorRole.PATIENT),
        revision=revision,
        questionnaire_id="q",
        questionnaire_version="1",
        questionnaire_hash="h",
        answers=(),
        rules_fired=("test",),
        urgency=urgency if queue is not None else Urgency.RED,
        recommendation=(
            Recommendation.DIGITAL_CONTACT if queue is not None else Recommendation.CALL_112
        ),
        target_queue=queue,
    )


def staff(region: str, skills: frozenset[Skill], n: int = 0) -> domain.Staff:
    return domain.Staff(
        professional=Professional(
            staff_id=f"SE-{region}-{n}", name="Test", title="nurse", care_unit="unit"
        ),
        region=region,
        skills=skills,
    )


# --- operations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Enqueue:
    case: int
    urgency: Urgency
    queue: QueueRef | None  # None: triage said call 112


@dataclass(frozen=True)
class Retriage:
    case: int
    urgency: Urgency
    queue: QueueRef | None


@dataclass(frozen=True)
class Claim:
    region: str
    skills: frozenset[Skill]


@dataclass(frozen=True)
class Withdraw:
    case: int


Op = Enqueue | Retriage | Claim | Withdraw

# Weighted towards one busy queue, so that cases meet: ties, overtaking and re-triage
# within one queue are where ordering mistakes show.
_BUSY = QueueRef(region=REGIONS[0], skill=SKILLS[0])
queues = st.sampled_from(
    [_BUSY] * 4
    + [QueueRef(region=REGIONS[0], skill=SKILLS[1]), QueueRef(region=REGIONS[1], skill=SKILLS[0])]
)
maybe_queue = st.one_of(queues, queues, queues, queues, st.none())
urgencies = st.sampled_from([Urgency.YELLOW, Urgency.YELLOW, Urgency.GREEN, *QUEUED_URGENCIES])
skill_sets = st.sampled_from(
    [frozenset({SKILLS[0]})] * 3 + [frozenset({SKILLS[1]}), frozenset(SKILLS)]
)
regions = st.sampled_from([REGIONS[0]] * 4 + [REGIONS[1]])


@st.composite
def operations(draw: st.DrawFn, max_ops: int = 60) -> list[tuple[Op, timedelta]]:
    """A random interleaving of arrivals, re-triages, claims and withdrawals.

    Each operation comes with the time that passes before it; ties in time are
    allowed (zero steps), so the case-id tiebreak is exercised too.
    """
    ops: list[tuple[Op, timedelta]] = []
    cases = 0
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(
            st.sampled_from(["enqueue", "enqueue", "claim", "claim", "retriage", "withdraw"])
        )
        step = timedelta(seconds=draw(st.sampled_from([0, 0, 0, 1, 30, 600])))
        op: Op
        if kind == "enqueue" or cases == 0:
            op = Enqueue(cases, draw(urgencies), draw(maybe_queue))
            cases += 1
        elif kind == "claim":
            op = Claim(draw(regions), draw(skill_sets))
        elif kind == "retriage":
            op = Retriage(draw(st.integers(0, cases - 1)), draw(urgencies), draw(maybe_queue))
        else:
            op = Withdraw(draw(st.integers(0, cases - 1)))
        ops.append((op, step))
    return ops


@dataclass
class Model:
    """Who waits where, by the rule alone."""

    waiting: dict[int, tuple[Urgency, datetime, QueueRef]] = field(default_factory=dict)
    revisions: dict[int, int] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)  # taken or withdrawn: never queued again

    def enqueue(self, case: int, at: datetime, urgency: Urgency, queue: QueueRef | None) -> None:
        self.revisions[case] = 1
        if queue is not None:
            self.waiting[case] = (urgency, at, queue)

    def retriage(self, case: int, at: datetime, urgency: Urgency, queue: QueueRef | None) -> int:
        """A new triage of ``case`` at ``at``; returns its revision number."""
        self.revisions[case] += 1
        if case in self.done:
            return self.revisions[case]
        if queue is None:
            if case in self.waiting:
                self.waiting.pop(case)
                self.done.add(case)
        elif case in self.waiting:  # keeps the original waiting time
            self.waiting[case] = (urgency, self.waiting[case][1], queue)
        else:  # first sent elsewhere, now queued: waits from now
            self.waiting[case] = (urgency, at, queue)
        return self.revisions[case]

    def expected_claim(self, region: str, skills: frozenset[Skill]) -> int | None:
        fits = [
            (int(u), at, str(case_uuid(c)), c)
            for c, (u, at, q) in self.waiting.items()
            if q.region == region and q.skill in skills
        ]
        return min(fits)[3] if fits else None

    def claimed(self, case: int) -> None:
        self.waiting.pop(case)
        self.done.add(case)

    def withdraw(self, case: int) -> bool:
        """True when the withdrawal is allowed (the case waits)."""
        if case in self.waiting:
            self.waiting.pop(case)
            self.done.add(case)
            return True
        return False
