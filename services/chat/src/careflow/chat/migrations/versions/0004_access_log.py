"""The access log: every read of a case's health data by staff.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "chat_access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reader_id", sa.String(128), nullable=False),
        sa.Column("reader_role", sa.String(16), nullable=False),
        sa.Column("care_unit", sa.String(200), nullable=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("what", sa.String(40), nullable=False),
        sa.Column("basis", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
    )
    op.create_index("ix_chat_access_log_case_id", "chat_access_log", ["case_id"])
