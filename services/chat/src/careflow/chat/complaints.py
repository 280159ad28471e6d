"""Complaints about a contact (synpunkter och klagomål): the patient files one, the region's
staff list them. Commands, their table and queries; the rule is ``domain.decide_complaint``.

The complaint is appended to the case's conversation stream (ComplaintFiled, published like
every chat event) and kept in ``complaints`` in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import adapters, domain
from careflow.chat.service import member, sender_of
from careflow.contracts import Event
from careflow.contracts.chat_events import ComplaintFiled
from careflow.kit import access_log
from careflow.kit.auth import Principal
from careflow.kit.cases import case_patients
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden, NotFound

metadata = MetaData()

complaints = Table(
    "complaints",
    metadata,
    Column("complaint_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("region", String(64), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("staff_name", String(200), nullable=False),
    Column("staff_title", String(100), nullable=False),
    Column("category", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Index("complaints_region_idx", "region", "filed_at"),
)

#: Why the region's staff read complaints, as the access log names it.
BASIS_REGION = "staff of the region handling complaints"
PURPOSE_COMPLAINTS = "handle the patient's complaint about a contact"


async def _project(conn: AsyncConnection, events: Sequence[Event]) -> None:
    for event in events:
        if isinstance(event, ComplaintFiled):
            await conn.execute(
                insert(complaints)
                .values(
                    complaint_id=event.complaint_id,
                    case_id=event.case_id,
                    region=event.region,
                    staff_id=event.professional.staff_id,
                    staff_name=event.professional.name,
                    staff_title=event.professional.title,
                    category=event.category,
                    text=event.text,
                    filed_at=event.occurred_at,
                )
                .on_conflict_do_nothing()
            )


async def file(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, category: str, text: str
) -> dict[str, Any]:
    """The patient complains about the case's contact; returns the complaint as filed."""
    if caller.role != "patient":
        raise Forbidden("only the patient may file a complaint about the contact")
    complaint_id, now = clock.new_id(), clock.now()
    async with db.transaction() as conn:
        who = await member(conn, case_id, caller)
        region = await conn.scalar(
            select(case_patients.c.region).where(case_patients.c.case_id == case_id)
        )
        if region is None:
            raise NotFound("no such case")
        _, events = await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: domain.decide_complaint(
                s, who, sender_of(caller), region, category, text, complaint_id, now
            ),
            project=_project,
        )
    (filed,) = events
    assert isinstance(filed, ComplaintFiled)
    return {
        "complaint_id": filed.complaint_id,
        "case_id": filed.case_id,
        "category": filed.category,
        "filed_at": filed.occurred_at,
    }


async def of_region(db: Database, clock: Clock, caller: Principal) -> list[dict[str, Any]]:
    """The complaints about contacts of the caller's region, newest first; each read logged."""
    if caller.role != "staff":
        raise Forbidden("only the region's staff handle complaints")
    async with db.transaction() as conn:
        rows = [
            dict(r._mapping)
            for r in await conn.execute(
                select(complaints)
                .where(complaints.c.region == caller.region)
                .order_by(complaints.c.filed_at.desc())
                .limit(500)
            )
        ]
        entries = access_log.staff_reads(
            caller,
            [r["case_id"] for r in rows],
            "complaints",
            BASIS_REGION,
            PURPOSE_COMPLAINTS,
            clock.now(),
        )
        await access_log.record_access(conn, adapters.access_log, entries)
    return rows
