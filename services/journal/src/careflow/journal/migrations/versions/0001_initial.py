"""Journal's event store, inbox, patients and the append-only record.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.journal.adapters import APPEND_ONLY_DDL, metadata
from careflow.kit.eventstore import create_kit_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    metadata.create_all(op.get_bind())
    for statement in APPEND_ONLY_DDL:
        op.execute(statement)
