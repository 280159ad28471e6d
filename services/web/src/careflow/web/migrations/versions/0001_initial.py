"""The web front end's sessions and the cases each patient opened through it.

Revision ID: 0001
Revises:

Frozen: later changes go in a new revision, never here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        # sha256 of the cookie's secret: a stolen database row does not log anyone in.
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("subject_id", sa.String(128), nullable=True),
        sa.Column("access_token", sa.Text, nullable=True),
        sa.Column("refresh_token", sa.Text, nullable=True),
        sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "patient_cases",
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("questionnaire_id", sa.String(100), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    )
