"""Notify's Kafka entry point: each handler calls a command of ``service``.

Handlers only decide and plan: the in-app notification (PatientNotified) and one row per
outside delivery in notify's delivery table, committed with the consumer's inbox. The
sending itself happens in ``sender.Sender``, outside the consumer's transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, TurnReached
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import Clock
from careflow.kit.consumer import Handler
from careflow.notify import service
from careflow.notify.settings import NotifySettings


def turn_handlers(settings: NotifySettings, clock: Clock) -> dict[str, Handler]:
    """Handlers for the triage and queue topics: whose case it is, and their turn."""
    interval = timedelta(seconds=settings.message_notice_interval_seconds)

    async def turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
        await service.notify_turn(conn, clock, event)
        await service.plan_deliveries(conn, clock, event, interval)

    return {"CaseOpened": record_case_opened, "TurnReached": turn_reached}


def chat_handlers(settings: NotifySettings, clock: Clock) -> dict[str, Handler]:
    """Handlers for the chat topic: a staff message, and the advice when the case closes."""
    interval = timedelta(seconds=settings.message_notice_interval_seconds)

    async def plan(conn: AsyncConnection, event: Event) -> None:
        await service.plan_deliveries(conn, clock, event, interval)

    return {"MessageSent": plan, "CaseClosed": plan}
