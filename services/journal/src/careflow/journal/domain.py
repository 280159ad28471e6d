"""Journal rules: which events become journal entries, what an entry holds, and its hash chain.

Pure: no I/O. Every chat and video contact is documented as a physical visit
would be (HSLF-FS 2016:40): the patient's identity, the contact, the
responsible professional's name and title, and the time. Entries of one case
form a hash chain: each entry's hash covers its content and the previous
hash, so a changed, removed or reordered entry breaks every later link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

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

GENESIS = "0" * 64


@dataclass(frozen=True)
class EntryDraft:
    """A journal entry before it takes its place in the case's chain."""

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
    )


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
        return _draft(
            event,
            "documentation_note",
            event.professional,
            {
                "outcome": event.outcome.value,
                "advice": event.advice,
                "note": event.documentation_note,
                "signed_by": event.professional.staff_id,
            },
        )
    return None


def entry_hash(prev_hash: str, sequence: int, draft: EntryDraft, patient_pin: str | None) -> str:
    """The hash that chains an entry to the one before it."""
    body = {**asdict(draft), "sequence": sequence, "patient": patient_pin}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_sequence: int | None
    reason: str | None


def verify_chain(
    entries: Sequence[tuple[int, EntryDraft, str | None, str, str]],
) -> Verification:
    """Recompute a case's chain: (sequence, draft, patient, prev_hash, hash) in sequence order."""
    prev = GENESIS
    for expected_seq, (seq, draft, patient, stored_prev, stored_hash) in enumerate(entries, 1):
        if seq != expected_seq:
            return Verification(False, len(entries), seq, f"sequence {expected_seq} is missing")
        if stored_prev != prev:
            return Verification(False, len(entries), seq, "link to the previous entry is broken")
        if entry_hash(prev, seq, draft, patient) != stored_hash:
            return Verification(False, len(entries), seq, "entry content does not match its hash")
        prev = stored_hash
    return Verification(True, len(entries), None, None)
