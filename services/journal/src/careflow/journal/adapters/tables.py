"""Journal's tables as they are now (migrations 0001-0003 create them; they never import this).

``journal_entries``, ``journal_checkpoints``, ``journal_access_log`` and
``journal_consents`` refuse UPDATE, DELETE and TRUNCATE with a trigger, and the
service's runtime role (``careflow_journal_writer``, migrations 0002 and 0006) holds no
such rights on them: the database itself keeps the record append-only
(Patientdatalagen 2008:355).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

#: The runtime role: reads and appends the record, never changes or removes it.
WRITER_ROLE = "careflow_journal_writer"

schema = MetaData()

#: Each case's patient, from its CaseOpened: who an entry names.
journal_patients = Table(
    "journal_patients",
    schema,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("patient_id", String(128), nullable=False),
    Column("personal_identity_number", String(12), nullable=False),
    Column("region", String(64), nullable=False),
)

journal_entries = Table(
    "journal_entries",
    schema,
    # 0005: by default (the projector draws the ids first: version 3 hashes them).
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("lane", String(16), nullable=False),
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
    Column("corrects_event_id", PgUUID(as_uuid=True), nullable=True),
    Column("hash_version", SmallInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    UniqueConstraint("case_id", "lane", "sequence", name="journal_entries_lane_sequence_key"),
)

#: Events waiting for their case's CaseOpened (the patient's identity) before they are chained.
journal_parked = Table(
    "journal_parked",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("payload", JSONB, nullable=False),
)

#: Every event the journal consumed, per case: the timeline and the state at a moment.
journal_case_events = Table(
    "journal_case_events",
    schema,
    Column("event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("journal_case_events_case_idx", "case_id", "occurred_at"),
)

journal_checkpoints = Table(
    "journal_checkpoints",
    schema,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("max_entry_id", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
    Column("chains", Integer, nullable=False),
    Column("merkle_root", String(64), nullable=False),
    Column("previous_checkpoint_hash", String(64), nullable=False),
    Column("checkpoint_hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("leaves", JSONB, nullable=False),
)

journal_access_log = Table(
    "journal_access_log",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reader_id", String(128), nullable=False),
    Column("reader_role", String(16), nullable=False),
    Column("reader_name", String(200), nullable=True),
    Column("reader_title", String(100), nullable=True),
    Column("care_unit", String(200), nullable=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("patient_id", String(128), nullable=False),
    Column("action", String(40), nullable=False),
    Column("purpose", String(500), nullable=False),
    Column("emergency", Boolean, nullable=False, server_default="false"),
    # 0003: own_provider | consent | emergency | withheld | blocked (domain.access_basis);
    # null before.
    Column("basis", String(16), nullable=True),
    Index("journal_access_log_patient_idx", "patient_id", "at"),
    # 0008: the auditor's search and monthly sample by care unit and period.
    Index("journal_access_log_unit_idx", "care_unit", "at"),
)

#: 0003: every consent and block event, projected in the transaction that records it in the
#: event store (the stream ``journal-consent-<case>`` is the source of truth) and again,
#: idempotently, when the projector meets it on the topic. Append-only; a case's current
#: consents are its rows folded in order.
journal_consents = Table(
    "journal_consents",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Index("journal_consents_case_idx", "case_id", "id"),
)

#: 0004: the care units and professionals each case's events named (append-only): staff read
#: a case only within such a care relation.
journal_care_relations = Table(
    "journal_care_relations",
    schema,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("staff_id", String(64), primary_key=True),
    Column("care_unit", String(200), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), nullable=False),
)

#: Who signed which documentation note, and when (0007); append-only like the record.
journal_signatures = Table(
    "journal_signatures",
    schema,
    Column("signs_event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("signed_by", String(64), nullable=False),
    Column("signed_at", DateTime(timezone=True), nullable=False),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
)

#: 0008: a reviewer's conclusion on one read of a monthly sample check (``domain.sampling``),
#: append-only like the record: a changed mind is a new row, the latest one counts.
journal_sample_conclusions = Table(
    "journal_sample_conclusions",
    schema,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("care_unit", String(200), nullable=False),
    Column("month", String(7), nullable=False),
    Column("seed", String(200), nullable=False),
    Column("access_id", BigInteger, nullable=False),
    Column("conclusion", String(2000), nullable=False),
    Column("reviewer_id", String(128), nullable=False),
    Column("reviewer_name", String(200), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("journal_sample_conclusions_idx", "region", "care_unit", "month", "seed"),
)
