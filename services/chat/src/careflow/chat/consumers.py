"""Chat's Kafka entry point: cases and turns open conversations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.chat import adapters
from careflow.contracts import TurnReached
from careflow.kit.cases import record_case_opened


async def on_turn_reached(conn: AsyncConnection, event: TurnReached) -> None:
    await adapters.open_conversation(conn, event)


HANDLERS = {"CaseOpened": record_case_opened, "TurnReached": on_turn_reached}
