"""Consent to another care provider's reading and the patient's block (spärr): their read
model, and the ground of each read in the access log.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from careflow.journal.adapters import WRITER_ROLE, journal_consents, schema

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # Adding a nullable column rewrites no row, so the append-only trigger is not involved;
    # reads logged before this migration keep a null ground. IF NOT EXISTS: 0002 creates the
    # table from the current definition in adapters, so a fresh schema already has it.
    op.execute("ALTER TABLE journal_access_log ADD COLUMN IF NOT EXISTS basis varchar(16)")
    schema.create_all(op.get_bind(), tables=[journal_consents])
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
