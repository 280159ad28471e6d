"""Identity's refresh tokens.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.identity.adapters import metadata

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    metadata.create_all(op.get_bind())
