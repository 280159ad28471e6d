"""Journal's Kafka entry point: the projector that documents every contact.

The journal consumes the event types of its line in the contracts' ``SUBSCRIPTIONS``
(the kit derives the topics from them) and records all of them through one command,
``service.record``. The kit's consumer hands ``PROJECTION`` each batch's fresh
events at once, so a busy topic costs a few statements per batch, not per event.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import SUBSCRIPTIONS, Event
from careflow.journal import service
from careflow.kit.consumer import BatchHandler, Handler

#: Every fresh event of a batch, any mix of types, in arrival order.
PROJECTION: BatchHandler = service.record


async def record(conn: AsyncConnection, event: Event) -> None:
    """Record one event: the same command as a batch of one."""
    await service.record(conn, [event])


#: What the journal handles: every type it subscribes to (applied through ``PROJECTION``).
HANDLERS: dict[str, Handler] = dict.fromkeys(SUBSCRIPTIONS["journal"], record)
