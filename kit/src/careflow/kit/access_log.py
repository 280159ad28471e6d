"""The access log every service keeps of staff and auditors reading health data.

The Swedish rule (and ASVS V7/V8 at level 3) is that every read of a patient's health data
by staff is logged: who (subject id, which for staff is their HSA id, role, name, title,
care unit), which case, what was read, on which basis, for what purpose, and when (the
injected clock's time). Patients reading their own case are not logged.

Each service keeps its own table (no service reads another's), created by a frozen
migration (``careflow.kit.migrations.create_access_log_v1``) and described by
``access_log_table``; an entry is written with ``record_access`` and committed before the
read it records is answered (in the read's own transaction, or in one of its own after
reads spread over several connections), so a read whose entry cannot be written is not
served.

``access_log_router`` serves an auditor two ways in: one case's entries, and a search of the
region's entries by reader, care unit, period and case ids, the same in every service that
mounts it, so an auditor's search can fan out to every service and name which one logged
each read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import cache
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Identity,
    MetaData,
    String,
    Table,
    cast,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from careflow.kit.auth import Principal, require
from careflow.kit.cases import case_patients, require_case_access
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Invalid
from careflow.kit.problems import problems

#: The roles whose reads are logged.
LOGGED_ROLES = ("staff", "auditor")
#: The basis of an auditor's read: audit of their own region's care.
BASIS_AUDIT = "audit"
#: The purpose recorded for an auditor's read.
PURPOSE_AUDIT = "audit of the region's care"
#: What an auditor's search of the access log is recorded as, per case it showed.
WHAT_SEARCH = "access_log_search"
#: The most entries one search returns (newest first), and the most case ids it takes.
SEARCH_LIMIT = 500
MAX_SEARCH_CASES = 200
#: Days are Swedish: a read at 00:30 in Stockholm belongs to that date.
ZONE = "Europe/Stockholm"


@dataclass(frozen=True)
class AccessEntry:
    """One read of one case's health data by staff or an auditor."""

    reader_id: str
    reader_role: str
    reader_name: str | None
    reader_title: str | None
    care_unit: str | None
    case_id: UUID
    what: str
    basis: str
    purpose: str
    at: datetime


def staff_read(
    caller: Principal,
    case_id: UUID,
    what: str,
    basis: str,
    purpose: str,
    now: datetime,
) -> AccessEntry | None:
    """The entry a read by ``caller`` needs; None for the patient side, which is not logged.

    An auditor's read is always recorded with the audit basis and purpose, whatever the
    caller passes: an auditor never reads for care.
    """
    if caller.role not in LOGGED_ROLES:
        return None
    auditor = caller.role == "auditor"
    return AccessEntry(
        reader_id=caller.subject_id,
        reader_role=caller.role,
        reader_name=caller.name,
        reader_title=caller.title,
        care_unit=caller.care_unit,
        case_id=case_id,
        what=what,
        basis=BASIS_AUDIT if auditor else basis,
        purpose=PURPOSE_AUDIT if auditor else purpose,
        at=now,
    )


def staff_reads(
    caller: Principal,
    case_ids: Iterable[UUID],
    what: str,
    basis: str,
    purpose: str,
    now: datetime,
) -> list[AccessEntry]:
    """One entry per case a list shows ``caller`` (a worklist names each case it shows)."""
    entries = (staff_read(caller, c, what, basis, purpose, now) for c in dict.fromkeys(case_ids))
    return [e for e in entries if e is not None]


def access_log_table(metadata: MetaData, name: str) -> Table:
    """The access-log table ``name`` as the code reads and writes it.

    The same table ``careflow.kit.migrations.create_access_log_v1`` creates.
    """
    return Table(
        name,
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("reader_id", String(128), nullable=False),
        Column("reader_role", String(16), nullable=False),
        Column("reader_name", String(200), nullable=True),
        Column("reader_title", String(100), nullable=True),
        Column("care_unit", String(200), nullable=True),
        Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
        Column("what", String(40), nullable=False),
        Column("basis", String(40), nullable=False),
        Column("purpose", String(200), nullable=False),
    )


