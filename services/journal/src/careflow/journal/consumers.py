"""Journal's Kafka entry point: the projector that documents every contact.

The journal consumes the event types of its line in the contracts' ``SUBSCRIPTIONS``
(the kit derives the topics from them) and records all of them through one command,
``service.record``. The kit's consumer hands ``PROJECTION`` each batch's fresh
events at once, so a busy topic costs a few statements per batch, not per event.
"""

from __future__ import annotations

from careflow.contracts import SUBSCRIPTIONS
from careflow.journal import service
from careflow.kit.consumer import BatchHandler

#: What the journal records: every type of its line in the contracts' SUBSCRIPTIONS.
EVENT_TYPES: tuple[str, ...] = SUBSCRIPTIONS["journal"]

#: Every fresh event of a batch, any mix of types, in arrival order.
PROJECTION: BatchHandler = service.record
