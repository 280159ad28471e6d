"""Which events become journal entries, and how entries are chained in their lanes.

Every chat and video contact is documented as a physical visit would be
(HSLF-FS 2016:40): the patient's identity, the contact, the responsible
professional's name and title, and the time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from careflow.contracts import (
    CaseClosed,
    Event,
    MessageSent,
    Professional,
    TriageCompleted,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.journal_events import JournalEntryCorrected, JournalNoteSigned

GENESIS = "0" * 64
#: Entries written before lanes existed (migration 0002) keep their one chain per case.
LEGACY_LANE = "case"
#: How entries sort for reading when they happened at the same instant.
KIND_RANK = {
    "triage_summary": 0,
    "contact_started": 1,
    "video_started": 2,
    "message": 3,
    "video_ended": 4,
    "documentation_note": 5,
    "correction": 6,
    "signature": 7,
}

#: One chain: (case, lane).
LaneKey = tuple[UUID, str]


@dataclass(frozen=True)
class EntryDraft:
    """A journal entry before it takes its place in its lane's chain."""

    case_id: UUID
    source_event_id: UUID
    kind: str
    occurred_at: datetime
    author_id: str
    author_role: str
    professional_name: str | None
    professional_title: str | None
    care_unit: str | None
    content: dict[str, Any]
    lane: str = LEGACY_LANE
    corrects_event_id: UUID | None = None


def _draft(
    event: Event, kind: str, professional: Professional | None, content: dict[str, Any]
) -> EntryDraft:
    return EntryDraft(
        case_id=event.case_id,
        source_event_id=event.event_id,
        kind=kind,
        occurred_at=event.occurred_at,
        author_id=event.actor.id,
        author_role=event.actor.role.value,
        professional_name=professional.name if professional else None,
        professional_title=professional.title if professional else None,
        care_unit=professional.care_unit if professional else None,
        content=content,
        lane=lane_of(event),
    )


def lane_of(event: Event) -> str:
    """The chain an event's entry joins: the service that owns the event's topic."""
    return type(event).OWNER or event.producer


def draft_for(event: Event) -> EntryDraft | None:
    """The journal entry an event calls for, or None when it is not documented."""
    if isinstance(event, TriageCompleted):
        return _draft(
            event,
            "triage_summary",
            None,
            {
                "questionnaire": f"{event.questionnaire_id}@{event.questionnaire_version}",
                "urgency": int(event.urgency),
                "recommendation": event.recommendation.value,
                "rules_fired": list(event.rules_fired),
                "revision": event.revision,
                "answers": {a.question_id: a.value for a in event.answers},
            },
        )
    if isinstance(event, TurnReached):
        return _draft(
            event,
            "contact_started",
            event.professional,
            {
                "queue": f"{event.queue.region}/{event.queue.skill.value}",
                "channel": "chat",
                "waited_seconds": event.waited_seconds,
            },
        )
    if isinstance(event, MessageSent):
        return _draft(
            event,
            "message",
            event.professional,
            {
                "sequence": event.sequence,
                "sender_role": event.sender_role.value,
                "text": event.text,
                "attachments": [a.sha256 for a in event.attachments],
            },
        )
    if isinstance(event, VideoContactStarted):
        return _draft(
            event,
            "video_started",
            event.professional,
            {
                "video_contact_id": str(event.video_contact_id),
                "participants": list(event.participant_ids),
            },
        )
    if isinstance(event, VideoContactEnded):
        return _draft(
            event,
            "video_ended",
            None,
            {
                "video_contact_id": str(event.video_contact_id),
                "duration_seconds": event.duration_seconds,
            },
        )
    if isinstance(event, CaseClosed):
        return _draft(event, "documentation_note", event.professional, closing_note(event))
    if isinstance(event, JournalNoteSigned):
        return _draft(
            event,
            "signature",
            event.professional,
            {
                "signs_event_id": str(event.signs_event_id),
                "signs_entry_hash": event.signs_entry_hash,
                "signed_by": event.professional.staff_id,
                "signed_at": event.occurred_at.astimezone(UTC).isoformat(),
            },
        )
    if isinstance(event, JournalEntryCorrected):
        draft = _draft(
            event,
            "correction",
            event.professional,
            {
                "corrects_entry_hash": event.corrects_entry_hash,
                "reason": event.reason,
                "correction": event.correction,
                "corrected_by": event.professional.staff_id,
            },
        )
        return replace(draft, corrects_event_id=event.corrects_event_id)
    return None


