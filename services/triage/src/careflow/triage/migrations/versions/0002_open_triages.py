"""Triage's open-triages read model (for expiring abandoned triages).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.triage.adapters import metadata

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    metadata.create_all(op.get_bind())
