"""The idempotent consumer (inbox) on a FastStream batch subscriber.

For each batch the consumer opens one database transaction; for every event
it first records (consumer, event_id) in the inbox, and applies the handler
only if that row is new. Effects and inbox rows commit together, and only
then are the Kafka offsets committed. A crash anywhere before the offset
commit redelivers the batch, and the inbox turns the redelivery into no-ops.

A message that cannot be read (bad JSON, unknown type, failing validation)
or that its handler rejects goes to the service's dead-letter topic with the
reason and its origin; the partition moves on. An infrastructure error (the
database away) rolls the batch back and seeks back to it, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import ContractError, Event, parse_event
from careflow.kit import faults, metrics
from careflow.kit.db import Database
from careflow.kit.eventstore import inbox
from careflow.kit.kafka import dead_letter_record
from careflow.kit.logging import case_context, get_logger

log = get_logger(__name__)

Handler = Callable[[AsyncConnection, Any], Awaitable[None]]


class Rejected(Exception):
    """Raised by a handler for an event it can never apply; the event is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Errors that say "the infrastructure is away", not "this message is bad": retry them.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


@dataclass(frozen=True)
class _DeadLetter:
    record: ConsumerRecord[Any, Any]
    reason: str


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    # asyncpg reports a lost connection as a DBAPIError with connection_invalidated.
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class IdempotentConsumer:
    """Applies events from Kafka to one service's database exactly once in effect.

    ``handlers`` maps event types to ``async handler(conn, event)``; event types
    without a handler are skipped (recorded as ignored, offsets still advance).
    """

    def __init__(
        self,
        name: str,
        db: Database,
        broker: KafkaBroker,
        dead_letter_topic: str,
        handlers: Mapping[str, Handler],
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.db = db
        self.broker = broker
        self.dead_letter_topic = dead_letter_topic
        self.handlers = dict(handlers)
        self.retry_backoff_seconds = retry_backoff_seconds

    def subscribe(self, *topics: str, batch_size: int = 500) -> None:
        """Register the batch subscriber on the broker (group id = consumer name)."""

        async def on_batch(msg: KafkaMessage) -> None:
            records = msg.raw_message
            batch = records if isinstance(records, tuple) else (records,)
            try:
                await self.process(batch)
            except Exception as exc:
                if not _is_transient(exc):
                    log.exception("consumer_batch_failed", consumer=self.name)
                else:
                    log.warning("consumer_batch_retry", consumer=self.name, error=str(exc))
                metrics.CONSUMER_BATCH_FAILURES.labels(self.name).inc()
                await msg.nack()  # rewinds every partition of the batch
                await asyncio.sleep(self.retry_backoff_seconds)
                return
            faults.crash_point(faults.CONSUMER_AFTER_COMMIT)
            await msg.ack()

        self.broker.subscriber(
            *topics,
            group_id=self.name,
            batch=True,
            max_records=batch_size,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
        )(on_batch)

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply one batch: effects and inbox rows in one transaction, then dead letters."""
        parsed: list[tuple[ConsumerRecord[Any, Any], Event]] = []
        dead: list[_DeadLetter] = []
        for record in records:
            try:
                parsed.append((record, parse_event(record.value or b"")))
            except ContractError as exc:
                dead.append(_DeadLetter(record, exc.reason))
        try:
            async with self.db.transaction() as conn:
                await self._apply(conn, parsed, isolate=False)
        except Rejected:
            # Redo the batch one event at a time, so only the bad ones are set aside.
            dead.extend(await self._apply_isolated(parsed))
        except Exception as exc:
            if _is_transient(exc):
                raise
            log.warning("consumer_batch_isolating", consumer=self.name, error=type(exc).__name__)
            dead.extend(await self._apply_isolated(parsed))
        await self._dead_letter(dead)

    async def _apply_isolated(
        self, parsed: list[tuple[ConsumerRecord[Any, Any], Event]]
    ) -> list[_DeadLetter]:
        async with self.db.transaction() as conn:
            return await self._apply(conn, parsed, isolate=True)

    async def _apply(
        self,
        conn: AsyncConnection,
        parsed: list[tuple[ConsumerRecord[Any, Any], Event]],
        isolate: bool,
    ) -> list[_DeadLetter]:
        dead: list[_DeadLetter] = []
        now = datetime.now(UTC)
        for record, event in parsed:
            handler = self.handlers.get(event.event_type)
            if handler is None:
                metrics.EVENTS_CONSUMED.labels(self.name, "ignored").inc()
                continue
            with case_context(event.case_id, event.correlation_id):
                if not isolate:
                    if await self._claim(conn, event):
                        await handler(conn, event)
                        self._applied(event, now)
                    continue
                try:
                    async with conn.begin_nested():
                        if not await self._claim(conn, event):
                            continue
                        await handler(conn, event)
                    self._applied(event, now)
                except Rejected as exc:
                    dead.append(_DeadLetter(record, f"rejected by handler: {exc.reason}"))
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    log.exception("handler_failed", consumer=self.name, event_type=event.event_type)
                    dead.append(_DeadLetter(record, f"handler error: {type(exc).__name__}: {exc}"))
        return dead

    async def _claim(self, conn: AsyncConnection, event: Event) -> bool:
        """Record the event in the inbox; False when it was applied before."""
        result = await conn.execute(
            pg_insert(inbox)
            .values(consumer=self.name, event_id=event.event_id)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        if result.first() is None:
            metrics.EVENTS_CONSUMED.labels(self.name, "duplicate").inc()
            return False
        return True

    def _applied(self, event: Event, now: datetime) -> None:
        metrics.EVENTS_CONSUMED.labels(self.name, "applied").inc()
        metrics.EVENT_LAG.labels(self.name).observe(
            max(0.0, (now - event.occurred_at).total_seconds())
        )

    async def _dead_letter(self, dead: list[_DeadLetter]) -> None:
        if not dead:
            return
        for item in dead:
            r = item.record
            log.warning(
                "dead_lettered",
                consumer=self.name,
                reason=item.reason,
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
            )
            metrics.DEAD_LETTERS.labels(self.name, item.reason.split(":")[0][:40]).inc()
            await self.broker.publish(
                dead_letter_record(
                    consumer=self.name,
                    reason=item.reason,
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value,
                ),
                self.dead_letter_topic,
                key=r.key,
                headers={"content-type": "application/json"},
            )
