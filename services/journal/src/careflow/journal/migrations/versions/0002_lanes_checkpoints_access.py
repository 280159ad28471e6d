"""Chains per (case, lane), parked events, case event log, signed checkpoints, access log,
and a runtime role that cannot change or remove the record.

Entries written before this migration keep their one chain per case: lane
``case``, hash version 1, verified as they were written.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.journal.adapters import APPEND_ONLY_TABLES_0002, NEW_IN_0002, WRITER_ROLE, schema

revision = "0002"
down_revision = "0001"


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
    schema.create_all(op.get_bind(), tables=NEW_IN_0002)
    for table in APPEND_ONLY_TABLES_0002:
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
