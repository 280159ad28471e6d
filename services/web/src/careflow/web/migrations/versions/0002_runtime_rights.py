"""Web's runtime rights: the group its runtime login role joins may read and write the
rows of its own tables as the service does, and nothing else: no CREATE, ALTER, DROP,
TRUNCATE or TRIGGER, nothing in another service's schema. Only the owner migrates.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0002"
down_revision = "0001"

RUNTIME_GROUP = "careflow_web_runtime"

RIGHTS = {
    # Sessions are renewed, rotated at login and ended.
    "sessions": "SELECT, INSERT, UPDATE, DELETE",
    "patient_cases": "SELECT, INSERT",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, RUNTIME_GROUP, RIGHTS)
