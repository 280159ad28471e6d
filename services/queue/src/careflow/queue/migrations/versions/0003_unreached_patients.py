"""Patients notify could not reach, for the staff view.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from careflow.queue.adapters import metadata_0003

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    metadata_0003.create_all(op.get_bind(), checkfirst=True)
