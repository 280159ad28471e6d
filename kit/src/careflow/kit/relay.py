"""The outbox relay: publishes committed events from the event store to Kafka.

One relay is active per service at a time (a PostgreSQL advisory lock), so a
case's events leave in the order they were recorded. It marks rows published
only after Kafka confirmed them: a crash in between publishes them again,
which the consumers' inbox makes harmless (at-least-once, idempotent effects).
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Text, any_, bindparam, cast, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from careflow.kit import faults, metrics
from careflow.kit.db import Database
from careflow.kit.eventstore import events
from careflow.kit.kafka import Producer
from careflow.kit.logging import get_logger

log = get_logger(__name__)


class OutboxRelay:
    """Moves unpublished event-store rows to the service's topic, in recorded order.

    An event type in ``routes`` goes to its own topic instead (a restricted topic, which
    only some services may read; ``contracts.RESTRICTED_TOPICS``).

    Each record is keyed by its case id and carries exactly four headers, all taken
    from the stored event: ``content-type``, ``event_type``, ``event_id`` and the
    envelope's ``correlation_id``, so a reader can trust them.
    """

    def __init__(
        self,
        db: Database,
        producer: Producer,
        topic: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.05,
        routes: Mapping[str, str] | None = None,
        max_idle_poll_seconds: float = 0.25,
    ) -> None:
        self.db = db
        self.producer = producer
        self.topic = topic
        self.routes = dict(routes or {})
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.max_idle_poll_seconds = max(idle_poll_seconds, max_idle_poll_seconds)
        self._lock_key = zlib.crc32(f"careflow-relay:{db.schema}".encode())
        self._stopping = asyncio.Event()
        # Set when this process commits events: the relay publishes them at once instead of
        # at its next look. Looks still happen (other replicas' events, a wake lost in a
        # crash), backing off from idle_poll_seconds to max_idle_poll_seconds while idle:
        # an idle look was three round trips, twenty times a second, in every service.
        self._wake = asyncio.Event()
        db.on_events_committed.append(self._wake.set)
        self._unpublished = (
            select(
                events.c.position,
                events.c.recorded_at,
                # As text: ids, and the stored JSON, go out as they are, not decoded and
                # re-encoded.
                cast(events.c.event_id, Text).label("event_id"),
                cast(events.c.case_id, Text).label("case_id"),
                events.c.event_type,
                events.c.payload["correlation_id"].astext.label("correlation_id"),
                cast(events.c.payload, Text).label("payload"),
            )
            .where(events.c.published_at.is_(None))
            .order_by(events.c.position)
            .limit(batch_size)
        )
        self.healthy = False

    def stop(self) -> None:
        """Ask the loop to publish what is already committed, then return.

        The caller bounds the drain with a timeout (the shutdown grace); whatever is
        left stays in the outbox for the next relay, so nothing is lost either way.
        """
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Relay until stopped: hold the service's relay lock, then publish batch after batch."""
        while not self._stopping.is_set():
            try:
                async with self.db.engine.connect() as lock_conn:
                    got = (
                        await lock_conn.execute(
                            text("SELECT pg_try_advisory_lock(:k)"), {"k": self._lock_key}
                        )
                    ).scalar()
                    await lock_conn.commit()
                    if not got:
                        # Another replica relays; stand by.
                        self.healthy = True
                        await self._sleep(1.0)
                        continue
                    try:
                        await self._relay_while_holding_lock()
                    finally:
                        await lock_conn.execute(
                            text("SELECT pg_advisory_unlock(:k)"), {"k": self._lock_key}
                        )
                        await lock_conn.commit()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.healthy = False
                metrics.RELAY_ERRORS.inc()
                log.exception("relay_failed", error=type(exc).__name__)
                await self._sleep(1.0)

    async def _relay_while_holding_lock(self) -> None:
        pause = self.idle_poll_seconds
        while not self._stopping.is_set():
            # Cleared before looking: a commit during the look wakes the next wait.
            self._wake.clear()
            published = await self.publish_batch()
            self.healthy = True
            if published >= self.batch_size:
                continue
            pause = (
                self.idle_poll_seconds if published else min(2 * pause, self.max_idle_poll_seconds)
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
        # Stopping: drain the committed backlog while we still hold the lock.
        while await self.publish_batch():
            pass

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished events (one batch); returns how many."""
        async with self.db.engine.connect() as conn:
            # One statement, no BEGIN and ROLLBACK around it: a read needs no transaction.
            reader = await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await reader.execute(self._unpublished)).all()
        metrics.OUTBOX_BACKLOG.set(len(rows))
        # Oldest first (by position): the first row's age is how late publishing runs.
        metrics.OUTBOX_OLDEST_AGE.set(
            (datetime.now(UTC) - rows[0].recorded_at).total_seconds() if rows else 0.0
        )
        if not rows:
            return 0
        faults.crash_point(faults.RELAY_BEFORE_PUBLISH)
        futures = []
        for row in rows:
            headers = {
                "content-type": "application/json",
                "event_type": row.event_type,
                "event_id": row.event_id,
            }
            # The envelope's own correlation id, so a reader can trust the header.
            if row.correlation_id is not None:
                headers["correlation_id"] = row.correlation_id
            futures.append(
                await self.producer.send(
                    self.routes.get(row.event_type, self.topic),
                    row.payload.encode(),
                    key=row.case_id.encode(),
                    headers=headers,
                )
            )
        # The idempotent producer keeps per-partition order across these sends.
        await asyncio.gather(*futures)
        faults.crash_point(faults.RELAY_AFTER_PUBLISH)
        async with self.db.transaction() as conn:
            # One array parameter: the statement is prepared once whatever the batch size.
            await conn.execute(
                update(events)
                .where(events.c.position == any_(bindparam("positions", type_=ARRAY(BigInteger))))
                .values(published_at=datetime.now(UTC)),
                {"positions": [r.position for r in rows]},
            )
        metrics.EVENTS_PUBLISHED.labels(self.topic).inc(len(rows))
        return len(rows)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
