"""Queue's turns (throughput for estimated waits) and case owners (who may withdraw).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from careflow.kit.migrations import create_case_patients_v1
from careflow.queue.adapters import turns_metadata

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # create_all checks first: on a fresh database 0001 may already have made them.
    create_case_patients_v1(op)
    turns_metadata.create_all(op.get_bind())
    # The claim query orders by (urgency, waiting_since, case_id): let the index end the same.
    op.execute(
        "CREATE INDEX IF NOT EXISTS waiting_cases_claim_idx "
        "ON waiting_cases (region, skill, urgency, waiting_since, case_id)"
    )
    op.execute("DROP INDEX IF EXISTS waiting_cases_order_idx")
