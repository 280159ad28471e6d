"""The access log: every read of a case's health data (urgency, place, worklists) by staff
or auditors.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from careflow.kit.migrations import create_access_log_v1

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    create_access_log_v1(op, "queue_access_log")
