"""Care relations: which care units and professionals acted in each case, for the rule that
staff read a case only within a care relation (Patientdatalagen 4 kap. 1 §).

Filled by the projector from every event that names the professional acting in the case,
and here from the events already consumed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

WRITER_ROLE = "careflow_journal_writer"


def upgrade() -> None:
    op.create_table(
        "journal_care_relations",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("staff_id", sa.String(64), primary_key=True),
        sa.Column("care_unit", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
    )
    for suffix, timing, level in (
        ("no_update_delete", "UPDATE OR DELETE", "ROW"),
        ("no_truncate", "TRUNCATE", "STATEMENT"),
    ):
        op.execute(
            f"CREATE TRIGGER journal_care_relations_{suffix} BEFORE {timing} "
            f"ON journal_care_relations FOR EACH {level} EXECUTE FUNCTION journal_refuse_change()"
        )
    op.execute(
        """
        INSERT INTO journal_care_relations (case_id, staff_id, care_unit, event_id)
        SELECT DISTINCT ON (case_id, payload->'professional'->>'staff_id',
                            payload->'professional'->>'care_unit')
               case_id, payload->'professional'->>'staff_id',
               payload->'professional'->>'care_unit', event_id
        FROM journal_case_events
        WHERE jsonb_typeof(payload->'professional') = 'object'
        ORDER BY case_id, payload->'professional'->>'staff_id',
                 payload->'professional'->>'care_unit', occurred_at
        """
    )
    op.execute(
        f"""
        DO $$ DECLARE s text := current_schema(); BEGIN
            EXECUTE format('GRANT SELECT, INSERT ON %I.journal_care_relations TO {WRITER_ROLE}',
                           s);
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE journal_care_relations")
