"""Queue's Kafka entry point: triaged cases enter the queue."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import TriageCompleted
from careflow.kit.consumer import Handler
from careflow.queue import adapters, domain


async def on_triage_completed(conn: AsyncConnection, event: TriageCompleted) -> None:
    _, new = await adapters.AGGREGATE.execute(
        conn,
        adapters.stream_id(event.case_id),
        lambda state: domain.decide_place(state, event, datetime.now(UTC)),
    )
    await adapters.project(conn, new)


HANDLERS: dict[str, Handler] = {"TriageCompleted": on_triage_completed}
