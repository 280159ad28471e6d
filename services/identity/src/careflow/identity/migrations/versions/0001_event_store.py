"""Identity's event store and inbox.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.kit.eventstore import create_kit_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
