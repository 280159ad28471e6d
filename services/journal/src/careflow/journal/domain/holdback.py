"""The one hold-back rule: an entry waits until its case's patient is known.

An entry names the patient by number, which only ``CasePatientIdentified`` tells
(identity answers each ``CaseOpened`` with it, on a topic only the journal reads;
no other topic carries the number). An event of a case whose patient is not
identified yet is parked, in arrival order, and released when the identification
arrives (identity sends it right after the case opens, so parking is short). Nothing
else waits, so no clock or watermark is involved and the chains do not depend on
consumer lag.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from uuid import UUID

from careflow.contracts import CasePatientIdentified, Event
from careflow.journal.domain.entries import EntryDraft, draft_for


@dataclass(frozen=True)
class HoldBack:
    """What a batch of consumed events does to the record."""

    #: Drafts to chain now, in order: released ones first, then the batch's.
    ready: list[EntryDraft]
    #: Events whose case's patient is not known yet: parked, in arrival order.
    park: list[Event]


def identified(events: Sequence[Event]) -> list[CasePatientIdentified]:
    """The batch's ``CasePatientIdentified`` events: each names its case's patient."""
    return [e for e in events if isinstance(e, CasePatientIdentified)]


def to_release(events: Sequence[Event]) -> list[UUID]:
    """Cases whose parked events this batch releases: those it identifies the patient of."""
    return [e.case_id for e in identified(events)]


def hold_back(
    events: Sequence[Event], released: Sequence[Event], patient_known: Collection[UUID]
) -> HoldBack:
    """Decide, for every documented event, whether its entry is chained now or parked.

    ``released`` are the parked events of the cases this batch identifies (arrival
    order); ``patient_known`` the cases whose patient is known, this batch's
    ``CasePatientIdentified`` included. Released events go first: they arrived earlier.
    """
    ready = [d for e in released if (d := draft_for(e)) is not None]
    park: list[Event] = []
    for event in events:
        draft = draft_for(event)
        if draft is None:
            continue
        if draft.case_id in patient_known:
            ready.append(draft)
        else:
            park.append(event)
    return HoldBack(ready, park)
