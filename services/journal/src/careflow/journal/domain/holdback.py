"""The one hold-back rule: an entry waits until its case's patient is known.

An entry names the patient, which only ``CaseOpened`` (triage lane) tells. An
event of a case whose ``CaseOpened`` has not arrived yet is parked, in arrival
order, and released when it arrives (``CaseOpened`` precedes every other event
of its case causally, so parking is short). Nothing else waits, so no clock or
watermark is involved and the chains do not depend on consumer lag.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from uuid import UUID

from careflow.contracts import CaseOpened, Event
from careflow.journal.domain.entries import EntryDraft, draft_for


@dataclass(frozen=True)
class HoldBack:
    """What a batch of consumed events does to the record."""

    #: Drafts to chain now, in order: released ones first, then the batch's.
    ready: list[EntryDraft]
    #: Events whose case's patient is not known yet: parked, in arrival order.
    park: list[Event]


def opened(events: Sequence[Event]) -> list[CaseOpened]:
    """The batch's ``CaseOpened`` events: each names its case's patient."""
    return [e for e in events if isinstance(e, CaseOpened)]


def to_release(events: Sequence[Event]) -> list[UUID]:
    """Cases whose parked events this batch releases: those it opens."""
    return [e.case_id for e in opened(events)]


def hold_back(
    events: Sequence[Event], released: Sequence[Event], patient_known: Collection[UUID]
) -> HoldBack:
    """Decide, for every documented event, whether its entry is chained now or parked.

    ``released`` are the parked events of the cases this batch opens (arrival
    order); ``patient_known`` the cases whose patient is known, this batch's
    ``CaseOpened`` included. Released events go first: they arrived earlier.
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
