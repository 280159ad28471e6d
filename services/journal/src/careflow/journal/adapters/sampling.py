"""An auditor's search of the access log, the reads a monthly sample is drawn from, and
the reviewers' conclusions on a sample (append-only)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, cast, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.journal.adapters.tables import (
    journal_access_log,
    journal_patients,
    journal_sample_conclusions,
)

#: Days and months are Swedish: a read at 00:30 in Stockholm belongs to that date.
ZONE = "Europe/Stockholm"


def _day() -> Any:
    return cast(func.timezone(literal(ZONE), journal_access_log.c.at), Date)


async def search_accesses(
    conn: AsyncConnection,
    region: str,
    pin: str | None,
    reader: str | None,
    care_unit: str | None,
    since: date | None,
    until: date | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Logged reads of the region's cases matching every criterion, the newest first.

    ``reader`` matches the reader's id exactly or part of their name; ``since`` and
    ``until`` are days, both included.
    """
    a, p = journal_access_log, journal_patients
    query = (
        select(a)
        .join(p, p.c.case_id == a.c.case_id)
        .where(p.c.region == region)
        .order_by(a.c.id.desc())
        .limit(limit)
    )
    if pin is not None:
        query = query.where(p.c.personal_identity_number == pin)
    if reader is not None:
        escaped = reader.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where((a.c.reader_id == reader) | a.c.reader_name.ilike(f"%{escaped}%"))
    if care_unit is not None:
        query = query.where(a.c.care_unit == care_unit)
    if since is not None:
        query = query.where(_day() >= since)
    if until is not None:
        query = query.where(_day() <= until)
    return [dict(r._mapping) for r in await conn.execute(query)]


async def unit_reads(
    conn: AsyncConnection, region: str, care_unit: str, first: date, end: date
) -> list[int]:
    """The ids of the care unit's logged reads of the region's cases in ``[first, end)``,
    auditors' own reads left out (an audit is not what a sample check reviews, and
    counting it would change the sample each time one is exported)."""
    a, p = journal_access_log, journal_patients
    rows = await conn.execute(
        select(a.c.id)
        .join(p, p.c.case_id == a.c.case_id)
        .where(
            p.c.region == region,
            a.c.care_unit == care_unit,
            a.c.reader_role != "auditor",
            _day() >= first,
            _day() < end,
        )
    )
    return [int(r.id) for r in rows]


async def accesses(conn: AsyncConnection, ids: list[int]) -> list[dict[str, Any]]:
    """These logged reads, in log order."""
    if not ids:
        return []
    a = journal_access_log
    rows = await conn.execute(select(a).where(a.c.id.in_(ids)).order_by(a.c.id))
    return [dict(r._mapping) for r in rows]


async def conclusions(
    conn: AsyncConnection, region: str, care_unit: str, month: str, seed: str
) -> list[dict[str, Any]]:
    """Every conclusion recorded on this sample, oldest first."""
    c = journal_sample_conclusions
    rows = await conn.execute(
        select(c)
        .where(c.c.region == region, c.c.care_unit == care_unit, c.c.month == month)
        .where(c.c.seed == seed)
        .order_by(c.c.id)
    )
    return [dict(r._mapping) for r in rows]


async def add_conclusion(
    conn: AsyncConnection,
    *,
    region: str,
    care_unit: str,
    month: str,
    seed: str,
    access_id: int,
    conclusion: str,
    reviewer_id: str,
    reviewer_name: str | None,
    recorded_at: datetime,
) -> dict[str, Any]:
    """Append one conclusion; the row as stored."""
    row = await conn.execute(
        insert(journal_sample_conclusions)
        .values(
            region=region,
            care_unit=care_unit,
            month=month,
            seed=seed,
            access_id=access_id,
            conclusion=conclusion,
            reviewer_id=reviewer_id,
            reviewer_name=reviewer_name,
            recorded_at=recorded_at,
        )
        .returning(journal_sample_conclusions)
    )
    return dict(row.one()._mapping)
