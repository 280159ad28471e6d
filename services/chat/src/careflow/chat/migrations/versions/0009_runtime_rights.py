"""Chat's runtime rights: the group its runtime login role joins may read and write the
rows of its own tables as the service does, and nothing else: no CREATE, ALTER, DROP,
TRUNCATE or TRIGGER, nothing in another service's schema. Only the owner migrates.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

from careflow.kit.migrations import grant_runtime_rights_v1

revision = "0009"
down_revision = "0008"

RUNTIME_GROUP = "careflow_chat_runtime"

RIGHTS = {
    "complaints": "SELECT, INSERT",
    # The outbox: the relay marks what Kafka confirmed, and changes nothing else.
    "events": "SELECT, INSERT, UPDATE (published_at)",
    "inbox": "SELECT, INSERT",
    "aggregate_states": "SELECT, INSERT, UPDATE (version, state)",
    "case_patients": "SELECT, INSERT",
    # Every read of health data is recorded: appended, never changed.
    "chat_access_log": "SELECT, INSERT",
    # Closing, video and rating update the conversation; senders lock it.
    "conversations": "SELECT, INSERT, UPDATE",
    "messages": "SELECT, INSERT",
    "consultants": "SELECT, INSERT",
    # An invitation leaves when the colleague joins.
    "consultant_invitations": "SELECT, INSERT, DELETE",
    "attachment_uploads": "SELECT, INSERT",
    "attachment_blobs": "SELECT, INSERT",
    "read_receipts": "SELECT, INSERT, UPDATE",
    # Signalling is deleted when the video ends.
    "signals": "SELECT, INSERT, DELETE",
    # The service checks at start that its schema is migrated.
    "alembic_version": "SELECT",
}


def upgrade() -> None:
    grant_runtime_rights_v1(op, RUNTIME_GROUP, RIGHTS)
