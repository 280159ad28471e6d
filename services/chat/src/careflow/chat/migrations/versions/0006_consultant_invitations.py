"""Invitations waiting for the consultant to join: staff id only (name and title come from
the consultant's own token when they join).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "consultant_invitations",
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("invited_by", sa.String(64), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "staff_id"),
    )
