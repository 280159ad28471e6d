"""Notify's Kafka entry point.

Handlers only decide and plan: the in-app notification (PatientNotified) and one row per
outside delivery in notify's delivery table, committed with the consumer's inbox. The
sending itself happens in ``sender.Sender``, outside the consumer's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import CaseClosed, Event, MessageSent, TurnReached
from careflow.kit.cases import record_case_opened
from careflow.kit.consumer import Handler
from careflow.kit.logging import get_logger
from careflow.notify import adapters, domain
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)


async def on_turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
    """Tell the patient in the app, once (PatientNotified), without planning outside sends."""
    _, new = await adapters.AGGREGATE.execute(
        conn,
        adapters.stream_id(event.case_id),
        lambda state: domain.decide_your_turn(state, event, datetime.now(UTC)),
    )
    await adapters.project(conn, new)


async def plan_outside(
    conn: AsyncConnection, event: Event, message_notice_interval: timedelta
) -> int:
    """Plan the outside deliveries ``event`` calls for; returns how many are new."""
    kind = domain.kind_of(event)
    if kind is None:
        return 0
    recipient = await adapters.case_recipient(conn, event.case_id)
    if recipient is None:
        # CaseOpened always precedes a case's later events by far; without it nobody is known.
        log.warning("notify_case_unknown", event_type=event.event_type)
        return 0
    prefs = await adapters.load_preferences(conn, recipient)
    now = datetime.now(UTC)
    last = (
        await adapters.last_message_notice_at(conn, event.case_id)
        if kind == "new_message"
        else None
    )
    planned = domain.plan_deliveries(
        event, kind, recipient, prefs, last, now, message_notice_interval
    )
    return await adapters.enqueue(conn, planned, now)


def turn_handlers(settings: NotifySettings) -> dict[str, Handler]:
    """Handlers for the triage and queue topics."""
    interval = timedelta(seconds=settings.message_notice_interval_seconds)

    async def turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
        await on_turn_reached(conn, event)
        await plan_outside(conn, event, interval)

    return {"CaseOpened": record_case_opened, "TurnReached": turn_reached}


def chat_handlers(settings: NotifySettings) -> dict[str, Handler]:
    """Handlers for the chat topic: a staff message, and the advice when the case closes."""
    interval = timedelta(seconds=settings.message_notice_interval_seconds)

    def planner(_: type[Event]) -> Callable[[AsyncConnection, Event], Awaitable[None]]:
        async def handle(conn: AsyncConnection, event: Event) -> None:
            await plan_outside(conn, event, interval)

        return handle

    return {"MessageSent": planner(MessageSent), "CaseClosed": planner(CaseClosed)}


#: The in-app behaviour alone (kept for callers that want no outside channels).
HANDLERS: dict[str, Handler] = {"CaseOpened": record_case_opened, "TurnReached": on_turn_reached}
