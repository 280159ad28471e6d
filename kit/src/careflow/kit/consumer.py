"""The idempotent consumer (inbox) on an aiokafka poll loop.

For each batch the consumer opens one database transaction; for every event
it first records (consumer, event_id) in the inbox, and applies the handler
only if that row is new. Effects and inbox rows commit together, and only
then are the Kafka offsets committed. A crash anywhere before the offset
commit redelivers the batch, and the inbox turns the redelivery into no-ops.

A message that cannot be read (bad JSON, unknown type, failing validation),
that is not its topic's to carry (another owner's event type, or a ``producer``
other than the topic's owner), or that its handler rejects goes to the service's
dead-letter topic with the reason and its origin; the partition moves on.
Reasons and log lines name codes, event types, field locations and exception
types, never a message's content or an exception's text (which may quote it).
An infrastructure error (the database away) rolls the batch back and seeks back
to it, so nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import ContractError, Event, parse_event, topic_for_service
from careflow.contracts.registry import SERVICES
from careflow.kit import faults, metrics
from careflow.kit.db import Database
from careflow.kit.kafka import Producer, dead_letter_record
from careflow.kit.logging import case_context, get_logger
from careflow.kit.problems import is_unavailable

log = get_logger(__name__)

Handler = Callable[[AsyncConnection, Any], Awaitable[None]]
#: Applies every fresh event of a batch at once (a read model writing in bulk).
BatchHandler = Callable[[AsyncConnection, list[Any]], Awaitable[None]]

#: Claims a batch in the inbox with one statement, prepared once whatever the batch size;
#: returns the ids not claimed before.
_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) "
    "SELECT CAST(:consumer AS varchar), unnest(CAST(:event_ids AS uuid[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


class Rejected(Exception):
    """Raised by a handler for an event it can never apply; the event is dead-lettered.

    ``reason`` goes into the dead letter and the log as it is: a fixed text, never a
    value taken from the event.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Which service alone writes each of the registry's event topics.
REGISTRY_TOPIC_OWNERS: Mapping[str, str] = {topic_for_service(s): s for s in SERVICES}

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
    # asyncpg reports a lost connection as a DBAPIError with connection_invalidated, and a
    # server still starting as its own CannotConnectNowError (found by `careflow chaos`):
    # both mean "retry the batch", never "isolate it and dead-letter its events".
    if isinstance(exc, DBAPIError) and bool(exc.connection_invalidated):
        return True
    return is_unavailable(exc)