#: What one reader's reads share (all but the case), in the order of ``AccessEntry``.
_SHARED = tuple(f.name for f in fields(AccessEntry) if f.name != "case_id")


@cache
def _insert_reads(table: Table, skip_repeats: bool) -> TextClause:
    """One statement for many cases read alike: the shared values once, the cases as an
    array. A worklist logs dozens of cases, and a row of parameters for each cost more
    than the read it recorded. ``skip_repeats`` leaves out each case this reader already
    read alike (the same what, basis and purpose) within ``:repeat_within`` before."""
    shared = ", ".join(
        f"CAST(:{name} AS timestamptz)" if name == "at" else f"CAST(:{name} AS text)"
        for name in _SHARED
    )
    repeats = (
        f' WHERE NOT EXISTS (SELECT 1 FROM "{table.name}" AS seen'
        " WHERE seen.case_id = read.case_id AND seen.reader_id = CAST(:reader_id AS text)"
        " AND seen.what = CAST(:what AS text) AND seen.basis = CAST(:basis AS text)"
        " AND seen.purpose = CAST(:purpose AS text)"
        " AND seen.at > CAST(:at AS timestamptz) - CAST(:repeat_within AS interval))"
        if skip_repeats
        else ""
    )
    return text(
        f'INSERT INTO "{table.name}" (case_id, {", ".join(_SHARED)})'
        f" SELECT read.case_id, {shared}"
        " FROM unnest(CAST(:case_ids AS uuid[])) WITH ORDINALITY AS read(case_id, n)"
        f"{repeats} ORDER BY read.n"
    )


async def record_access(
    conn: AsyncConnection,
    table: Table,
    entries: AccessEntry | Sequence[AccessEntry] | None,
    repeat_within: timedelta | None = None,
) -> None:
    """Write access-log entries on ``conn`` (in its transaction, or each statement
    committing on an autocommit connection): one statement for each reader's reads alike
    (the same what, basis, purpose and time), the cases in the order given.

    With ``repeat_within``, a read is not written again when the log already holds the same
    reader's read alike of that case within that time before it: a page that follows a case
    live asks every second, and an entry per second would bury the reads an auditor looks
    for. The entry that is there is checked in the same transaction, so a read is never
    served without one.
    """
    if entries is None:
        return
    listed = [entries] if isinstance(entries, AccessEntry) else entries
    alike: dict[tuple[Any, ...], list[UUID]] = {}
    for e in listed:
        alike.setdefault(tuple(getattr(e, name) for name in _SHARED), []).append(e.case_id)
    statement = _insert_reads(table, repeat_within is not None)
    extra = {} if repeat_within is None else {"repeat_within": repeat_within}
    for shared, case_ids in alike.items():
        values = {**dict(zip(_SHARED, shared, strict=True)), "case_ids": case_ids, **extra}
        await conn.execute(statement, values)


async def read_access_log(
    conn: AsyncConnection, table: Table, case_id: UUID
) -> list[dict[str, Any]]:
    """A case's access-log entries, oldest first."""
    rows = await conn.execute(select(table).where(table.c.case_id == case_id).order_by(table.c.id))
    return [dict(r._mapping) for r in rows]


@dataclass(frozen=True)
class AccessSearch:
    """An auditor's search of the access log: every criterion given must match."""

    reader: str | None = None
    care_unit: str | None = None
    since: date | None = None
    until: date | None = None
    case_ids: tuple[UUID, ...] = ()

    @classmethod
    def of(
        cls,
        reader: str | None,
        care_unit: str | None,
        since: date | None,
        until: date | None,
        case_ids: Sequence[UUID] = (),
    ) -> AccessSearch:
        """A search with at least one criterion, a period that does not end before it
        starts and at most ``MAX_SEARCH_CASES`` case ids; ``Invalid`` otherwise."""
        who = reader.strip() if reader else None
        unit = care_unit.strip() if care_unit else None
        cases = tuple(dict.fromkeys(case_ids))
        if since is not None and until is not None and since > until:
            raise Invalid("the period starts after it ends")
        if len(cases) > MAX_SEARCH_CASES:
            raise Invalid(f"search at most {MAX_SEARCH_CASES} cases at once")
        if not (who or unit or since or until or cases):
            raise Invalid("search by reader, care unit, period or case")
        return cls(who or None, unit or None, since, until, cases)


