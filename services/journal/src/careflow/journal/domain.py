"""Journal rules: which events become entries, their hash chains, checkpoints and verification.

Pure: no I/O, the time passed in. Every chat and video contact is documented as
a physical visit would be (HSLF-FS 2016:40): the patient's identity, the
contact, the responsible professional's name and title, and the time.

The record's order must not depend on how the journal's consumer happened to
interleave the topics it reads (one case's events come from triage, queue,
chat and journal itself, on four topics). So a case's entries are chained per
*lane*: one lane per source topic (its owning service). Within a lane the order
is the topic partition's order, which Kafka fixes once and for all (every event
is keyed by case id; a relay re-publish is a later duplicate, dropped by event
id). Two journals reading the same topics, live or rebuilt from offset zero,
so build the same chains with the same hashes whatever the interleaving.
Across lanes there is no chaining: for reading, entries are shown in the
canonical order ``(occurred_at, kind rank, event_id)``, which depends only on
the set of entries. Every chain's head is covered by the signed checkpoints'
Merkle tree, so the whole record is still bound together.

One hold-back rule keeps the entries themselves deterministic: an entry names
the patient, which only ``CaseOpened`` (triage lane) tells. An event of a case
whose ``CaseOpened`` has not arrived yet is parked, in arrival order per lane,
and chained when it arrives (``CaseOpened`` precedes every other event of its
case causally, so parking is short).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from careflow.contracts import (
    Actor,
    CaseClosed,
    CaseOpened,
    CaseQueued,
    Event,
    MessageSent,
    PatientNotified,
    Professional,
    TriageCompleted,
    TurnReached,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.journal_events import (
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockLifted,
    JournalBlockPlaced,
    JournalEntryCorrected,
)
from careflow.kit.domain import Invalid, NotFound

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
}


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


def display_key(occurred_at: datetime, kind: str, source_event_id: UUID) -> tuple[Any, ...]:
    """The canonical reading order of a case's entries: it depends on the entries alone."""
    return (occurred_at, KIND_RANK.get(kind, 99), str(source_event_id))


def entry_hash(
    prev_hash: str, sequence: int, draft: EntryDraft, patient_pin: str | None, version: int = 2
) -> str:
    """The hash that chains an entry to the one before it in its lane.

    Version 1 is the walking skeleton's (one chain per case, before lanes).
    """
    # The same body as json.dumps(asdict(draft), default=str) would give, built by hand:
    # asdict deep-copies and dominates the cost of verifying a million entries.
    d = draft
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
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    """An entry as the database holds it, for verification."""

    sequence: int
    draft: EntryDraft
    patient_pin: str | None
    prev_hash: str
    entry_hash: str
    hash_version: int = 2

    def recomputed(self, prev_hash: str | None = None, sequence: int | None = None) -> str:
        return entry_hash(
            self.prev_hash if prev_hash is None else prev_hash,
            self.sequence if sequence is None else sequence,
            self.draft,
            self.patient_pin,
            self.hash_version,
        )


def chain(
    drafts: Iterable[tuple[EntryDraft, str | None]], last_sequence: int, last_hash: str
) -> list[StoredEntry]:
    """Place drafts (with their patient) after a lane's last entry, in the order given."""
    placed: list[StoredEntry] = []
    seq, prev = last_sequence, last_hash
    for draft, pin in drafts:
        seq += 1
        digest = entry_hash(prev, seq, draft, pin)
        placed.append(StoredEntry(seq, draft, pin, prev, digest))
        prev = digest
    return placed


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing verification found wrong, and where."""

    kind: str  # modified | deleted | inserted | reordered | truncated | rewritten | signature
    case_id: UUID | None
    lane: str | None
    sequence: int | None
    detail: str


@dataclass(frozen=True)
class Leaf:
    """A signed checkpoint's statement about one chain: its length and head hash."""

    case_id: UUID
    lane: str
    length: int
    head: str


