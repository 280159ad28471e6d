"""Triage's Kafka entry point: queue and chat tell how far a case has come, so triage
refuses a re-triage once contact has begun or the case has closed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.kit.consumer import Handler
from careflow.triage import domain, service

#: Each consumed event and the stage of the case it shows.
STAGES: dict[str, domain.Contact] = {
    "TurnReached": domain.Contact.IN_CONTACT,
    "CaseRequeued": domain.Contact.WAITING,
    "CaseTransferred": domain.Contact.WAITING,
    "CaseWithdrawn": domain.Contact.CLOSED,
    "CaseClosed": domain.Contact.CLOSED,
}


def _handler(stage: domain.Contact) -> Handler:
    async def handle(conn: AsyncConnection, event: Event) -> None:
        await service.record_contact(conn, event, stage)

    return handle


HANDLERS: dict[str, Handler] = {event_type: _handler(s) for event_type, s in STAGES.items()}