async def search_access_log(
    conn: AsyncConnection, table: Table, region: str, wanted: AccessSearch, limit: int
) -> list[dict[str, Any]]:
    """Entries of ``region``'s cases matching every criterion of ``wanted``, newest first.

    ``reader`` matches the reader's id exactly or part of their name; ``since`` and ``until``
    are Swedish days, both included. A case is the region's by the service's own copy of
    ``case_patients``.
    """
    day = cast(func.timezone(literal(ZONE), table.c.at), Date)
    query = (
        select(table)
        .join(case_patients, case_patients.c.case_id == table.c.case_id)
        .where(case_patients.c.region == region)
        .order_by(table.c.id.desc())
        .limit(limit)
    )
    if wanted.reader is not None:
        escaped = wanted.reader.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            (table.c.reader_id == wanted.reader) | table.c.reader_name.ilike(f"%{escaped}%")
        )
    if wanted.care_unit is not None:
        query = query.where(table.c.care_unit == wanted.care_unit)
    if wanted.since is not None:
        query = query.where(day >= wanted.since)
    if wanted.until is not None:
        query = query.where(day <= wanted.until)
    if wanted.case_ids:
        query = query.where(table.c.case_id.in_(wanted.case_ids))
    return [dict(r._mapping) for r in await conn.execute(query)]


#: Annotations are strings here (``from __future__``): FastAPI resolves this one by name.
Auditor = Annotated[Principal, Depends(require("auditor"))]


class AccessRecord(BaseModel):
    """One access-log entry as an auditor reads it."""

    id: int
    at: datetime
    reader_id: str
    reader_role: str
    reader_name: str | None
    reader_title: str | None
    care_unit: str | None
    case_id: UUID
    what: str
    basis: str
    purpose: str


def access_log_router(db: Database, table: Table, clock: Clock) -> APIRouter:
    """For the region's auditors: ``GET /cases/{case_id}/access-log``, who read a case's
    health data (a case of another region, or unknown, is 404), and ``GET /access-log``, the
    search of the region's entries by reader, care unit, period and case ids.

    Each case a search shows is itself logged as the auditor's read (``WHAT_SEARCH``), after
    the entries it returns, at ``clock``'s time."""
    api = APIRouter(tags=["access log"])

    @api.get("/cases/{case_id}/access-log", responses=problems(404))
    async def case_access_log(case_id: UUID, caller: Auditor) -> list[AccessRecord]:
        """Every read of this case's health data by staff or auditors, oldest first."""
        async with db.transaction() as conn:
            await require_case_access(conn, case_id, caller)
            rows = await read_access_log(conn, table, case_id)
        return [AccessRecord.model_validate(r) for r in rows]

    @api.get("/access-log", responses=problems(403, 422))
    async def search(
        caller: Auditor,
        reader: Annotated[
            str | None, Query(max_length=200, description="HSA id, or part of the name.")
        ] = None,
        care_unit: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[date | None, Query(description="First day (Europe/Stockholm).")] = None,
        until: Annotated[date | None, Query(description="Last day, included.")] = None,
        case_id: Annotated[
            list[UUID] | None, Query(description=f"At most {MAX_SEARCH_CASES} cases.")
        ] = None,
    ) -> list[AccessRecord]:
        """The region's reads matching every criterion given (at least one), newest first,
        at most ``SEARCH_LIMIT``."""
        wanted = AccessSearch.of(reader, care_unit, since, until, case_id or ())
        async with db.transaction() as conn:
            rows = await search_access_log(conn, table, caller.region, wanted, SEARCH_LIMIT)
            shown = [r["case_id"] for r in rows]
            now = clock.now()
            entries = staff_reads(caller, shown, WHAT_SEARCH, BASIS_AUDIT, PURPOSE_AUDIT, now)
            await record_access(conn, table, entries)
        return [AccessRecord.model_validate(r) for r in rows]

    return api
