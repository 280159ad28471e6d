"""Chains per (case, lane), parked events, case event log, signed checkpoints, access log,
and a runtime role that cannot change or remove the record.

Entries written before this migration keep their one chain per case: lane
``case``, hash version 1, verified as they were written.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"

#: The runtime role: reads and appends the record, never changes or removes it.
WRITER_ROLE = "careflow_journal_writer"
#: Append-only tables besides journal_entries (0001 guards that one).
APPEND_ONLY_TABLES = ["journal_checkpoints", "journal_access_log"]


def upgrade() -> None:
    op.execute("ALTER TABLE journal_entries ADD COLUMN lane varchar(16) NOT NULL DEFAULT 'case'")
    op.execute("ALTER TABLE journal_entries ALTER COLUMN lane DROP DEFAULT")
    op.execute("ALTER TABLE journal_entries ADD COLUMN corrects_event_id uuid")
    op.execute("ALTER TABLE journal_entries ADD COLUMN hash_version smallint NOT NULL DEFAULT 1")
    op.execute("ALTER TABLE journal_entries ALTER COLUMN hash_version DROP DEFAULT")
    op.execute("ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_case_sequence_key")
    op.execute(
        "ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_lane_sequence_key "
        "UNIQUE (case_id, lane, sequence)"
    )
    _create_tables()
    for table in APPEND_ONLY_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()"
        )
    # The role the service runs as in production (DATABASE_URL names a login role that is a
    # member of it). Roles are cluster-wide, so it may exist already (another schema).
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER_ROLE}') THEN
                CREATE ROLE {WRITER_ROLE} NOLOGIN;
            END IF;
        END $$
        """
    )
    op.execute(
        f"""
        DO $$ DECLARE s text := current_schema(); BEGIN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {WRITER_ROLE}', s);
            -- Plumbing the service changes as it works: inbox, outbox marks, parked events.
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I
                            TO {WRITER_ROLE}', s);
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {WRITER_ROLE}', s);
            -- The record itself: read and append, nothing else.
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I.journal_entries,
                            %I.journal_checkpoints, %I.journal_access_log,
                            %I.journal_patients, %I.journal_case_events
                            FROM {WRITER_ROLE}', s, s, s, s, s);
        END $$
        """
    )


def _create_tables() -> None:
    # Events waiting for their case's CaseOpened (the patient's identity) before they are chained.
    op.create_table(
        "journal_parked",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index("ix_journal_parked_case_id", "journal_parked", ["case_id"])
    # Every event the journal consumed, per case: the timeline and the state at a moment.
    op.create_table(
        "journal_case_events",
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index(
        "journal_case_events_case_idx", "journal_case_events", ["case_id", "occurred_at"]
    )
    op.create_table(
        "journal_checkpoints",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_entry_id", sa.BigInteger, nullable=False),
        sa.Column("entries", sa.BigInteger, nullable=False),
        sa.Column("chains", sa.Integer, nullable=False),
        sa.Column("merkle_root", sa.String(64), nullable=False),
        sa.Column("previous_checkpoint_hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("leaves", JSONB, nullable=False),
    )
    op.create_table(
        "journal_access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("reader_id", sa.String(128), nullable=False),
        sa.Column("reader_role", sa.String(16), nullable=False),
        sa.Column("reader_name", sa.String(200), nullable=True),
        sa.Column("reader_title", sa.String(100), nullable=True),
        sa.Column("care_unit", sa.String(200), nullable=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False, server_default="false"),
    )
    op.create_index("journal_access_log_patient_idx", "journal_access_log", ["patient_id", "at"])
