"""Signed checkpoints of the whole record, exported outside the database.

Every interval, when the record grew, the checkpointer signs the Merkle root of
every chain's head (Ed25519), stores it (append-only), writes it to a file and
appends a ``JournalCheckpointed`` event to the outbox, which the relay publishes
on ``careflow.journal.events``. An attacker with the database alone cannot
rewrite history without the signed heads outside it disagreeing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from careflow.contracts import Actor, ActorRole
from careflow.contracts.journal_events import JOURNAL_LOG_KEY, JournalCheckpointed
from careflow.journal import adapters, domain
from careflow.kit import eventstore
from careflow.kit.db import Database
from careflow.kit.logging import get_logger

log = get_logger(__name__)

STREAM = "journal-checkpoints"
_LOCK = 0x6A6F75726E616C  # one checkpointer at a time, whatever the replicas


def signing_key(seed_hex: str) -> Ed25519PrivateKey:
    """The journal's Ed25519 key from its 32-byte seed (hex)."""
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def export(directory: Path, cp: domain.Checkpoint) -> Path:
    """Write a checkpoint to ``directory`` atomically; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{cp.number:08d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(adapters.checkpoint_to_json(cp), indent=1))
    os.replace(tmp, path)
    return path


def latest_exported(directory: Path) -> domain.Checkpoint | None:
    """The newest checkpoint file in ``directory``, if any."""
    files = sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []
    if not files:
        return None
    return adapters.checkpoint_from_json(json.loads(files[-1].read_text()))


class Checkpointer:
    """Signs, stores, exports and publishes checkpoints."""

    def __init__(
        self, db: Database, key: Ed25519PrivateKey, directory: Path, interval_seconds: float
    ) -> None:
        self.db = db
        self.key = key
        self.directory = directory
        self.interval_seconds = interval_seconds
        self._stopping = asyncio.Event()

    async def checkpoint(self, now: datetime | None = None) -> domain.Checkpoint | None:
        """Sign the record now, if it grew since the last checkpoint."""
        now = now or datetime.now(UTC)
        async with self.db.transaction() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
            latest = await adapters.latest_checkpoint(conn)
            if latest is not None and latest[1] == await adapters.max_entry_id(conn):
                return None
            leaves, max_id = await adapters.all_leaves(conn)
            cp = domain.make_checkpoint(leaves, latest[0] if latest else None, self.key, now)
            await adapters.store_checkpoint(conn, cp, max_id)
            event = JournalCheckpointed(
                case_id=JOURNAL_LOG_KEY,
                occurred_at=now,
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
            await eventstore.append(conn, STREAM, cp.number - 1, [event])
        export(self.directory, cp)
        log.info("journal_checkpointed", number=cp.number, entries=cp.entries, chains=cp.chains)
        return cp

    async def run(self) -> None:
        """Checkpoint every interval until stopped."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_seconds)
            if self._stopping.is_set():
                break
            try:
                await self.checkpoint()
            except Exception:
                log.exception("journal_checkpoint_failed")

    def stop(self) -> None:
        self._stopping.set()
