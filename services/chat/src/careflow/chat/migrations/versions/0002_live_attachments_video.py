"""Attachments, consultants, read receipts, signalling, video and outcome details.

Revision ID: 0002
Revises: 0001

0001 creates ``adapters.metadata`` as it stands, so on a fresh database the new
columns already exist: every statement here is written to be a no-op then.
"""

from alembic import op

from careflow.chat.adapters import metadata_0002

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE messages"
        " ADD COLUMN IF NOT EXISTS attachments JSONB NOT NULL DEFAULT '[]'::jsonb"
    )
    for column, kind in (
        ("outcome_details", "JSONB"),
        ("video_contact_id", "UUID"),
        ("video_started_at", "TIMESTAMPTZ"),
        ("rating", "SMALLINT"),
        ("rating_comment", "TEXT"),
        ("rated_at", "TIMESTAMPTZ"),
    ):
        op.execute(f"ALTER TABLE conversations ADD COLUMN IF NOT EXISTS {column} {kind}")
    metadata_0002.create_all(op.get_bind(), checkfirst=True)
