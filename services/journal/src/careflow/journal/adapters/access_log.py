"""The access log: every read of a patient's record, who, when, why and on what ground."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.journal.adapters.tables import journal_access_log


async def log_access(conn: AsyncConnection, **row: Any) -> None:
    """Record one read of a patient's record (same transaction as the read itself)."""
    await conn.execute(insert(journal_access_log).values(**row))


async def access_extract(conn: AsyncConnection, patient_id: str) -> list[dict[str, Any]]:
    """Who read this patient's record, when, and why."""
    rows = await conn.execute(
        select(journal_access_log)
        .where(journal_access_log.c.patient_id == patient_id)
        .order_by(journal_access_log.c.id)
    )
    return [dict(r._mapping) for r in rows]
