"""Attachments, consultants, read receipts, signalling, video and outcome details.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # [{sha256, media_type, size_bytes}] of each message's attachments.
    op.add_column(
        "messages",
        sa.Column("attachments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("conversations", sa.Column("outcome_details", JSONB, nullable=True))
    op.add_column("conversations", sa.Column("video_contact_id", sa.Uuid, nullable=True))
    op.add_column(
        "conversations", sa.Column("video_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("conversations", sa.Column("rating", sa.SmallInteger, nullable=True))
    op.add_column("conversations", sa.Column("rating_comment", sa.Text, nullable=True))
    op.add_column("conversations", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "consultants",
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("care_unit", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "staff_id"),
    )
    # Which attachment (stored once, by content) was uploaded to which case, by whom.
    op.create_table(
        "attachment_uploads",
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("uploaded_by", sa.String(128), nullable=False),
        sa.Column(
            "uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("case_id", "sha256"),
    )
    op.create_table(
        "read_receipts",
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("reader_id", sa.String(128), nullable=False),
        sa.Column("reader_role", sa.String(16), nullable=False),
        sa.Column("up_to_sequence", sa.Integer, nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "reader_id"),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("video_contact_id", sa.Uuid, nullable=False),
        sa.Column("to_side", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_signals_case_id", "signals", ["case_id"])
