"""Signatures of documentation notes, append-only like the record; the runtime reads and
appends them.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0007"
down_revision = "0006"

WRITER_ROLE = "careflow_journal_writer"

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
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    op.create_table(
        "journal_signatures",
        sa.Column("signs_event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("signed_by", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    )
    for trigger, timing in (
        ("no_update_delete", "BEFORE UPDATE OR DELETE ON journal_signatures FOR EACH ROW"),
        ("no_truncate", "BEFORE TRUNCATE ON journal_signatures FOR EACH STATEMENT"),
    ):
        op.execute(
            f"CREATE TRIGGER journal_signatures_{trigger} {timing} "
            "EXECUTE FUNCTION journal_refuse_change()"
        )
    grant_runtime_rights_v1(op, WRITER_ROLE, RIGHTS)
