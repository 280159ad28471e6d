"""Pending e-ID orders in the database, so that any replica can collect a login or take the
broker's callback.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # Frozen: the table as it was created the day this migration was written.
    op.create_table(
        "login_orders",
        sa.Column("order_ref", sa.String(64), primary_key=True),
        sa.Column("realm", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary, nullable=False),
        sa.Column("auto_start_token", sa.Text, nullable=False),
        sa.Column("qr_start_token", sa.String(64), nullable=False),
        sa.Column("qr_start_secret", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_pin", sa.String(12), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("hint_code", sa.String(64), nullable=True),
        sa.Column("completed_pin", sa.String(12), nullable=True),
        sa.Column("collected", sa.Boolean, nullable=False),
        sa.Column("oidc_state", sa.String(128), nullable=True),
        sa.Column("code_verifier", sa.String(128), nullable=True),
        sa.Column("nonce", sa.String(128), nullable=True),
    )
    op.create_index("ix_login_orders_forget_at", "login_orders", ["forget_at"])
    op.create_unique_constraint("uq_login_orders_oidc_state", "login_orders", ["oidc_state"])
