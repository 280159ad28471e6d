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
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from careflow.journal import adapters, domain, service
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.logging import get_logger

log = get_logger(__name__)


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
    """Signs, stores, exports and publishes checkpoints, every interval or when asked."""

    def __init__(
        self,
        db: Database,
        key: Ed25519PrivateKey,
        directory: Path,
        interval_seconds: float,
        clock: Clock,
    ) -> None:
        self.db = db
        self.key = key
        self.directory = directory
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._stopping = asyncio.Event()

    async def checkpoint(self) -> domain.Checkpoint | None:
        """Sign the record now, if it grew since the last checkpoint, and export it."""
        cp = await service.checkpoint(self.db, self.clock, self.key)
        if cp is None:
            return None
        # After the commit: a file never names a checkpoint the database does not hold.
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
            except Exception as exc:
                log.exception("journal_checkpoint_failed", error=type(exc).__name__)

    def stop(self) -> None:
        """Ask the loop to finish after the checkpoint in hand."""
        self._stopping.set()
