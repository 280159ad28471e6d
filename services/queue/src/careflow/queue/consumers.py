"""Queue's Kafka entry point: triaged cases enter the queue; opened cases name their owner;
failed notifications put the patient on staff's list to call."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import TriageCompleted
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import Clock
from careflow.kit.consumer import Handler
from careflow.queue import service


def handlers(clock: Clock) -> dict[str, Handler]:
    """Event type -> handler, each a command of ``service`` reading the time from ``clock``."""

    async def on_triage_completed(conn: AsyncConnection, event: TriageCompleted) -> None:
        await service.record_triaged_case(conn, clock, event)

    return {
        "CaseOpened": record_case_opened,
        "TriageCompleted": on_triage_completed,
        "NotificationFailed": service.record_notification_failed,
        "CaseClosed": service.record_case_closed,
    }
