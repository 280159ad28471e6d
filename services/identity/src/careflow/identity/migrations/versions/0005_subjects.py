"""Whose number each patient subject id is (tokens and CaseOpened no longer carry it).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # Frozen: the table as it was the day this migration was written.
    op.create_table(
        "subjects",
        sa.Column("subject_id", sa.String(128), primary_key=True),
        sa.Column("personal_identity_number", sa.String(12), nullable=False),
    )
