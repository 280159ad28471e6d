"""The conversation's current state, kept beside its stream (one row per case).

Revision ID: 0003
Revises: 0002

Conversations recorded before this revision have no row yet: their first command
folds the stream once and stores the state.
"""

from alembic import op

from careflow.kit.migrations import create_aggregate_states_v1

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_aggregate_states_v1(op)