def verify_lane(
    case_id: UUID, lane: str, rows: Sequence[StoredEntry], signed: Leaf | None = None
) -> list[Problem]:
    """Recompute one chain (rows in stored sequence order); say what was done to it, if anything.

    Checks, in order: the links and hashes as stored; if they fail, whether the
    rows still form one valid chain in another order (reordered); else the
    first failure, classified as deleted, inserted or modified. Then against the
    signed checkpoint: a chain shorter than signed was truncated; one whose
    signed head no longer matches was rewritten.
    """

    def problem(kind: str, seq: int | None, detail: str) -> list[Problem]:
        return [Problem(kind, case_id, lane, seq, detail)]

    first = _first_failure(rows)
    if first is not None:
        moved = _reordered(rows)
        if moved:
            return problem(
                "reordered",
                moved[0],
                f"entries stored at sequence {', '.join(map(str, moved))} are out of place",
            )
        return problem(*first)
    if signed is not None:
        if len(rows) < signed.length:
            return problem(
                "truncated",
                len(rows) + 1,
                f"the chain ends at {len(rows)} entries; the signed checkpoint has {signed.length}",
            )
        if signed.length and rows[signed.length - 1].entry_hash != signed.head:
            return problem(
                "rewritten",
                signed.length,
                "the chain no longer matches the signed checkpoint's head: "
                "entries up to here were changed and re-hashed",
            )
    return []


def _first_failure(rows: Sequence[StoredEntry]) -> tuple[str, int | None, str] | None:
    prev = GENESIS
    for idx, row in enumerate(rows):
        expected = idx + 1
        if row.sequence > expected:
            return "deleted", expected, f"sequence {expected} is missing"
        if row.sequence < expected:
            return "inserted", row.sequence, f"sequence {row.sequence} appears twice"
        following = rows[idx + 1] if idx + 1 < len(rows) else None
        if (
            following is not None
            and following.prev_hash == prev
            and following.recomputed(sequence=following.sequence - 1) == following.entry_hash
        ):
            # The next entry links past this one: it was slipped in, the rest renumbered.
            return "inserted", row.sequence, "this entry is not part of the original chain"
        if row.prev_hash != prev:
            if idx > 0 and row.recomputed() == row.entry_hash:
                return (
                    "modified",
                    row.sequence - 1,
                    "the entry was changed and re-hashed: the next entry's link no longer fits",
                )
            if row.recomputed(sequence=row.sequence + 1) == row.entry_hash:
                return (
                    "deleted",
                    row.sequence,
                    "an entry before this one was removed and the rest renumbered",
                )
            return "modified", row.sequence, "the link to the previous entry is broken"
        if row.recomputed() != row.entry_hash:
            return "modified", row.sequence, "the entry's content does not match its hash"
        prev = row.entry_hash
    return None


def _reordered(rows: Sequence[StoredEntry]) -> list[int]:
    """Stored sequences out of place, when every row is intact but the order is not."""
    by_prev: dict[str, list[StoredEntry]] = {}
    for row in rows:
        by_prev.setdefault(row.prev_hash, []).append(row)
    head, walked = GENESIS, []
    for position in range(1, len(rows) + 1):
        nxt = next(
            (
                r
                for r in by_prev.get(head, [])
                if r.recomputed(prev_hash=head, sequence=position) == r.entry_hash
            ),
            None,
        )
        if nxt is None:
            return []
        walked.append(nxt)
        head = nxt.entry_hash
    return [r.sequence for pos, r in enumerate(walked, 1) if r.sequence != pos]


@dataclass(frozen=True)
class Verification:
    valid: bool
    entries: int
    first_broken_sequence: int | None
    reason: str | None


def verify_case(entries: Sequence[StoredEntry]) -> Verification:
    """A case's verdict in the HTTP API's terms: every lane's chain, first problem named."""
    lanes: dict[str, list[StoredEntry]] = {}
    for e in entries:
        lanes.setdefault(e.draft.lane, []).append(e)
    for lane, rows in sorted(lanes.items()):
        rows.sort(key=lambda r: r.sequence)
        found = verify_lane(rows[0].draft.case_id, lane, rows)
        if found:
            p = found[0]
            return Verification(False, len(entries), p.sequence, f"{p.kind} ({lane}): {p.detail}")
    return Verification(True, len(entries), None, None)


