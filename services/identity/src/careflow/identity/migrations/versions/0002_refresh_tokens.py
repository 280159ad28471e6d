"""Identity's refresh tokens.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Frozen: the table as it was created the day this migration was written.
    op.create_table(
        "refresh_tokens",
        # Only a hash is stored: a leaked table cannot be replayed as tokens.
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("subject_id", sa.String(128), nullable=False),
        sa.Column("principal", JSONB, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_refresh_tokens_subject_id", "refresh_tokens", ["subject_id"])
