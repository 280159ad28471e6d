"""Journal's Kafka entry point: the projector that documents every contact."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.journal import adapters, domain
from careflow.kit.consumer import Handler


async def document(conn: AsyncConnection, event: Event) -> None:
    draft = domain.draft_for(event)
    if draft is not None:
        await adapters.append_entry(conn, draft)


HANDLERS: dict[str, Handler] = {
    "CaseOpened": adapters.record_patient,
    "TriageCompleted": document,
    "TurnReached": document,
    "MessageSent": document,
    "VideoContactStarted": document,
    "VideoContactEnded": document,
    "CaseClosed": document,
}
