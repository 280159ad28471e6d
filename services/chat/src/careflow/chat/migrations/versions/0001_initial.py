"""Chat's event store, inbox, case owners, conversations and messages.

Revision ID: 0001
Revises:
"""

from alembic import op

from careflow.chat.adapters import metadata
from careflow.kit.migrations import create_case_patients_v1, create_event_store_v1

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_event_store_v1(op)
    create_case_patients_v1(op)
    metadata.create_all(op.get_bind())
