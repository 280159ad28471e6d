"""Signing: the responsible professional signs a documentation note, as an act of its own.

Closing a case writes the note; the law wants it signed (PDL ch. 3), so signing is an
explicit command with its time and signer, recorded as a new entry next to the note (the
note itself never changes). Notes left unsigned are listed to their author, and flagged
once they have waited longer than the region allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from careflow.contracts import Actor, ActorRole, Event, Professional
from careflow.contracts.journal_events import JournalNoteSigned
from careflow.journal.domain.entries import StoredEntry
from careflow.kit.clock import natural_id
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound

#: The kinds of entry a professional signs.
SIGNED_KINDS = frozenset({"documentation_note"})


@dataclass(frozen=True)
class NoteSignature:
    """Whether one note is signed (the stream ``journal-signature-<note's event>``)."""

    signed_by: str | None = None
    signed_at: datetime | None = None


def evolve_signature(state: NoteSignature, event: Event) -> NoteSignature:
    """Apply one event of a note's signature stream."""
    if isinstance(event, JournalNoteSigned):
        return NoteSignature(signed_by=event.professional.staff_id, signed_at=event.occurred_at)
    return state


def signature_id(source_event_id: UUID) -> UUID:
    """A note is signed once: its signature's event id comes from the note."""
    return natural_id("journal", "signature", str(source_event_id))


def decide_signature(
    state: NoteSignature,
    target: StoredEntry | None,
    professional: Professional,
    staff_id: str,
    now: datetime,
) -> list[Event]:
    """The responsible professional (the note's author) signs it, once."""
    if target is None:
        raise NotFound("no such entry in this case's journal")
    if target.draft.kind not in SIGNED_KINDS:
        raise Invalid(f"only a documentation note is signed, not a {target.draft.kind}")
    if target.draft.author_id != staff_id:
        raise Forbidden("only the responsible professional who wrote the note signs it")
    if state.signed_by is not None:
        raise Conflict(f"the note is already signed, at {state.signed_at:%Y-%m-%d %H:%M} UTC")
    return [
        JournalNoteSigned(
            event_id=signature_id(target.draft.source_event_id),
            case_id=target.draft.case_id,
            occurred_at=now,
            producer="journal",
            correlation_id=target.draft.case_id,
            causation_id=target.draft.source_event_id,
            actor=Actor(id=staff_id, role=ActorRole.STAFF),
            signs_event_id=target.draft.source_event_id,
            signs_entry_hash=target.entry_hash,
            professional=professional,
        )
    ]


def is_overdue(written_at: datetime, now: datetime, flag_after: timedelta) -> bool:
    """Whether an unsigned note has waited long enough to be flagged to its author."""
    return now - written_at >= flag_after