# --- checkpoints ----------------------------------------------------------------------------


def leaf_hash(leaf: Leaf) -> str:
    """A Merkle leaf: one chain's identity, length and head."""
    return hashlib.sha256(
        f"{leaf.case_id}|{leaf.lane}|{leaf.length}|{leaf.head}".encode()
    ).hexdigest()


def merkle_root(leaves: Iterable[Leaf]) -> str:
    """The root over every chain's head, leaves sorted by (case, lane) so order never matters."""
    level = [
        bytes.fromhex(leaf_hash(leaf))
        for leaf in sorted(leaves, key=lambda x: (str(x.case_id), x.lane))
    ]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0].hex()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement about the whole record at one moment."""

    number: int
    entries: int
    chains: int
    merkle_root: str
    previous_checkpoint_hash: str
    created_at: datetime
    signature: str = ""
    public_key: str = ""
    leaves: tuple[Leaf, ...] = field(default=(), repr=False)

    def statement(self) -> bytes:
        """The exact bytes that are signed."""
        body = {
            "number": self.number,
            "entries": self.entries,
            "chains": self.chains,
            "merkle_root": self.merkle_root,
            "previous_checkpoint_hash": self.previous_checkpoint_hash,
            "created_at": self.created_at.isoformat(),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @property
    def checkpoint_hash(self) -> str:
        return hashlib.sha256(self.statement()).hexdigest()


def public_key_hex(key: Ed25519PrivateKey) -> str:
    """The raw public key, hex: what a verifier needs."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def make_checkpoint(
    leaves: Sequence[Leaf],
    previous: Checkpoint | None,
    key: Ed25519PrivateKey,
    now: datetime,
) -> Checkpoint:
    """Sign the record's chains as they stand, chained to the previous checkpoint."""
    unsigned = Checkpoint(
        number=(previous.number + 1) if previous else 1,
        entries=sum(leaf.length for leaf in leaves),
        chains=len(leaves),
        merkle_root=merkle_root(leaves),
        previous_checkpoint_hash=previous.checkpoint_hash if previous else GENESIS,
        created_at=now,
        leaves=tuple(leaves),
    )
    return replace(
        unsigned,
        signature=key.sign(unsigned.statement()).hex(),
        public_key=public_key_hex(key),
    )


def verify_checkpoint(cp: Checkpoint, trusted_public_key: str | None = None) -> list[Problem]:
    """A checkpoint is genuine: its signature holds and its root is that of its leaves."""
    problems: list[Problem] = []
    key_hex = trusted_public_key or cp.public_key
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(
            bytes.fromhex(cp.signature), cp.statement()
        )
    except (InvalidSignature, ValueError):
        problems.append(
            Problem("signature", None, None, None, f"checkpoint {cp.number}: bad signature")
        )
    if cp.leaves and merkle_root(cp.leaves) != cp.merkle_root:
        problems.append(
            Problem("signature", None, None, None, f"checkpoint {cp.number}: leaves do not match")
        )
    return problems


