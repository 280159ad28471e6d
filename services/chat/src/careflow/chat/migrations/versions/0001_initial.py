"""Chat's event store, inbox, case owners, conversations and messages.

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
    op.create_table(
        "conversations",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("correlation_id", sa.Uuid, nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("staff_name", sa.String(200), nullable=False),
        sa.Column("staff_title", sa.String(100), nullable=False),
        sa.Column("care_unit", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("advice", sa.Text, nullable=True),
    )
    op.create_table(
        "messages",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("sequence", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("sender_role", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "idempotency_key", name="messages_idempotency_key"),
    )
