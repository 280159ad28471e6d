"""Whether each "your turn" in the app reached the patient (seen, sent, or put on staff's list).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "in_app_turns",
        sa.Column("notification_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("correlation_id", UUID(as_uuid=True), nullable=False),
        sa.Column("cause_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("recipient_id", sa.String(128), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled", sa.String(16), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "in_app_turns_open_idx",
        "in_app_turns",
        ["notified_at"],
        postgresql_where=sa.text("settled IS NULL"),
    )
    op.create_index("in_app_turns_case_idx", "in_app_turns", ["case_id"])
