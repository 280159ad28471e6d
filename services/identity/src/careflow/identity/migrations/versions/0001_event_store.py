"""Identity's event store and inbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.kit.migrations import create_event_store_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
