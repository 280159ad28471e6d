"""Journal's database: the append-only record and the patients it documents.

``journal_entries`` refuses UPDATE, DELETE and TRUNCATE with a trigger: the
database itself keeps the record append-only (Patientdatalagen 2008:355).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseOpened
from careflow.journal import domain

metadata = MetaData()

journal_patients = Table(
    "journal_patients",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("patient_id", String(128), nullable=False),
    Column("personal_identity_number", String(12), nullable=False),
    Column("region", String(64), nullable=False),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("source_event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("kind", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("patient_pin", String(12), nullable=True),
    Column("author_id", String(128), nullable=False),
    Column("author_role", String(16), nullable=False),
    Column("professional_name", String(200), nullable=True),
    Column("professional_title", String(100), nullable=True),
    Column("care_unit", String(200), nullable=True),
    Column("content", JSONB, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    UniqueConstraint("case_id", "sequence", name="journal_entries_case_sequence_key"),
)

APPEND_ONLY_DDL = [
    """
    CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the journal is append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """,
    """
    CREATE TRIGGER journal_entries_no_update_delete BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
    """,
    """
    CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
    """,
]


async def record_patient(conn: AsyncConnection, event: CaseOpened) -> None:
    await conn.execute(
        insert(journal_patients)
        .values(
            case_id=event.case_id,
            patient_id=event.patient_id,
            personal_identity_number=event.personal_identity_number,
            region=event.region,
        )
        .on_conflict_do_nothing()
    )


async def append_entry(conn: AsyncConnection, draft: domain.EntryDraft) -> None:
    """Add an entry at the end of its case's chain."""
    # One writer per case chain at a time, even with several journal replicas.
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": str(draft.case_id)}
    )
    last = (
        await conn.execute(
            select(journal_entries.c.sequence, journal_entries.c.entry_hash)
            .where(journal_entries.c.case_id == draft.case_id)
            .order_by(journal_entries.c.sequence.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last.sequence + 1, last.entry_hash) if last else (1, domain.GENESIS)
    pin = (
        await conn.execute(
            select(journal_patients.c.personal_identity_number).where(
                journal_patients.c.case_id == draft.case_id
            )
        )
    ).scalar_one_or_none()
    await conn.execute(
        insert(journal_entries).values(
            case_id=draft.case_id,
            sequence=seq,
            source_event_id=draft.source_event_id,
            kind=draft.kind,
            occurred_at=draft.occurred_at,
            patient_pin=pin,
            author_id=draft.author_id,
            author_role=draft.author_role,
            professional_name=draft.professional_name,
            professional_title=draft.professional_title,
            care_unit=draft.care_unit,
            content=draft.content,
            prev_hash=prev,
            entry_hash=domain.entry_hash(prev, seq, draft, pin),
        )
    )


async def entries(conn: AsyncConnection, case_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(journal_entries)
        .where(journal_entries.c.case_id == case_id)
        .order_by(journal_entries.c.sequence)
    )
    return [dict(r._mapping) for r in rows]


def as_chain_item(
    row: dict[str, Any],
) -> tuple[int, domain.EntryDraft, str | None, str, str]:
    draft = domain.EntryDraft(
        case_id=row["case_id"],
        source_event_id=row["source_event_id"],
        kind=row["kind"],
        occurred_at=row["occurred_at"],
        author_id=row["author_id"],
        author_role=row["author_role"],
        professional_name=row["professional_name"],
        professional_title=row["professional_title"],
        care_unit=row["care_unit"],
        content=row["content"],
    )
    return row["sequence"], draft, row["patient_pin"], row["prev_hash"], row["entry_hash"]


async def region_of(conn: AsyncConnection, case_id: UUID) -> str | None:
    return (
        await conn.execute(
            select(journal_patients.c.region).where(journal_patients.c.case_id == case_id)
        )
    ).scalar_one_or_none()
