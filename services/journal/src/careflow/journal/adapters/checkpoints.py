"""Signed checkpoints as stored (append-only) and as exported to files."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.journal import domain
from careflow.journal.adapters.tables import journal_checkpoints, journal_entries

#: The event-store stream of ``JournalCheckpointed``: checkpoint n is its version n.
CHECKPOINT_STREAM = "journal-checkpoints"
#: One checkpointer at a time, whatever the replicas.
_LOCK = 0x6A6F75726E616C


async def lock(conn: AsyncConnection) -> None:
    """Take the checkpointer's transaction lock."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})


async def all_leaves(conn: AsyncConnection) -> tuple[list[domain.Leaf], int]:
    """Every chain's (length, head) now, and the highest entry id they cover."""
    rows = await conn.execute(
        select(
            journal_entries.c.case_id,
            journal_entries.c.lane,
            journal_entries.c.sequence,
            journal_entries.c.entry_hash,
            journal_entries.c.id,
        )
        .distinct(journal_entries.c.case_id, journal_entries.c.lane)
        .order_by(
            journal_entries.c.case_id, journal_entries.c.lane, journal_entries.c.sequence.desc()
        )
    )
    leaves, max_id = [], 0
    for r in rows:
        leaves.append(domain.Leaf(r.case_id, r.lane, r.sequence, r.entry_hash))
        max_id = max(max_id, r.id)
    return leaves, max_id


async def max_entry_id(conn: AsyncConnection) -> int:
    """The highest entry id (0 when the record is empty)."""
    return int(
        (await conn.execute(select(func.coalesce(func.max(journal_entries.c.id), 0)))).scalar_one()
    )


def checkpoint_to_json(cp: domain.Checkpoint) -> dict[str, Any]:
    """A checkpoint as exported to files (and stored): everything a verifier needs."""
    return {
        "number": cp.number,
        "created_at": cp.created_at.isoformat(),
        "entries": cp.entries,
        "chains": cp.chains,
        "merkle_root": cp.merkle_root,
        "previous_checkpoint_hash": cp.previous_checkpoint_hash,
        "checkpoint_hash": cp.checkpoint_hash,
        "signature": cp.signature,
        "public_key": cp.public_key,
        "leaves": [[str(x.case_id), x.lane, x.length, x.head] for x in cp.leaves],
    }


def checkpoint_from_json(data: dict[str, Any]) -> domain.Checkpoint:
    """A checkpoint read back from its JSON form."""
    return domain.Checkpoint(
        number=data["number"],
        entries=data["entries"],
        chains=data["chains"],
        merkle_root=data["merkle_root"],
        previous_checkpoint_hash=data["previous_checkpoint_hash"],
        created_at=datetime.fromisoformat(data["created_at"]),
        signature=data["signature"],
        public_key=data["public_key"],
        leaves=tuple(domain.Leaf(UUID(c), lane, n, h) for c, lane, n, h in data["leaves"]),
        claimed_hash=data.get("checkpoint_hash", ""),
    )


async def latest_checkpoint(conn: AsyncConnection) -> tuple[domain.Checkpoint, int] | None:
    """The newest stored checkpoint and the highest entry id it covers, if any."""
    row = (
        await conn.execute(
            select(journal_checkpoints).order_by(journal_checkpoints.c.number.desc()).limit(1)
        )
    ).first()
    if row is None:
        return None
    m = dict(row._mapping)
    m["created_at"] = m["created_at"].isoformat()
    return checkpoint_from_json(m), row.max_entry_id


async def store_checkpoint(conn: AsyncConnection, cp: domain.Checkpoint, max_id: int) -> None:
    """Store a signed checkpoint (append-only)."""
    data = checkpoint_to_json(cp)
    data["created_at"] = cp.created_at
    data.pop("checkpoint_hash")
    await conn.execute(
        insert(journal_checkpoints).values(
            **data, checkpoint_hash=cp.checkpoint_hash, max_entry_id=max_id
        )
    )
