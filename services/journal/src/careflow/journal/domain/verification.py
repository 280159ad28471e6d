"""Verification: recompute the chains and say what was done to them, if anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from careflow.journal.domain.checkpoints import Checkpoint, Leaf, merkle_root
from careflow.journal.domain.entries import GENESIS, StoredEntry


@dataclass(frozen=True)
class Problem:
    """One thing verification found wrong, and where."""

    kind: str  # modified | deleted | inserted | reordered | truncated | rewritten | signature
    case_id: UUID | None
    lane: str | None
    sequence: int | None
    detail: str


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
    """A case's verdict: valid, or where its first problem is."""

    valid: bool
    entries: int
    first_broken_sequence: int | None
    reason: str | None


def verify_case(
    entries: Sequence[StoredEntry],
    checkpoint: Checkpoint | None = None,
    trusted_public_key: str | None = None,
) -> Verification:
    """A case's verdict in the HTTP API's terms: every lane's chain, held against the
    signed checkpoint (verified with the pinned key) when there is one; first problem named."""
    signed: dict[str, Leaf] = {}
    if checkpoint is not None:
        if trusted_public_key is None:
            raise ValueError("a checkpoint is verified with a pinned public key only")
        bad = verify_checkpoint(checkpoint, trusted_public_key)
        if bad:
            return Verification(False, len(entries), None, f"signature: {bad[0].detail}")
        case_ids = {e.draft.case_id for e in entries}
        signed = {x.lane: x for x in checkpoint.leaves if x.case_id in case_ids}
    lanes: dict[str, list[StoredEntry]] = {}
    for e in entries:
        lanes.setdefault(e.draft.lane, []).append(e)
    for lane, rows in sorted(lanes.items()):
        rows.sort(key=lambda r: r.sequence)
        found = verify_lane(rows[0].draft.case_id, lane, rows, signed.get(lane))
        if found:
            p = found[0]
            return Verification(False, len(entries), p.sequence, f"{p.kind} ({lane}): {p.detail}")
    for lane in sorted(signed):
        if lane not in lanes:
            return Verification(
                False, len(entries), 1, f"truncated ({lane}): the whole signed chain is gone"
            )
    return Verification(True, len(entries), None, None)


def verify_checkpoint(
    cp: Checkpoint, trusted_public_key: str, max_entry_id: tuple[int, int] | None = None
) -> list[Problem]:
    """A checkpoint is genuine: signed by the pinned key (never the key the checkpoint
    names itself: anyone can sign a forgery with a key of their own), its stored hash and
    root are those of its statement and leaves, and (``(stored, recomputed)``) it covers
    the entries it says it covers."""

    def problem(detail: str) -> Problem:
        return Problem("signature", None, None, None, f"checkpoint {cp.number}: {detail}")

    problems: list[Problem] = []
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(trusted_public_key)).verify(
            bytes.fromhex(cp.signature), cp.statement()
        )
    except (InvalidSignature, ValueError):
        problems.append(problem("bad signature (not made by the pinned key)"))
    if cp.public_key != trusted_public_key:
        problems.append(problem("names another signer than the pinned key"))
    if cp.claimed_hash and cp.claimed_hash != cp.checkpoint_hash:
        problems.append(problem("its stored hash is not the hash of its statement"))
    if merkle_root(cp.leaves) != cp.merkle_root:
        problems.append(problem("leaves do not match"))
    if max_entry_id is not None and max_entry_id[0] != max_entry_id[1]:
        problems.append(problem("the entries it covers are not the ones it says"))
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
