"""Each case against the care guarantee's assessment limit, from first contact to assessment.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "care_guarantee",
        sa.Column("case_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("outcome", sa.String(32), nullable=True),
    )
    op.create_index("care_guarantee_region_idx", "care_guarantee", ["region", "first_contact_at"])
