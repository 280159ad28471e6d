"""The access log: every read of a case's notifications or deliveries by staff or auditors.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from careflow.kit.migrations import create_access_log_v1

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_access_log_v1(op, "notify_access_log")
