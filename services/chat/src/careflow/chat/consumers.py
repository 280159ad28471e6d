"""Chat's Kafka entry point: cases and turns open conversations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import adapters
from careflow.contracts import TurnReached
from careflow.kit.cases import record_case_opened
from careflow.kit.consumer import Handler


async def on_turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
    await adapters.open_conversation(conn, event)


HANDLERS: dict[str, Handler] = {"CaseOpened": record_case_opened, "TurnReached": on_turn_reached}
