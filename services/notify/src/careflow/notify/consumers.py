"""Notify's Kafka entry point."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import TurnReached
from careflow.kit.cases import record_case_opened
from careflow.kit.consumer import Handler
from careflow.notify import adapters, domain


async def on_turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
    _, new = await adapters.AGGREGATE.execute(
        conn,
        adapters.stream_id(event.case_id),
        lambda state: domain.decide_your_turn(state, event, datetime.now(UTC)),
    )
    await adapters.project(conn, new)


HANDLERS: dict[str, Handler] = {"CaseOpened": record_case_opened, "TurnReached": on_turn_reached}
