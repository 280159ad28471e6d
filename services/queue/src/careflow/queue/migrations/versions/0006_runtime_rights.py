"""Queue's runtime rights: the group its runtime login role joins may read and write the
rows of its own tables as the service does, and nothing else: no CREATE, ALTER, DROP,
TRUNCATE or TRIGGER, nothing in another service's schema. Only the owner migrates.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0006"
down_revision = "0005"

RUNTIME_GROUP = "careflow_queue_runtime"

RIGHTS = {
    "care_guarantee": "SELECT, INSERT, UPDATE",
    # The outbox: the relay marks what Kafka confirmed, and changes nothing else.
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    "case_patients": "SELECT, INSERT",
    # Every read of health data is recorded: appended, never changed.
    "queue_access_log": "SELECT, INSERT",
    # A claim takes the case out of the queue (FOR UPDATE SKIP LOCKED).
    "waiting_cases": "SELECT, INSERT, UPDATE, DELETE",
    "turns": "SELECT, INSERT",
    "unreached_patients": "SELECT, INSERT",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, RUNTIME_GROUP, RIGHTS)
