"""Journal's event store, inbox, patients and the append-only record.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.journal.adapters import APPEND_ONLY_DDL, metadata
from careflow.kit.migrations import create_event_store_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
    metadata.create_all(op.get_bind())
    for statement in APPEND_ONLY_DDL:
        op.execute(statement)
