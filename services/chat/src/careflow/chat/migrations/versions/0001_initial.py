"""Chat's event store, inbox, case owners, conversations and messages.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.chat.adapters import metadata
from careflow.kit import cases
from careflow.kit.eventstore import create_kit_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    cases.create_tables(op)
    metadata.create_all(op.get_bind())
