"""Journal's event store, inbox, patients and the append-only record.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from careflow.kit.migrations import create_event_store_v1

revision = "0001"
down_revision = None

# The function's body is stored as written (indentation included): keep it byte for byte.
REFUSE_CHANGE = """
    CREATE FUNCTION journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the journal is append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$
    """


def upgrade() -> None:
    create_event_store_v1(op)
    op.create_table(
        "journal_patients",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("personal_identity_number", sa.String(12), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
    )
    # One chain per case at first; 0002 adds lanes.
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("source_event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("patient_pin", sa.String(12), nullable=True),
        sa.Column("author_id", sa.String(128), nullable=False),
        sa.Column("author_role", sa.String(16), nullable=False),
        sa.Column("professional_name", sa.String(200), nullable=True),
        sa.Column("professional_title", sa.String(100), nullable=True),
        sa.Column("care_unit", sa.String(200), nullable=True),
        sa.Column("content", JSONB, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "sequence", name="journal_entries_case_sequence_key"),
    )
    # The database keeps the record append-only, whoever connects.
    op.execute(REFUSE_CHANGE)
    op.execute(
        """
        CREATE TRIGGER journal_entries_no_update_delete BEFORE UPDATE OR DELETE ON journal_entries
        FOR EACH ROW EXECUTE FUNCTION journal_refuse_change()
        """
    )
    op.execute(
        """
        CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
        FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change()
        """
    )
