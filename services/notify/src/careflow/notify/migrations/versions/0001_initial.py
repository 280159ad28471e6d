"""Notify's event store, inbox, case owners and notifications.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from careflow.kit.migrations import create_case_patients_v1, create_event_store_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
    create_case_patients_v1(op)
    # Frozen: the table as it was created, whatever ``adapters`` says later.
    op.create_table(
        "notifications",
        sa.Column("notification_id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notifications_case_id", "notifications", ["case_id"])
