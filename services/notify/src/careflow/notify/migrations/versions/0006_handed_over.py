"""When an e-mail's data was handed to the mail server, so that a sender killed before it
recorded the answer is not followed by a second copy (SMTP has no idempotency key).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column(
        "deliveries", sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("deliveries", "handed_over_at")
