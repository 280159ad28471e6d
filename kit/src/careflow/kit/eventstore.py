"""The event store: each service's source of truth, and its outbox.

One table per service schema holds every event the service decided, one
stream per aggregate (for example one case's place in the queue), a version
per event and a unique (stream, version) pair for optimistic concurrency.
Rows with ``published_at`` null are the outbox: the relay publishes them to
the service's topic after they are committed, never inside the business
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, parse_event
from careflow.kit import metrics
from careflow.kit.db import PreSerialized

#: Tables are created without a schema name: each service's connections have
#: ``search_path`` set to the service's own schema.
metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("position", BigInteger, Identity(always=True), primary_key=True),
    Column("stream_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("case_id", PgUUID(as_uuid=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
    Index("events_unpublished_idx", "position", postgresql_where=text("published_at IS NULL")),
    Index("events_case_idx", "case_id", "position"),
)

#: The idempotent consumer's record of what it has applied: (consumer, event id).
inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class ConcurrencyError(RuntimeError):
    """Another writer appended to the stream first; reload and decide again."""


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back from the store, with its place in the stream."""

    position: int
    stream_id: str
    version: int
    event: Event


async def append(
    conn: AsyncConnection,
    stream_id: str,
    expected_version: int,
    new_events: Sequence[Event],
) -> int:
    """Append events to a stream that must be at ``expected_version`` (0: new stream).

    Runs inside the caller's transaction, so the state change and its outbox
    rows commit together. Raises ``ConcurrencyError`` when another writer got
    there first; the transaction is then aborted and the command must be
    decided again from a fresh read. Returns the stream's new version.
    """
    await append_many(conn, [(stream_id, expected_version, new_events)])
    return expected_version + len(new_events)


async def append_many(
    conn: AsyncConnection, batch: Sequence[tuple[str, int, Sequence[Event]]]
) -> None:
    """Append to several streams in one statement: (stream id, expected version, events)."""
    rows = [
        {
            "stream_id": stream_id,
            "version": expected_version + i,
            "event_id": e.event_id,
            "event_type": e.event_type,
            "case_id": e.case_id,
            "payload": PreSerialized(e.model_dump_json()),
        }
        for stream_id, expected_version, new_events in batch
        for i, e in enumerate(new_events, start=1)
    ]
    if not rows:
        return
    try:
        await conn.execute(insert(events), rows)
    except IntegrityError as exc:
        if "events_stream_version_key" in str(exc.orig):
            raise ConcurrencyError(
                "a stream moved past its expected version: "
                + ", ".join(f"{s}@{v}" for s, v, _ in batch)
            ) from None
        raise
    for _, _, new_events in batch:
        for e in new_events:
            metrics.EVENTS_APPENDED.labels(e.event_type).inc()


async def load(conn: AsyncConnection, stream_id: str) -> list[StoredEvent]:
    """Every event of one stream, in version order."""
    result = await conn.execute(
        select(events.c.position, events.c.version, events.c.payload)
        .where(events.c.stream_id == stream_id)
        .order_by(events.c.version)
    )
    return [
        StoredEvent(
            position=r.position,
            stream_id=stream_id,
            version=r.version,
            event=parse_event(r.payload),
        )
        for r in result
    ]


async def load_case(conn: AsyncConnection, case_id: UUID) -> list[StoredEvent]:
    """Every event this service recorded for one case, in the order recorded."""
    result = await conn.execute(
        select(events.c.position, events.c.stream_id, events.c.version, events.c.payload)
        .where(events.c.case_id == case_id)
        .order_by(events.c.position)
    )
    return [
        StoredEvent(
            position=r.position,
            stream_id=r.stream_id,
            version=r.version,
            event=parse_event(r.payload),
        )
        for r in result
    ]


S = TypeVar("S")


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    """How to rebuild one kind of aggregate: its empty state and its ``evolve`` function."""

    initial: Callable[[], S]
    evolve: Callable[[S, Event], S]

    async def rehydrate(self, conn: AsyncConnection, stream_id: str) -> tuple[S, int]:
        """The aggregate's current state and version, folded from its stream."""
        state = self.initial()
        version = 0
        for stored in await load(conn, stream_id):
            state = self.evolve(state, stored.event)
            version = stored.version
        return state, version

    async def execute(
        self,
        conn: AsyncConnection,
        stream_id: str,
        decide: Callable[[S], Sequence[Event]],
    ) -> tuple[S, list[Event]]:
        """Rebuild the state, let ``decide`` produce events, append them, return the new state."""
        state, version = await self.rehydrate(conn, stream_id)
        new_events = list(decide(state))
        await append(conn, stream_id, version, new_events)
        for event in new_events:
            state = self.evolve(state, event)
        return state, new_events


def create_kit_tables(op: Any) -> None:
    """Alembic helper: create the event store and inbox in the migrating service's schema.

    Each service's first migration calls this; ``search_path`` points at its schema.
    """
    metadata.create_all(op.get_bind(), tables=[events, inbox])