def missing_chains(
    signed: dict[tuple[UUID, str], Leaf], seen: set[tuple[UUID, str]]
) -> list[Problem]:
    """Chains a checkpoint signed that are no longer there at all."""
    return [
        Problem(
            "truncated",
            leaf.case_id,
            leaf.lane,
            1,
            f"the whole chain ({leaf.length} signed entries) is gone",
        )
        for key, leaf in sorted(signed.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
        if key not in seen
    ]


def verify_record(
    lanes: Iterable[tuple[UUID, str, Sequence[StoredEntry]]], checkpoint: Checkpoint | None
) -> list[Problem]:
    """Verify every chain, and that every chain the checkpoint signed is still there."""
    signed = {(leaf.case_id, leaf.lane): leaf for leaf in checkpoint.leaves} if checkpoint else {}
    problems: list[Problem] = []
    seen: set[tuple[UUID, str]] = set()
    for case_id, lane, rows in lanes:
        seen.add((case_id, lane))
        problems.extend(verify_lane(case_id, lane, rows, signed.get((case_id, lane))))
    return problems + missing_chains(signed, seen)


# --- corrections ----------------------------------------------------------------------------


def decide_correction(
    target: StoredEntry | None,
    professional: Professional,
    staff_id: str,
    correlation_id: UUID,
    reason: str,
    correction: str,
    now: datetime,
) -> list[Event]:
    """A correction is a new entry that names the one it corrects; the original stays."""
    from careflow.contracts import ActorRole

    if target is None:
        raise NotFound("no such entry in this case's journal")
    if not reason.strip() or not correction.strip():
        raise Invalid("a correction needs a reason and the corrected text")
    if target.draft.kind == "correction":
        raise Invalid("correct the original entry, not a correction")
    return [
        JournalEntryCorrected(
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


# --- a case at a moment ---------------------------------------------------------------------


@dataclass(frozen=True)
class CaseState:
    """What a case looked like at one moment, folded from its events."""

    status: str = "unknown"
    region: str | None = None
    urgency: int | None = None
    recommendation: str | None = None
    triage_revision: int = 0
    queue: str | None = None
    professional: str | None = None
    messages: int = 0
    video_active: bool = False
    outcome: str | None = None
    corrections: int = 0
    last_event_type: str | None = None
    last_event_at: datetime | None = None


def evolve_case(state: CaseState, event: Event) -> CaseState:
    """Apply one event of the case's log to its state."""
    s = replace(state, last_event_type=event.event_type, last_event_at=event.occurred_at)
    if isinstance(event, CaseOpened):
        return replace(s, status="opened", region=event.region)
    if isinstance(event, TriageCompleted):
        return replace(
            s,
            status="triaged" if s.status in ("unknown", "opened", "triaged") else s.status,
            urgency=int(event.urgency),
            recommendation=event.recommendation.value,
            triage_revision=event.revision,
        )
    if isinstance(event, CaseQueued):
        return replace(
            s,
            status="waiting" if s.status != "closed" else s.status,
            queue=f"{event.queue.region}/{event.queue.skill.value}",
        )
    if isinstance(event, TurnReached):
        return replace(
            s,
            status="in_contact",
            professional=f"{event.professional.title} {event.professional.name}",
        )
    if isinstance(event, MessageSent):
        return replace(s, messages=s.messages + 1)
    if isinstance(event, VideoContactStarted):
        return replace(s, video_active=True)
    if isinstance(event, VideoContactEnded):
        return replace(s, video_active=False)
    if isinstance(event, CaseClosed):
        return replace(s, status="closed", outcome=event.outcome.value, video_active=False)
    if isinstance(event, JournalEntryCorrected):
        return replace(s, corrections=s.corrections + 1)
    if isinstance(event, PatientNotified):
        return s
    return s


def state_at(events: Sequence[Event], at: datetime) -> CaseState:
    """The case as it stood at ``at``: every event that had happened by then, in causal order."""
    state = CaseState()
    for event in events:
        if event.occurred_at <= at:
            state = evolve_case(state, event)
    return state


def causal_order(events: Iterable[Event]) -> list[Event]:
    """Order by time, but never before the event that caused it; each event once.

    Events from different services carry no causation link to each other in
    every case (TurnReached, a conversation's first message); there the time
    decides, and the event id breaks ties so the order is the same every time.
    """
    unique: dict[UUID, Event] = {}
    for e in events:
        unique.setdefault(e.event_id, e)
    waiting = sorted(unique.values(), key=lambda e: (e.occurred_at, str(e.event_id)))
    placed: list[Event] = []
    seen: set[UUID] = set()
    while waiting:
        for i, e in enumerate(waiting):
            if e.causation_id is None or e.causation_id in seen or e.causation_id not in unique:
                placed.append(e)
                seen.add(e.event_id)
                del waiting[i]
                break
        else:  # a cycle cannot come from real events; show the rest by time
            placed.extend(waiting)
            break
    return placed


# --- consent to another care provider's reading, and the patient's block (Lag 2022:913) ------

#: Why a reader saw what they saw; the access log records it with every read.
OWN_PROVIDER, CONSENT, EMERGENCY, WITHHELD, BLOCKED = (
    "own_provider",
    "consent",
    "emergency",
    "withheld",
    "blocked",
)
#: The grounds on which another provider's reader is shown nothing.
HIDDEN = frozenset({WITHHELD, BLOCKED})


@dataclass(frozen=True)
class CaseConsents:
    """Who besides the writing provider may read a case's entries: the providers the patient
    consents to, unless the patient blocked the entries (spärr)."""

    providers: frozenset[str] = frozenset()
    blocked: bool = False


def evolve_consents(state: CaseConsents, event: Event) -> CaseConsents:
    """Apply one consent or block event of a case's stream."""
    if isinstance(event, ConsentGiven):
        return replace(state, providers=state.providers | {event.provider})
    if isinstance(event, ConsentWithdrawn):
        return replace(state, providers=state.providers - {event.provider})
    if isinstance(event, JournalBlockPlaced):
        return replace(state, blocked=True)
    if isinstance(event, JournalBlockLifted):
        return replace(state, blocked=False)
    return state


def _envelope(case_id: UUID, patient_id: str, actor: Actor, now: datetime) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "occurred_at": now,
        "producer": "journal",
        "correlation_id": case_id,
        "actor": actor,
        "patient_id": patient_id,
    }


def decide_consent(
    state: CaseConsents,
    *,
    give: bool,
    case_id: UUID,
    case_provider: str,
    patient_id: str,
    provider: str,
    actor: Actor,
    now: datetime,
) -> list[Event]:
    """Give or withdraw a care provider's consent; repeating either changes nothing.

    Idempotent so that a patient's retried request never stacks events. The
    provider that wrote the entries reads them without consent, so consent for
    it is refused rather than recorded as meaningless.
    """
    provider = provider.strip()
    if not provider:
        raise Invalid("name the care provider (region) the consent is for")
    if provider == case_provider:
        raise Invalid(
            f"{provider} wrote this record and reads it without consent; "
            "consent is for other care providers"
        )
    if give == (provider in state.providers):
        return []
    envelope = _envelope(case_id, patient_id, actor, now) | {"provider": provider}
    return [ConsentGiven(**envelope) if give else ConsentWithdrawn(**envelope)]


def decide_block(
    state: CaseConsents, *, block: bool, case_id: UUID, patient_id: str, actor: Actor, now: datetime
) -> list[Event]:
    """Place or lift the patient's block (spärr) on the case's entries; repeating changes nothing.

    Consents given stay recorded under a block and apply again once it is lifted.
    """
    if block == state.blocked:
        return []
    envelope = _envelope(case_id, patient_id, actor, now)
    return [JournalBlockPlaced(**envelope) if block else JournalBlockLifted(**envelope)]


def access_basis(
    entry_provider: str, reader_provider: str, consents: CaseConsents, emergency: bool
) -> str:
    """On what ground a reader of ``reader_provider`` sees entries ``entry_provider`` wrote.

    The writing provider always reads its own entries. Another provider never reads
    blocked entries, not even in an emergency (a block binds every other provider).
    Otherwise consent lets it read; emergency access (stated reason, checked by the
    caller) overrides a missing consent; without either the entries are withheld.
    With consent no emergency access is needed, so none is marked.
    """
    if entry_provider == reader_provider:
        return OWN_PROVIDER
    if consents.blocked:
        return BLOCKED
    if reader_provider in consents.providers:
        return CONSENT
    if emergency:
        return EMERGENCY
    return WITHHELD
