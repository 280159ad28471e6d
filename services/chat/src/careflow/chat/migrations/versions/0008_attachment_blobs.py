"""Attachment bytes in chat's own schema, one row per SHA-256: the store every replica shares.

The bytes are stored as sent (images already re-encoded, PDFs checked); PostgreSQL keeps
large values out of line (TOAST) and compresses them where that helps.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "attachment_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column(
            "stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
