"""The access log names the reader's name and title too, as every service's does (the kit's).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("chat_access_log", sa.Column("reader_name", sa.String(200), nullable=True))
    op.add_column("chat_access_log", sa.Column("reader_title", sa.String(100), nullable=True))