class IdempotentConsumer:
    """Applies events from Kafka to one service's database exactly once in effect.

    ``handlers`` maps event types to ``async handler(conn, event)``; event types
    without a handler are skipped (recorded as ignored, offsets still advance).
    ``topic_owners`` names the one service that writes each topic (the registry's, by
    default): an event there of another owner's type, or whose ``producer`` is not that
    service, is dead-lettered unhandled. A topic it does not name (a test's or a
    benchmark's own) is not checked.
    A ``projection`` instead takes every fresh event of the batch (of the handled
    types, in order) in one call, for a read model that writes in bulk.

    The poll loop lingers a few milliseconds to gather a batch (one durable
    commit per batch, not per event), commits the batch's exact offsets after the
    database commit, and on an infrastructure error rewinds every partition of
    the batch it read. It is plain aiokafka, like the producer: a FastStream batch
    subscriber could keep these guarantees only through its own internals and cost
    more per event (docs/architecture.md, "One Kafka client").
    """

    def __init__(
        self,
        name: str,
        db: Database,
        producer: Producer,
        dead_letter_topic: str,
        handlers: Mapping[str, Handler] | None = None,
        retry_backoff_seconds: float = 1.0,
        projection: BatchHandler | None = None,
        event_types: Iterable[str] = (),
        topic_owners: Mapping[str, str] = REGISTRY_TOPIC_OWNERS,
    ) -> None:
        self.name = name
        self.db = db
        self.producer = producer
        self.dead_letter_topic = dead_letter_topic
        self.handlers = dict(handlers or {})
        self.projection = projection
        # A projection takes whole batches, so it may name its types without a handler each.
        self.event_types = frozenset(self.handlers) | frozenset(event_types)
        if projection is None and set(self.event_types) - set(self.handlers):
            raise ValueError("without a projection every consumed event type needs a handler")
        # Write access to one topic must not let a service speak for another (a consent, a
        # close): an event read off an owned topic must be that owner's, from that owner.
        self.topic_owners = dict(topic_owners)
        self.retry_backoff_seconds = retry_backoff_seconds
        self.topics: tuple[str, ...] = ()
        self.batch_size = 500
        self.linger_seconds = 0.02
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.running = False
        self._consumed = {
            outcome: metrics.EVENTS_CONSUMED.labels(name, outcome)
            for outcome in ("applied", "duplicate", "ignored")
        }
        self._lag = metrics.EVENT_LAG.labels(name)

    def subscribe(self, *topics: str, batch_size: int = 500, linger_ms: int = 20) -> None:
        """Choose the topics to consume (group id = consumer name); ``start`` begins."""
        self.topics = topics
        self.batch_size = batch_size
        self.linger_seconds = linger_ms / 1000

    async def start(self, bootstrap_servers: str | None = None) -> None:
        """Join the consumer group and start the poll loop.

        The connection (servers and security) is the producer's, so dead letters and
        reads go to the same cluster; ``bootstrap_servers`` only overrides the servers.
        """
        options = dict(self.producer.options)
        if bootstrap_servers is not None:
            options["bootstrap_servers"] = bootstrap_servers
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            **options,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
        )
        try:
            await self._consumer.start()
        except BaseException:
            # Refused (TLS, SASL) or unreachable: release its connections and tasks too.
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
            raise
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
            except Exception as exc:
                log.exception("consumer_poll_failed", consumer=self.name, error=type(exc).__name__)
                await asyncio.sleep(self.retry_backoff_seconds)
                continue
            await self._record_lag(consumer)
            if not records:
                continue
            try:
                await self.process(records)
            except Exception as exc:
                if _is_transient(exc):
                    log.warning(
                        "consumer_batch_retry", consumer=self.name, error=type(exc).__name__
                    )
                else:
                    log.exception(
                        "consumer_batch_failed", consumer=self.name, error=type(exc).__name__
                    )
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
                log.warning("consumer_commit_failed", consumer=self.name, error=type(exc).__name__)

    async def _record_lag(self, consumer: Any) -> None:
        """Export how far behind each assigned partition this consumer is (for alerts)."""
        try:
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None:
                    continue
                position = await consumer.position(tp)
                metrics.CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(
                    max(0, high - position)
                )
        except Exception as exc:  # a rebalance in between: the next poll sets it again
            log.debug("consumer_lag_unknown", consumer=self.name, error=type(exc).__name__)

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply one batch: effects and inbox rows in one transaction, then dead letters.

        Raises only for an infrastructure error (or a dead letter Kafka refused): the
        caller then reads the batch again. Nothing is applied twice either way.
        """
        parsed: list[tuple[ConsumerRecord[Any, Any], Event]] = []
        dead: list[_DeadLetter] = []
        for record in records:
            try:
                event = parse_event(record.value or b"")
            except ContractError as exc:
                dead.append(_DeadLetter(record, exc.safe_reason))
                continue
            misplaced = self._misplaced(record.topic, event)
            if misplaced is not None:
                dead.append(_DeadLetter(record, misplaced))
                continue
            parsed.append((record, event))
        handled = [(r, e) for r, e in parsed if e.event_type in self.event_types]
        if len(handled) < len(parsed):
            self._consumed["ignored"].inc(len(parsed) - len(handled))
        applied: list[Event] = []
        try:
            async with self.db.transaction() as conn:
                applied = await self._apply_batch(conn, [e for _, e in handled])
        except Exception as exc:
            if _is_transient(exc):
                raise
            if not isinstance(exc, Rejected):
                log.warning(
                    "consumer_batch_isolating", consumer=self.name, error=type(exc).__name__
                )
            # Redo the batch one event at a time, so only the bad ones are set aside.
            async with self.db.transaction() as conn:
                applied, rejected = await self._apply_isolated(conn, handled)
            dead.extend(rejected)
        self._count_applied(applied)
        await self._dead_letter(dead)

    def _misplaced(self, topic: str, event: Event) -> str | None:
        """Why ``event`` may not travel on ``topic``, or None when its owner wrote it there."""
        owner = self.topic_owners.get(topic)
        if owner is None:
            return None
        event_owner = type(event).OWNER
        if event_owner != owner:
            return (
                f"wrong topic: {event.event_type} is owned by {event_owner}, "
                f"not by {owner}, whose topic this is"
            )
        if event.producer != owner:
            # The claimed producer is the sender's text: not repeated here.
            return f"forged producer: {event.event_type} on this topic must come from {owner}"
        return None

    async def _apply_batch(self, conn: AsyncConnection, events: list[Event]) -> list[Event]:
        """The fast path: claim the whole batch with one statement, apply the fresh events."""
        fresh = await self._claim(conn, events)
        new: list[Event] = []
        for event in events:
            if event.event_id in fresh:
                fresh.discard(event.event_id)  # the same event twice in one batch: apply once
                new.append(event)
        await self._apply(conn, new)
        return new

    async def _apply_isolated(
        self, conn: AsyncConnection, handled: list[tuple[ConsumerRecord[Any, Any], Event]]
    ) -> tuple[list[Event], list[_DeadLetter]]:
        """Each event in its own savepoint: a bad one is set aside, the others apply."""
        applied: list[Event] = []
        dead: list[_DeadLetter] = []
        for record, event in handled:
            with case_context(event.case_id, event.correlation_id):
                try:
                    async with conn.begin_nested():
                        if not await self._claim(conn, [event]):
                            continue
                        await self._apply(conn, [event])
                    applied.append(event)
                except Rejected as exc:
                    dead.append(_DeadLetter(record, f"rejected by handler: {exc.reason}"))
                except Exception as exc:
                    if _is_transient(exc):
                        raise
                    log.exception(
                        "handler_failed",
                        consumer=self.name,
                        event_type=event.event_type,
                        error=type(exc).__name__,
                    )
                    # Only the type: the text of a database or validation error quotes values.
                    dead.append(_DeadLetter(record, f"handler error: {type(exc).__name__}"))
        return applied, dead

    async def _apply(self, conn: AsyncConnection, events: list[Event]) -> None:
        """Apply fresh events in order: all at once through the projection, or one by one."""
        if not events:
            return
        if self.projection is not None:
            await self.projection(conn, events)
            return
        for event in events:
            with case_context(event.case_id, event.correlation_id):
                await self.handlers[event.event_type](conn, event)

    async def _claim(self, conn: AsyncConnection, events: list[Event]) -> set[UUID]:
        """Record events in the inbox; returns the ids that were not applied before."""
        if not events:
            return set()
        ids = list({e.event_id: None for e in events})
        result = await conn.execute(_CLAIM, {"consumer": self.name, "event_ids": ids})
        fresh: set[UUID] = {row[0] for row in result}
        if len(ids) > len(fresh):
            self._consumed["duplicate"].inc(len(ids) - len(fresh))
        return fresh

    def _count_applied(self, applied: list[Event]) -> None:
        """Count and time events whose effects are committed."""
        if not applied:
            return
        self._consumed["applied"].inc(len(applied))
        now = datetime.now(UTC)
        for event in applied:
            self._lag.observe(max(0.0, (now - event.occurred_at).total_seconds()))

    async def _dead_letter(self, dead: list[_DeadLetter]) -> None:
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
            await self.producer.publish(
                self.dead_letter_topic,
                dead_letter_record(
                    consumer=self.name,
                    reason=item.reason,
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value,
                ),
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
