"""How far each case has come in queue and chat, from their events: re-triage only while waiting.

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
        "case_contacts",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
