"""Notify's outside channels: contact preferences and the delivery outbox.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.notify.adapters import delivery_metadata

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    delivery_metadata.create_all(op.get_bind())
