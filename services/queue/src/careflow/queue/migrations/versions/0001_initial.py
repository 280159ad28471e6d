"""Queue's event store, inbox and waiting room.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.kit.migrations import create_event_store_v1
from careflow.queue.adapters import metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
    metadata.create_all(op.get_bind())
