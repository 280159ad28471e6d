"""Notify's runtime rights: the group its runtime login role joins may read and write the
rows of its own tables as the service does, and nothing else: no CREATE, ALTER, DROP,
TRUNCATE or TRIGGER, nothing in another service's schema. Only the owner migrates.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0005"
down_revision = "0004"

RUNTIME_GROUP = "careflow_notify_runtime"

RIGHTS = {
    "in_app_turns": "SELECT, INSERT, UPDATE",
    # The outbox: the relay marks what Kafka confirmed, and changes nothing else.
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    "case_patients": "SELECT, INSERT",
    # Every read of health data is recorded: appended, never changed.
    "notify_access_log": "SELECT, INSERT",
    "notifications": "SELECT, INSERT",
    # The sender claims a delivery and records its outcome.
    "deliveries": "SELECT, INSERT, UPDATE",
    "contact_preferences": "SELECT, INSERT, UPDATE",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, RUNTIME_GROUP, RIGHTS)
