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
    stored: tuple[domain.Checkpoint, int] | None = None,
) -> VerifyReport:
    """Recompute every chain (or some cases') and hold them against a signed checkpoint.

    Checkpoints are verified with ``trusted_public_key`` only, the pinned signer; without
    one, no checkpoint is accepted. ``stored``: the newest checkpoint the database holds and
    the highest entry id it says it covers; every column of it is checked too (and, when
    the anchor is an exported file of the same number, that the two are the same).
    """
    if (checkpoint is not None or stored is not None) and not trusted_public_key:
        raise ValueError("checkpoints are verified with a pinned public key only")
    report = VerifyReport(checkpoint=checkpoint.number if checkpoint else None)
    signed: dict[tuple[UUID, str], domain.Leaf] = {}
    if checkpoint is not None:
        assert trusted_public_key is not None
        report.problems.extend(domain.verify_checkpoint(checkpoint, trusted_public_key))
        wanted = set(case_ids) if case_ids is not None else None
        signed = {
            (x.case_id, x.lane): x
            for x in checkpoint.leaves
            if wanted is None or x.case_id in wanted
        }
    covered = {(x.case_id, x.lane): x.length for x in stored[0].leaves} if stored else {}
    head_ids: list[int] = []
    seen: set[tuple[UUID, str]] = set()
    # Streamed chain by chain, so a million entries never sit in memory at once.
    async for case_id, lane, rows in adapters.stream_lanes(conn, case_ids):
        report.entries += len(rows)
        report.chains += 1
        seen.add((case_id, lane))
        report.problems.extend(domain.verify_lane(case_id, lane, rows, signed.get((case_id, lane))))
        length = covered.get((case_id, lane))
        if length and len(rows) >= length and rows[length - 1].id is not None:
            head_ids.append(rows[length - 1].id)  # type: ignore[arg-type]
        if progress is not None:
            progress(len(rows))
    report.problems.extend(domain.missing_chains(signed, seen))
    if stored is not None:
        assert trusted_public_key is not None
        db_cp, db_max = stored
        whole = case_ids is None
        report.problems.extend(
            domain.verify_checkpoint(
                db_cp, trusted_public_key, (db_max, max(head_ids, default=0)) if whole else None
            )
        )
        if checkpoint is not None and checkpoint is not db_cp:
            anchor, held = (
                adapters.checkpoint_to_json(checkpoint),
                adapters.checkpoint_to_json(db_cp),
            )
            if checkpoint.number == db_cp.number and anchor != held:
                report.problems.append(
                    domain.Problem(
                        "signature",
                        None,
                        None,
                        None,
                        f"checkpoint {db_cp.number}: the database's copy differs from "
                        "the exported one",
                    )
                )
            elif db_cp.number < checkpoint.number:
                report.problems.append(
                    domain.Problem(
                        "truncated",
                        None,
                        None,
                        None,
                        f"the database holds checkpoints up to {db_cp.number}; "
                        f"{checkpoint.number} was exported",
                    )
                )
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
