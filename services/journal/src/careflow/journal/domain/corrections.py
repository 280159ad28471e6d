"""Corrections: a new entry that names the one it corrects; the original stays as it was."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from careflow.contracts import Actor, ActorRole, Event, Professional
from careflow.contracts.journal_events import JournalEntryCorrected
from careflow.journal.domain.entries import StoredEntry
from careflow.kit.domain import Invalid, NotFound


@dataclass(frozen=True)
class CaseCorrections:
    """The corrections decided on one case (the stream ``journal-corrections-<case>``)."""

    count: int = 0


def evolve_corrections(state: CaseCorrections, event: Event) -> CaseCorrections:
    """Apply one event of a case's corrections stream."""
    if isinstance(event, JournalEntryCorrected):
        return CaseCorrections(state.count + 1)
    return state


def corrector(
    staff_id: str, name: str | None, title: str | None, care_unit: str | None
) -> Professional:
    """The professional who signs a correction: name, title and care unit are required."""
    if not (name and title and care_unit):
        raise Invalid("a correction needs the professional's name, title and care unit")
    return Professional(staff_id=staff_id[:64], name=name, title=title, care_unit=care_unit)


def decide_correction(
    target: StoredEntry | None,
    professional: Professional,
    staff_id: str,
    correlation_id: UUID,
    reason: str,
    correction: str,
    now: datetime,
    event_id: UUID,
) -> list[Event]:
    """A correction is a new entry that names the one it corrects; the original stays."""
    if target is None:
        raise NotFound("no such entry in this case's journal")
    if not reason.strip() or not correction.strip():
        raise Invalid("a correction needs a reason and the corrected text")
    if target.draft.kind == "correction":
        raise Invalid("correct the original entry, not a correction")
    return [
        JournalEntryCorrected(
            event_id=event_id,
            case_id=target.draft.case_id,
            occurred_at=now,
            producer="journal",
            correlation_id=correlation_id,
            causation_id=target.draft.source_event_id,
            actor=Actor(id=staff_id, role=ActorRole.STAFF),
            corrects_event_id=target.draft.source_event_id,
            corrects_entry_hash=target.entry_hash,
            reason=reason.strip(),
            correction=correction.strip(),
            professional=professional,
        )
    ]
