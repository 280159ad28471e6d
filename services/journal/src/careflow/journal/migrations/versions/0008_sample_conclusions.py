"""Reviewers' conclusions on the monthly sample checks of the access log, append-only like
the record; the runtime reads and appends them. Reads of the access log by care unit and
period get an index.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0008"
down_revision = "0007"

WRITER_ROLE = "careflow_journal_writer"

#: The whole map (the grant first takes every right away): 0007's and the new table.
RIGHTS = {
    "journal_entries": "SELECT, INSERT",
    "journal_checkpoints": "SELECT, INSERT",
    "journal_access_log": "SELECT, INSERT",
    "journal_consents": "SELECT, INSERT",
    "journal_care_relations": "SELECT, INSERT",
    "journal_patients": "SELECT, INSERT",
    "journal_case_events": "SELECT, INSERT",
    "journal_parked": "SELECT, INSERT, DELETE",
    "journal_signatures": "SELECT, INSERT",
    "journal_sample_conclusions": "SELECT, INSERT",
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    op.create_table(
        "journal_sample_conclusions",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("care_unit", sa.String(200), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("seed", sa.String(200), nullable=False),
        sa.Column("access_id", sa.BigInteger, nullable=False),
        sa.Column("conclusion", sa.String(2000), nullable=False),
        sa.Column("reviewer_id", sa.String(128), nullable=False),
        sa.Column("reviewer_name", sa.String(200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "journal_sample_conclusions_idx",
        "journal_sample_conclusions",
        ["region", "care_unit", "month", "seed"],
    )
    op.create_index("journal_access_log_unit_idx", "journal_access_log", ["care_unit", "at"])
    for trigger, timing in (
        ("no_update_delete", "BEFORE UPDATE OR DELETE ON journal_sample_conclusions FOR EACH ROW"),
        ("no_truncate", "BEFORE TRUNCATE ON journal_sample_conclusions FOR EACH STATEMENT"),
    ):
        op.execute(
            f"CREATE TRIGGER journal_sample_conclusions_{trigger} {timing} "
            "EXECUTE FUNCTION journal_refuse_change()"
        )
    grant_runtime_rights_v1(op, WRITER_ROLE, RIGHTS)
