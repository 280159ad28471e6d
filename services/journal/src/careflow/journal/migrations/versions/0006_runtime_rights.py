"""The runtime role's rights, exactly: read and append the record, the plumbing it works
with, and nothing that changes or removes a row of the record, alters a table or switches a
trigger off (only the owner, who migrates, may).

0002 gave ``careflow_journal_writer`` UPDATE and DELETE on every table but the record's,
the version table and the outbox's every column included; this replaces all of it.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0006"
down_revision = "0005"

WRITER_ROLE = "careflow_journal_writer"

RIGHTS = {
    # The record: read and append only.
    "journal_entries": "SELECT, INSERT",
    "journal_checkpoints": "SELECT, INSERT",
    "journal_access_log": "SELECT, INSERT",
    "journal_consents": "SELECT, INSERT",
    "journal_care_relations": "SELECT, INSERT",
    "journal_patients": "SELECT, INSERT",
    "journal_case_events": "SELECT, INSERT",
    # Events waiting for their case's CaseOpened leave this table once chained.
    "journal_parked": "SELECT, INSERT, DELETE",
    # The outbox: the relay marks what Kafka confirmed, and changes nothing else.
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, WRITER_ROLE, RIGHTS)
