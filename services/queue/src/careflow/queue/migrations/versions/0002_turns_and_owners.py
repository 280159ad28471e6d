"""Queue's turns (throughput for estimated waits) and case owners (who may withdraw).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from careflow.kit.migrations import create_case_patients_v1

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    create_case_patients_v1(op)
    op.create_table(
        "turns",
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", UUID(as_uuid=True), nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("skill", sa.String(32), nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waited_seconds", sa.Float, nullable=False),
    )
    op.create_index("turns_queue_time_idx", "turns", ["region", "skill", "reached_at"])
    # The claim query orders by (urgency, waiting_since, case_id): a database whose 0001
    # made the older index without case_id gets the one that ends the same.
    op.execute(
        "CREATE INDEX IF NOT EXISTS waiting_cases_claim_idx "
        "ON waiting_cases (region, skill, urgency, waiting_since, case_id)"
    )
    op.execute("DROP INDEX IF EXISTS waiting_cases_order_idx")
