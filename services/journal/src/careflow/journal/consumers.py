"""Journal's Kafka entry point: the projector that documents every contact.

Every event type goes through one bulk projection (``adapters.project``); the
kit's consumer hands it runs of consecutive same-type events, so a busy topic
costs a few statements per batch rather than per event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import SUBSCRIPTIONS, Event, topic_for_service
from careflow.journal import adapters
from careflow.kit import metrics
from careflow.kit.consumer import BatchHandler, Handler, IdempotentConsumer

#: The event types the journal consumes (its line in the contracts' SUBSCRIPTIONS).
EVENT_TYPES: tuple[str, ...] = SUBSCRIPTIONS["journal"]
#: The topics they live on.
SOURCE_SERVICES: tuple[str, ...] = ("triage", "queue", "notify", "chat", "journal")


def source_topics() -> list[str]:
    return [topic_for_service(s) for s in SOURCE_SERVICES]


async def project_one(conn: AsyncConnection, event: Event) -> None:
    """The one-event path (used when a batch is redone event by event)."""
    await adapters.project(conn, [event])


async def project_run(conn: AsyncConnection, events: list[Event]) -> None:
    await adapters.project(conn, events)


HANDLERS: dict[str, Handler] = dict.fromkeys(EVENT_TYPES, project_one)
BATCH_HANDLERS: dict[str, BatchHandler] = dict.fromkeys(EVENT_TYPES, project_run)


class Projector(IdempotentConsumer):
    """The kit's idempotent consumer, handing the projection a whole batch at once.

    The kit groups a batch into runs of one event type; the journal's topics
    interleave types (a case's messages, then its video, then the next case's),
    so runs are short and each costs the projection's few statements. The
    projection takes any mix of types, so here the fresh events of the whole
    batch go in one call. Inbox, dead letters and the one-by-one retry path are
    the kit's, unchanged.
    """

    async def _apply(
        self,
        conn: AsyncConnection,
        parsed: list[tuple[ConsumerRecord[Any, Any], Event]],
        isolate: bool,
    ) -> list[Any]:
        if isolate:
            return await super()._apply(conn, parsed, isolate)
        handled = [e for _, e in parsed if self._handles(e.event_type)]
        if len(handled) < len(parsed):
            metrics.EVENTS_CONSUMED.labels(self.name, "ignored").inc(len(parsed) - len(handled))
        fresh = await self._claim_many(conn, handled)
        run: list[Event] = []
        for event in handled:
            if event.event_id in fresh:
                fresh.discard(event.event_id)  # the same event twice in one batch: once
                run.append(event)
        if run:
            await adapters.project(conn, run)
            now = datetime.now(UTC)
            for event in run:
                self._applied(event, now)
        return []
