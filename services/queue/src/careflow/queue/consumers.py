"""Queue's Kafka entry point: triaged cases enter the queue; opened cases name their owner."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import TriageCompleted
from careflow.kit.cases import record_case_opened
from careflow.kit.consumer import Handler
from careflow.queue import adapters, domain


async def on_triage_completed(conn: AsyncConnection, event: TriageCompleted) -> None:
    """Queue, move (re-triage) or take out (re-triaged to call 112) the case."""
    await adapters.execute(
        conn, event.case_id, lambda state: domain.decide_place(state, event, datetime.now(UTC))
    )


HANDLERS: dict[str, Handler] = {
    "CaseOpened": record_case_opened,
    "TriageCompleted": on_triage_completed,
    "NotificationFailed": adapters.record_unreached,
}
