"""Triage's open-triages read model (for expiring abandoned triages).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Frozen: the table as it was when this migration was written, not adapters' live one.
    op.create_table(
        "open_triages",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("open_triages_activity_idx", "open_triages", ["last_activity_at"])
