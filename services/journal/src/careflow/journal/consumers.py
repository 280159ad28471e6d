"""Journal's Kafka entry point: the projector that documents every contact.

Every event type goes through one bulk projection (``adapters.project``); the
kit's consumer hands it each batch's fresh events at once, so a busy topic costs
a few statements per batch rather than per event.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import SUBSCRIPTIONS, Event, topic_for_service
from careflow.journal import adapters
from careflow.kit.consumer import Handler

#: The event types the journal consumes (its line in the contracts' SUBSCRIPTIONS).
EVENT_TYPES: tuple[str, ...] = SUBSCRIPTIONS["journal"]
#: The topics they live on.
SOURCE_SERVICES: tuple[str, ...] = ("triage", "queue", "notify", "chat", "journal")


def source_topics() -> list[str]:
    return [topic_for_service(s) for s in SOURCE_SERVICES]


async def project_one(conn: AsyncConnection, event: Event) -> None:
    """The one-event path (used when a batch is redone event by event)."""
    await adapters.project(conn, [event])


#: The journal's projection writes any mix of its event types in bulk: the kit's consumer
#: hands it every fresh event of a batch at once.
PROJECTION = adapters.project

HANDLERS: dict[str, Handler] = dict.fromkeys(EVENT_TYPES, project_one)
