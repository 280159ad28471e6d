"""Signed checkpoints: a Merkle root over every chain's head, signed and chained.

Lanes are not chained to each other; a checkpoint binds all of them together,
so an attacker with the database alone cannot rewrite history without the
signed heads outside it disagreeing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from careflow.contracts import Actor, ActorRole
from careflow.contracts.journal_events import JOURNAL_LOG_KEY, JournalCheckpointed
from careflow.journal.domain.entries import GENESIS
from careflow.kit.clock import natural_id


@dataclass(frozen=True)
class Leaf:
    """A signed checkpoint's statement about one chain: its length and head hash."""

    case_id: UUID
    lane: str
    length: int
    head: str


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
    #: The checkpoint hash as stored or exported alongside (verification recomputes it).
    claimed_hash: str = ""

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
        """The hash the next checkpoint chains to."""
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


def checkpointed(cp: Checkpoint) -> JournalCheckpointed:
    """The event that publishes a checkpoint.

    Its id derives from the signed statement, so publishing the same checkpoint
    twice is one event.
    """
    return JournalCheckpointed(
        event_id=natural_id("journal-checkpoint", cp.checkpoint_hash),
        case_id=JOURNAL_LOG_KEY,
        occurred_at=cp.created_at,
        producer="journal",
        correlation_id=JOURNAL_LOG_KEY,
        actor=Actor(id="journal", role=ActorRole.SYSTEM),
        checkpoint_number=cp.number,
        entries=cp.entries,
        chains=cp.chains,
        merkle_root=cp.merkle_root,
        previous_checkpoint_hash=cp.previous_checkpoint_hash,
        checkpoint_hash=cp.checkpoint_hash,
        signature=cp.signature,
        public_key=cp.public_key,
    )
