"""Queue's event store, inbox and waiting room.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from careflow.kit.migrations import create_event_store_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
    op.create_table(
        "waiting_cases",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("skill", sa.String(32), nullable=False),
        sa.Column("urgency", sa.Integer, nullable=False),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "waiting_cases_claim_idx",
        "waiting_cases",
        ["region", "skill", "urgency", "waiting_since", "case_id"],
    )
