"""Chat's tables: the live definitions the queries use.

The migrations define their own frozen copies, so changing a table here means adding a
migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from careflow.kit.access_log import access_log_table

metadata = MetaData()

conversations = Table(
    "conversations",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("correlation_id", PgUUID(as_uuid=True), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("staff_name", String(200), nullable=False),
    Column("staff_title", String(100), nullable=False),
    Column("care_unit", String(200), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("advice", Text, nullable=True),
    Column("outcome_details", JSONB, nullable=True),
    Column("video_contact_id", PgUUID(as_uuid=True), nullable=True),
    Column("video_started_at", DateTime(timezone=True), nullable=True),
    Column("rating", SmallInteger, nullable=True),
    Column("rating_comment", Text, nullable=True),
    Column("rated_at", DateTime(timezone=True), nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("message_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("idempotency_key", String(100), nullable=False),
    Column("sender_role", String(16), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    # [{sha256, media_type, size_bytes}]
    Column("attachments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    UniqueConstraint("case_id", "idempotency_key", name="messages_idempotency_key"),
)

consultants = Table(
    "consultants",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("title", String(100), nullable=False),
    Column("care_unit", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("case_id", "staff_id"),
)

#: Which attachment (stored once, by content) was uploaded to which case, by whom.
uploads = Table(
    "attachment_uploads",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("uploaded_by", String(128), nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("case_id", "sha256"),
)

#: Read receipts: how far each reader has read (not events: not part of the documentation).
receipts = Table(
    "read_receipts",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("reader_id", String(128), nullable=False),
    Column("reader_role", String(16), nullable=False),
    Column("up_to_sequence", Integer, nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("case_id", "reader_id"),
)

#: WebRTC signalling in flight (offer, answer, ICE candidates); deleted when the video ends.
signals = Table(
    "signals",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("video_contact_id", PgUUID(as_uuid=True), nullable=False),
    Column("to_side", String(8), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Colleagues the professional invited who have not joined yet. The consultant is named
#: here by staff id only: their name, title and care unit come from their own token
#: (signed by identity from the staff catalogue) when they join, never from the inviter.
consultant_invitations = Table(
    "consultant_invitations",
    metadata,
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("invited_by", String(64), nullable=False),
    Column("invited_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("case_id", "staff_id"),
)

#: Every read of a case's health data by staff: who, in which role and care unit, which
#: case, what, on which basis and for what purpose, when. Only ever inserted.
access_log = access_log_table(metadata, "chat_access_log")

#: Attachment bytes, stored once by their SHA-256 (``blobs.PostgresStore``): in the
#: database every replica shares, backed up with the rest of the case.
attachment_blobs = Table(
    "attachment_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