def closing_note(event: CaseClosed) -> dict[str, Any]:
    """The closing note: the outcome with everything it holds, not only the advice.

    The outcome's data (the appointment's time and place, the referral's recipient, the
    renewed prescription, the emergency unit) is written only when the outcome has it, so
    a note without any reads exactly as notes always did.
    """
    content: dict[str, Any] = {
        "outcome": event.outcome.value,
        "advice": event.advice,
        "note": event.documentation_note,
        "signed_by": event.professional.staff_id,
    }
    if event.appointment is not None:
        content["appointment"] = {
            "care_unit": event.appointment.care_unit,
            "starts_at": event.appointment.starts_at.astimezone(UTC).isoformat(),
        }
    for name in ("referral_to", "renewed_prescription", "emergency_unit"):
        if (value := getattr(event, name)) is not None:
            content[name] = value
    return content


def display_key(occurred_at: datetime, kind: str, source_event_id: UUID) -> tuple[Any, ...]:
    """The canonical reading order of a case's entries: it depends on the entries alone."""
    return (occurred_at, KIND_RANK.get(kind, 99), str(source_event_id))


#: The hash version new entries are written with.
HASH_VERSION = 4
#: The newest version whose canonical form is the standard library's ``json.dumps``; an
#: entry whose content version 4 cannot encode (an integer beyond 64 bits) falls back to it.
JSON_HASH_VERSION = 3


def entry_hash(
    prev_hash: str,
    sequence: int,
    draft: EntryDraft,
    patient_pin: str | None,
    version: int = 2,
    row_id: int | None = None,
    recorded_at: datetime | None = None,
) -> str:
    """The hash that chains an entry to the one before it in its lane.

    Version 1 is the walking skeleton's (one chain per case, before lanes); version 2
    adds the lane and the corrected event; version 3 covers every column of the row
    besides the hashes themselves: also its id and when it was recorded.
    """
    d = draft
    if version >= 4:
        return _entry_hash_v4(prev_hash, sequence, d, patient_pin, version, row_id, recorded_at)
    # The same body as json.dumps(asdict(draft), default=str) would give, built by hand:
    # asdict deep-copies and dominates the cost of verifying a million entries.
    body: dict[str, Any] = {
        "case_id": str(d.case_id),
        "source_event_id": str(d.source_event_id),
        "kind": d.kind,
        "occurred_at": str(d.occurred_at),
        "author_id": d.author_id,
        "author_role": d.author_role,
        "professional_name": d.professional_name,
        "professional_title": d.professional_title,
        "care_unit": d.care_unit,
        "content": d.content,
        "sequence": sequence,
        "patient": patient_pin,
    }
    if version != 1:
        body["lane"] = d.lane
        body["corrects_event_id"] = str(d.corrects_event_id) if d.corrects_event_id else None
    if version >= 3:
        body["id"] = row_id
        body["recorded_at"] = recorded_at.astimezone(UTC).isoformat() if recorded_at else None
        body["hash_version"] = version
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _entry_hash_v4(
    prev_hash: str,
    sequence: int,
    d: EntryDraft,
    patient_pin: str | None,
    version: int,
    row_id: int | None,
    recorded_at: datetime | None,
) -> str:
    """Version 4 covers what version 3 does, encoded by orjson (sorted keys, UTF-8, ids and
    times in their RFC forms): a tenth of ``json.dumps``'s cost, which was most of what
    verifying a million entries took. Versions 1-3 keep their encoding, so old chains verify.
    """
    body = {
        "case_id": d.case_id,
        "source_event_id": d.source_event_id,
        "kind": d.kind,
        "occurred_at": d.occurred_at,
        "author_id": d.author_id,
        "author_role": d.author_role,
        "professional_name": d.professional_name,
        "professional_title": d.professional_title,
        "care_unit": d.care_unit,
        "content": d.content,
        "sequence": sequence,
        "patient": patient_pin,
        "lane": d.lane,
        "corrects_event_id": d.corrects_event_id,
        "id": row_id,
        "recorded_at": recorded_at.astimezone(UTC) if recorded_at else None,
        # The stored version is hashed too: a row relabelled to another version must not verify.
        "hash_version": version,
    }
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the database holds it, for verification."""

    sequence: int
    draft: EntryDraft
    patient_pin: str | None
    prev_hash: str
    entry_hash: str
    hash_version: int = 2
    #: The row's id and when the journal recorded it (hashed from version 3 on).
    id: int | None = None
    recorded_at: datetime | None = None

    def recomputed(self, prev_hash: str | None = None, sequence: int | None = None) -> str:
        """The entry's hash recomputed from its content (at another place, if given)."""
        return entry_hash(
            self.prev_hash if prev_hash is None else prev_hash,
            self.sequence if sequence is None else sequence,
            self.draft,
            self.patient_pin,
            self.hash_version,
            self.id,
            self.recorded_at,
        )


