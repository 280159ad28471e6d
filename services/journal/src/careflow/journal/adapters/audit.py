"""What an auditor searches: the cases of a region by patient, professional or day."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.journal.adapters.tables import journal_access_log, journal_entries, journal_patients

#: Days are Swedish days: a case read at 00:30 in Stockholm belongs to that date.
ZONE = "Europe/Stockholm"


async def search_cases(
    conn: AsyncConnection,
    region: str,
    pin: str | None,
    professional: str | None,
    on: date | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The region's cases matching every criterion given, the most recent first."""
    p, e = journal_patients, journal_entries
    day = cast(func.timezone(literal(ZONE), e.c.occurred_at), Date)
    query = (
        select(
            p.c.case_id,
            p.c.region,
            func.min(e.c.occurred_at).label("first_at"),
            func.max(e.c.occurred_at).label("last_at"),
            func.count(e.c.id).label("entries"),
            func.array_remove(func.array_agg(func.distinct(e.c.professional_name)), None).label(
                "professionals"
            ),
        )
        .select_from(p.outerjoin(e, e.c.case_id == p.c.case_id))
        .where(p.c.region == region)
        .group_by(p.c.case_id, p.c.region)
        .order_by(func.max(e.c.occurred_at).desc().nulls_last())
        .limit(limit)
    )
    if pin is not None:
        query = query.where(p.c.personal_identity_number == pin)
    if professional is not None:
        escaped = professional.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        needle = f"%{escaped}%"
        query = query.having(func.bool_or(e.c.professional_name.ilike(needle)))
    if on is not None:
        query = query.having(func.bool_or(day == on))
    return [dict(r._mapping) for r in await conn.execute(query)]


async def patients_cases(conn: AsyncConnection, region: str, pin: str) -> list[Any]:
    """The (case id, patient id) of every case of this patient in the region."""
    p = journal_patients
    rows = await conn.execute(
        select(p.c.case_id, p.c.patient_id).where(
            p.c.region == region, p.c.personal_identity_number == pin
        )
    )
    return list(rows)


async def access_of_cases(conn: AsyncConnection, case_ids: list[Any]) -> list[dict[str, Any]]:
    """Every logged read of these cases, oldest first."""
    if not case_ids:
        return []
    a = journal_access_log
    rows = await conn.execute(select(a).where(a.c.case_id.in_(case_ids)).order_by(a.c.id))
    return [dict(r._mapping) for r in rows]
