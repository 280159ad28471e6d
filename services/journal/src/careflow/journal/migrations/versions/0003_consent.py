"""Consent to another care provider's reading and the patient's block (spärr): their read
model, and the ground of each read in the access log.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"

WRITER_ROLE = "careflow_journal_writer"


def upgrade() -> None:
    # Adding a nullable column rewrites no row, so the append-only trigger is not involved;
    # reads logged before this migration keep a null ground. IF NOT EXISTS: schemas migrated
    # while 0002 still created the table from the live definitions have the column already.
    op.execute("ALTER TABLE journal_access_log ADD COLUMN IF NOT EXISTS basis varchar(16)")
    op.create_table(
        "journal_consents",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index("journal_consents_case_idx", "journal_consents", ["case_id", "id"])
    for suffix, timing, level in (
        ("no_update_delete", "UPDATE OR DELETE", "ROW"),
        ("no_truncate", "TRUNCATE", "STATEMENT"),
    ):
        op.execute(
            f"CREATE TRIGGER journal_consents_{suffix} BEFORE {timing} ON journal_consents "
            f"FOR EACH {level} EXECUTE FUNCTION journal_refuse_change()"
        )
    op.execute(
        f"""
        DO $$ DECLARE s text := current_schema(); BEGIN
            EXECUTE format('GRANT SELECT, INSERT ON %I.journal_consents TO {WRITER_ROLE}', s);
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO {WRITER_ROLE}',
                           s);
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE journal_consents")
    op.execute("ALTER TABLE journal_access_log DROP COLUMN basis")