def chain(
    drafts: Iterable[tuple[EntryDraft, str | None]],
    last_sequence: int,
    last_hash: str,
    rows: Iterable[tuple[int, datetime]] | None = None,
) -> list[StoredEntry]:
    """Place drafts (with their patient) after a lane's last entry, in the order given.

    With ``rows`` (each entry's row id and recording time, in the same order) the
    entries are hashed with ``HASH_VERSION``, which covers them; without, with version 2
    (kept for tools that let the database number the rows).
    """
    placed: list[StoredEntry] = []
    seq, prev = last_sequence, last_hash
    where = iter(rows) if rows is not None else None
    for draft, pin in drafts:
        seq += 1
        if where is None:
            digest = entry_hash(prev, seq, draft, pin)
            placed.append(StoredEntry(seq, draft, pin, prev, digest))
        else:
            row_id, at = next(where)
            version = HASH_VERSION
            try:
                digest = entry_hash(prev, seq, draft, pin, version, row_id, at)
            except orjson.JSONEncodeError:
                version = JSON_HASH_VERSION
                digest = entry_hash(prev, seq, draft, pin, version, row_id, at)
            placed.append(StoredEntry(seq, draft, pin, prev, digest, version, row_id, at))
        prev = digest
    return placed


def by_lane(drafts: Sequence[EntryDraft]) -> dict[LaneKey, list[EntryDraft]]:
    """Drafts grouped by chain (order kept within each), each source event once.

    Keys come sorted, so writers that lock the chains in this order never deadlock.
    """
    seen: set[UUID] = set()
    lanes: dict[LaneKey, list[EntryDraft]] = {}
    for d in drafts:
        if d.source_event_id in seen:
            continue
        seen.add(d.source_event_id)
        lanes.setdefault((d.case_id, d.lane), []).append(d)
    return {k: lanes[k] for k in sorted(lanes, key=lambda k: (str(k[0]), k[1]))}


def extend_lanes(
    lanes: Mapping[LaneKey, Sequence[EntryDraft]],
    heads: Mapping[LaneKey, tuple[int, str]],
    pins: Mapping[UUID, str],
    row_ids: Sequence[int],
    recorded_at: datetime,
) -> list[StoredEntry]:
    """Chain each lane's drafts after its head (``(sequence, hash)``; none: a new chain),
    the rows taking ``row_ids`` in order, all recorded at ``recorded_at``."""
    placed: list[StoredEntry] = []
    ids = iter(row_ids)
    for key, drafts in lanes.items():
        last_seq, last_hash = heads.get(key, (0, GENESIS))
        rows = [(next(ids), recorded_at) for _ in drafts]
        placed.extend(chain([(d, pins.get(d.case_id)) for d in drafts], last_seq, last_hash, rows))
    return placed
