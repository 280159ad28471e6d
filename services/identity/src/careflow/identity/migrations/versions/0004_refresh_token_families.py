"""Identity's refresh token families (reuse revokes the family) and who logged in.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    # Frozen: the columns as they were added the day this migration was written.
    op.add_column("refresh_tokens", sa.Column("family_id", sa.Uuid, nullable=True))
    # Tokens from before families: each its own family (and, lacking who logged in, they
    # are refused at their next refresh: the person logs in again).
    op.execute("UPDATE refresh_tokens SET family_id = gen_random_uuid()")
    op.alter_column("refresh_tokens", "family_id", nullable=False)
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.add_column(
        "refresh_tokens", sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("refresh_tokens", sa.Column("login_pin", sa.String(12), nullable=True))
