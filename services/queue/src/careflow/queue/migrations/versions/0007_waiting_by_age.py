"""An index on each queue's waiting cases by how long they have waited.

The worklist scans each queue's longest-waiting cases for the care guarantee's limits
(``ORDER BY waiting_since``); the claim index leads with urgency, so without this one every
worklist sorted the whole queue. No new table: the runtime rights stay as 0006 granted them.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_index(
        "waiting_cases_age_idx", "waiting_cases", ["region", "skill", "waiting_since", "case_id"]
    )
