"""Consent and block decisions: their event-store stream and their read model."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, parse_event
from careflow.contracts.journal_events import (
    ConsentGiven,
    ConsentWithdrawn,
    JournalBlockLifted,
    JournalBlockPlaced,
)
from careflow.journal import domain
from careflow.journal.adapters.cases import payload
from careflow.journal.adapters.tables import journal_consents
from careflow.kit.eventstore import Aggregate

CONSENTS = Aggregate(domain.CaseConsents, domain.evolve_consents)


def consent_stream(case_id: UUID) -> str:
    """The event-store stream of one case's consents."""
    return f"journal-consent-{case_id}"


_CONSENT_EVENTS = (ConsentGiven, ConsentWithdrawn, JournalBlockPlaced, JournalBlockLifted)


async def project_consents(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Add consent and block events to the read model (idempotent by event id)."""
    rows = [
        {
            "event_id": e.event_id,
            "case_id": e.case_id,
            "event_type": e.event_type,
            "occurred_at": e.occurred_at,
            "payload": payload(e),
        }
        for e in events
        if isinstance(e, _CONSENT_EVENTS)
    ]
    if rows:
        await conn.execute(insert(journal_consents).on_conflict_do_nothing(), rows)


async def consents_of(conn: AsyncConnection, case_id: UUID) -> domain.CaseConsents:
    """Which other providers the case's patient lets read its entries, and whether blocked.

    Rows are folded in the order they were projected: the HTTP path's is the event
    store's; a rebuild's is the topic partition's, the same order.
    """
    state = domain.CaseConsents()
    rows = await conn.execute(
        select(journal_consents.c.payload)
        .where(journal_consents.c.case_id == case_id)
        .order_by(journal_consents.c.id)
    )
    for r in rows:
        state = domain.evolve_consents(state, parse_event(r.payload))
    return state
