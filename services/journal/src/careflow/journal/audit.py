"""What an auditor runs against the journal's database: verification and completeness.

``careflow journal verify`` and ``careflow journal completeness`` are thin
wrappers around these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.journal import adapters, domain

#: Events that must each have an entry (every message and video contact; the rest too).
DOCUMENTED = (
    "TriageCompleted",
    "TurnReached",
    "MessageSent",
    "VideoContactStarted",
    "VideoContactEnded",
    "CaseClosed",
    "JournalEntryCorrected",
)


@dataclass
class VerifyReport:
    entries: int = 0
    chains: int = 0
    checkpoint: int | None = None
    problems: list[domain.Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


async def verify_database(
    conn: AsyncConnection,
    checkpoint: domain.Checkpoint | None,
    trusted_public_key: str | None = None,
    case_ids: Sequence[UUID] | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Recompute every chain (or some cases') and hold them against a signed checkpoint."""
    report = VerifyReport(checkpoint=checkpoint.number if checkpoint else None)
    signed: dict[tuple[UUID, str], domain.Leaf] = {}
    if checkpoint is not None:
        report.problems.extend(domain.verify_checkpoint(checkpoint, trusted_public_key))
        wanted = set(case_ids) if case_ids is not None else None
        signed = {
            (x.case_id, x.lane): x
            for x in checkpoint.leaves
            if wanted is None or x.case_id in wanted
        }
    seen: set[tuple[UUID, str]] = set()
    # Streamed chain by chain, so a million entries never sit in memory at once.
    async for case_id, lane, rows in adapters.stream_lanes(conn, case_ids):
        report.entries += len(rows)
        report.chains += 1
        seen.add((case_id, lane))
        report.problems.extend(domain.verify_lane(case_id, lane, rows, signed.get((case_id, lane))))
        if progress is not None:
            progress(len(rows))
    report.problems.extend(domain.missing_chains(signed, seen))
    return report


@dataclass
class CompletenessReport:
    events_checked: int
    entries: int
    missing: list[tuple[str, UUID, UUID]]  # (event type, event id, case id)
    parked: list[UUID]
    without_source: list[tuple[UUID, UUID]]  # (case id, source event id)

    @property
    def complete(self) -> bool:
        return not (self.missing or self.without_source)


async def completeness(conn: AsyncConnection, log: Iterable[Event]) -> CompletenessReport:
    """Every documented event in the log has its entry, and every entry has its event."""
    documented = {e.event_id: e for e in log if e.event_type in DOCUMENTED}
    recorded = await adapters.sources(conn)
    parked = await adapters.parked_event_ids(conn)
    missing = [
        (e.event_type, e.event_id, e.case_id)
        for i, e in documented.items()
        if i not in recorded and i not in parked
    ]
    without = [(c, i) for i, c in recorded.items() if i not in documented]
    return CompletenessReport(
        len(documented), len(recorded), missing, sorted(parked & set(documented)), without
    )
