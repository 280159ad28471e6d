"""Triage's stored aggregate states: a command reads one row, not the whole stream.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from careflow.kit.migrations import create_aggregate_states_v1

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_aggregate_states_v1(op)
