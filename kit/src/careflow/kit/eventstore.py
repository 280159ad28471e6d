"""The event store: each service's source of truth, and its outbox.

One table per service schema holds every event the service decided, one
stream per aggregate (for example one case's place in the queue), a version
per event and a unique (stream, version) pair for optimistic concurrency.
Rows with ``published_at`` null are the outbox: the relay publishes them to
the service's topic after they are committed, never inside the business
transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import TypeAdapter
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, parse_event
from careflow.kit import metrics
from careflow.kit.db import EVENTS_APPENDED, PreSerialized

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
        conn.info[EVENTS_APPENDED] = True
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


async def load(conn: AsyncConnection, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
    """The events of one stream past ``after_version`` (default: all), in version order."""
    result = await conn.execute(
        select(events.c.position, events.c.version, events.c.payload)
        .where(events.c.stream_id == stream_id, events.c.version > after_version)
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

#: A projection: updates the service's read models from the events a command decided,
#: inside the command's transaction.
Projection = Callable[[AsyncConnection, Sequence[Event]], Awaitable[None]]

#: The latest state of every aggregate that keeps one (``Aggregate.state_type``): one row per
#: stream, rewritten in the same transaction as the events, so a command reads one row
#: instead of folding the whole stream.
aggregate_states = Table(
    "aggregate_states",
    metadata,
    Column("stream_id", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", JSONB, nullable=False),
)


@dataclass(frozen=True)
class Aggregate(Generic[S]):
    """One kind of aggregate: its empty state, its ``evolve`` function, how it is stored.

    With ``state_type`` (a dataclass or pydantic model pydantic can round-trip), the
    current state is also kept in ``aggregate_states`` and updated with every command,
    so a command costs the same on the 500th event of a stream as on the 5th. Streams
    without a stored state (older ones) are folded from their events and then stored.
    """

    initial: Callable[[], S]
    evolve: Callable[[S, Event], S]
    state_type: type[S] | None = None

    @cached_property
    def _adapter(self) -> TypeAdapter[S] | None:
        return TypeAdapter(self.state_type) if self.state_type is not None else None

    async def rehydrate(self, conn: AsyncConnection, stream_id: str) -> tuple[S, int]:
        """The aggregate's current state and version."""
        state = self.initial()
        version = 0
        if self._adapter is not None:
            row = (
                await conn.execute(
                    select(aggregate_states.c.version, aggregate_states.c.state).where(
                        aggregate_states.c.stream_id == stream_id
                    )
                )
            ).first()
            if row is not None:
                state, version = self._adapter.validate_python(row.state), row.version
        # Events past the stored state (none, normally): fold them on top.
        for stored in await load(conn, stream_id, after_version=version):
            state = self.evolve(state, stored.event)
            version = stored.version
        return state, version

    async def execute(
        self,
        conn: AsyncConnection,
        stream_id: str,
        decide: Callable[[S], Sequence[Event]],
        project: Projection | None = None,
    ) -> tuple[S, list[Event]]:
        """Decide, append and project in one transaction; returns the new state and events.

        Rebuilds the state, lets ``decide`` produce events, appends them at the
        expected version (``ConcurrencyError`` if another writer was first), stores the
        new state where the aggregate keeps one, and lets ``project`` update the read
        models, all inside the caller's transaction.
        """
        state, version = await self.rehydrate(conn, stream_id)
        new_events = list(decide(state))
        if not new_events:
            return state, new_events
        await append(conn, stream_id, version, new_events)
        for event in new_events:
            state = self.evolve(state, event)
        if self._adapter is not None:
            await self._store_state(conn, stream_id, version + len(new_events), state)
        if project is not None:
            await project(conn, new_events)
        return state, new_events

    async def _store_state(
        self, conn: AsyncConnection, stream_id: str, version: int, state: S
    ) -> None:
        assert self._adapter is not None
        payload = PreSerialized(self._adapter.dump_json(state).decode())
        stmt = pg_insert(aggregate_states).values(
            stream_id=stream_id, version=version, state=payload
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[aggregate_states.c.stream_id],
                set_={"version": stmt.excluded.version, "state": stmt.excluded.state},
            )
        )
