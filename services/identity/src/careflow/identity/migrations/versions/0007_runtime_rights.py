"""Identity's runtime rights: the group its runtime login role joins may read and write the
rows of its own tables as the service does, and nothing else: no CREATE, ALTER, DROP,
TRUNCATE or TRIGGER, nothing in another service's schema. Only the owner migrates.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0007"
down_revision = "0006"

RUNTIME_GROUP = "careflow_identity_runtime"

RIGHTS = {
    # The outbox: the relay marks what Kafka confirmed, and changes nothing else.
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    # Attempts are counted under a row lock and forgotten after the window.
    "login_attempts": "SELECT, INSERT, UPDATE, DELETE",
    # Pending logins move on (collected, answered) and are forgotten.
    "login_orders": "SELECT, INSERT, UPDATE, DELETE",
    # A refresh token is used or revoked, never removed.
    "refresh_tokens": "SELECT, INSERT, UPDATE",
    "subjects": "SELECT, INSERT",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, RUNTIME_GROUP, RIGHTS)
