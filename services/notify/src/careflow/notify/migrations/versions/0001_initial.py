"""Notify's event store, inbox, case owners and notifications.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.kit import cases
from careflow.kit.eventstore import create_kit_tables
from careflow.notify.adapters import metadata

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_kit_tables(op)
    cases.create_tables(op)
    metadata.create_all(op.get_bind())
