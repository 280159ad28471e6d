"""Who a case belongs to, as every service that serves patients needs to know.

A service that authorises patients on a case consumes CaseOpened into its own
copy of this small table (no service reads another's tables) and asks
``may_act_for`` before showing or changing anything.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseOpened
from careflow.kit.auth import Principal
from careflow.kit.domain import NotFound

metadata = MetaData()

case_patients = Table(
    "case_patients",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("patient_id", String(128), nullable=False),
    Column("acting_guardian_id", String(128), nullable=True),
    Column("region", String(64), nullable=False),
)


async def record_case_opened(conn: AsyncConnection, event: CaseOpened) -> None:
    """Handler for CaseOpened: remember whose case it is."""
    await conn.execute(
        insert(case_patients)
        .values(
            case_id=event.case_id,
            patient_id=event.patient_id,
            acting_guardian_id=event.acting_guardian_id,
            region=event.region,
        )
        .on_conflict_do_nothing()
    )


async def require_case_access(conn: AsyncConnection, case_id: UUID, caller: Principal) -> str:
    """The case's patient id if ``caller`` may see the case; ``NotFound`` otherwise.

    Patients see their own cases and those of a child they act for; staff (and auditors)
    see the cases of their own region. Every guardian of the child reaches the child's cases,
    not only the one who opened the case: identity puts ``acting_for`` in a token only after
    checking the population register, at login and at every refresh. A case one
    may not see is reported as not found, so its existence leaks nothing.
    """
    row = (
        await conn.execute(select(case_patients).where(case_patients.c.case_id == case_id))
    ).first()
    if row is None:
        raise NotFound("no such case")
    if caller.role in ("staff", "auditor"):
        if caller.region != row.region:
            raise NotFound("no such case")
        return str(row.patient_id)
    if (caller.acting_for or caller.subject_id) == row.patient_id:
        return str(row.patient_id)
    raise NotFound("no such case")
