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
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from faststream.kafka import KafkaBroker
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import ContractError, Event, parse_event
from careflow.kit import faults, metrics
from careflow.kit.db import Database
from careflow.kit.eventstore import inbox
from careflow.kit.kafka import client_options, dead_letter_record
from careflow.kit.logging import case_context, get_logger

log = get_logger(__name__)

Handler = Callable[[AsyncConnection, Any], Awaitable[None]]
#: Applies a run of consecutive events of one type at once (for bulk statements).
BatchHandler = Callable[[AsyncConnection, list[Any]], Awaitable[None]]


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
    ``batch_handlers`` take a run of consecutive events of one type at once, so
    a projection can write them with one statement; order is kept, since only
    neighbours are grouped. A ``projection`` instead takes every fresh event of
    the batch (of the handled types, in order) in one call, for a read model that
    writes any mix of types in bulk.

    The poll loop is plain aiokafka rather than a FastStream subscriber: it lingers
    a few milliseconds to gather a batch (one durable commit per batch, not per
    event), commits exact offsets after the database commit, and on an
    infrastructure error rewinds every partition of the batch it read.
    """

    def __init__(
        self,
        name: str,
        db: Database,
        broker: KafkaBroker,
        dead_letter_topic: str,
        handlers: Mapping[str, Handler],
        retry_backoff_seconds: float = 1.0,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        projection: BatchHandler | None = None,
    ) -> None:
        self.name = name
        self.batch_handlers = dict(batch_handlers or {})
        self.projection = projection
        self.db = db
        self.broker = broker
        self.dead_letter_topic = dead_letter_topic
        self.handlers = dict(handlers)
        self.retry_backoff_seconds = retry_backoff_seconds
        self.topics: tuple[str, ...] = ()
        self.batch_size = 500
        self.linger_seconds = 0.02
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.running = False

    def subscribe(self, *topics: str, batch_size: int = 500, linger_ms: int = 20) -> None:
        """Choose the topics to consume (group id = consumer name); ``start`` begins."""
        self.topics = topics
        self.batch_size = batch_size
        self.linger_seconds = linger_ms / 1000

    async def start(self, bootstrap_servers: str) -> None:
        """Join the consumer group and start the poll loop."""
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=bootstrap_servers,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            **client_options(),
        )
        await self._consumer.start()
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.name}")
        self.running = True

    async def stop(self) -> None:
        """Finish the batch in flight, commit it, leave the group."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        self.running = False

    async def _poll(self) -> list[ConsumerRecord[Any, Any]]:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=200, max_records=self.batch_size)
        records = [r for part in batch.values() for r in part]
        deadline = asyncio.get_running_loop().time() + self.linger_seconds
        while records and len(records) < self.batch_size:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            more = await self._consumer.getmany(
                timeout_ms=int(left * 1000) + 1, max_records=self.batch_size - len(records)
            )
            records.extend(r for part in more.values() for r in part)
        return records

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping.is_set():
            try:
                records = await self._poll()
            except Exception:
                log.exception("consumer_poll_failed", consumer=self.name)
                await asyncio.sleep(self.retry_backoff_seconds)
                continue
            if not records:
                continue
            try:
                await self.process(records)
            except Exception as exc:
                if _is_transient(exc):
                    log.warning("consumer_batch_retry", consumer=self.name, error=str(exc))
                else:
                    log.exception("consumer_batch_failed", consumer=self.name)
                metrics.CONSUMER_BATCH_FAILURES.labels(self.name).inc()
                for tp, offset in _first_offsets(records).items():
                    consumer.seek(tp, offset)  # read the whole batch again
                await asyncio.sleep(self.retry_backoff_seconds)
                continue
            faults.crash_point(faults.CONSUMER_AFTER_COMMIT)
            try:
                await consumer.commit(
                    {tp: OffsetAndMetadata(o, "") for tp, o in _next_offsets(records).items()}
                )
            except Exception as exc:
                # A rebalance took the partitions: whoever gets them reads this batch
                # again, and the inbox makes that harmless.
                log.warning("consumer_commit_failed", consumer=self.name, error=str(exc))

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
        handled = [(r, e) for r, e in parsed if self._handles(e.event_type)]
        ignored = len(parsed) - len(handled)
        if ignored:
            metrics.EVENTS_CONSUMED.labels(self.name, "ignored").inc(ignored)
        if not isolate:
            # The fast path: claim the whole batch in the inbox with one statement.
            fresh = await self._claim_many(conn, [e for _, e in handled])
            run: list[Event] = []
            for _, event in handled:
                if event.event_id not in fresh:
                    continue
                fresh.discard(event.event_id)  # the same event twice in one batch: apply once
                if run and not self.projection and run[0].event_type != event.event_type:
                    await self._apply_run(conn, run, now)
                    run = []
                run.append(event)
            if run:
                await self._apply_run(conn, run, now)
            return dead
        for record, event in handled:
            with case_context(event.case_id, event.correlation_id):
                try:
                    async with conn.begin_nested():
                        if not await self._claim_many(conn, [event]):
                            continue
                        await self._apply_run(conn, [event], None)
                    self._applied(event, now)
                except Rejected as exc:
                    dead.append(_DeadLetter(record, f"rejected by handler: {exc.reason}"))
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    log.exception("handler_failed", consumer=self.name, event_type=event.event_type)
                    dead.append(_DeadLetter(record, f"handler error: {type(exc).__name__}: {exc}"))
        return dead

    def _handles(self, event_type: str) -> bool:
        return event_type in self.handlers or event_type in self.batch_handlers

    async def _apply_run(
        self, conn: AsyncConnection, run: list[Event], now: datetime | None
    ) -> None:
        """Apply consecutive events (of one type unless a projection takes them all):
        in one call where a projection or a batch handler exists."""
        batch_handler = self.projection or self.batch_handlers.get(run[0].event_type)
        if batch_handler is not None:
            await batch_handler(conn, run)
        else:
            for event in run:
                with case_context(event.case_id, event.correlation_id):
                    await self.handlers[event.event_type](conn, event)
        if now is not None:
            for event in run:
                self._applied(event, now)

    async def _claim_many(self, conn: AsyncConnection, events: list[Event]) -> set[UUID]:
        """Record events in the inbox; returns the ids that were not applied before."""
        if not events:
            return set()
        result = await conn.execute(
            pg_insert(inbox)
            .values([{"consumer": self.name, "event_id": e.event_id} for e in events])
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        fresh = {row[0] for row in result}
        duplicates = len({e.event_id for e in events}) - len(fresh)
        if duplicates:
            metrics.EVENTS_CONSUMED.labels(self.name, "duplicate").inc(duplicates)
        return fresh

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


def _first_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        first[tp] = min(first.get(tp, r.offset), r.offset)
    return first


def _next_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    nxt: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        nxt[tp] = max(nxt.get(tp, 0), r.offset + 1)
    return nxt
