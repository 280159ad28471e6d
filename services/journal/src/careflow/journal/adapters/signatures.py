"""Signatures of documentation notes: their event-store streams, the signatures table kept
with them, and the notes their authors have yet to sign."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.contracts.journal_events import JournalNoteSigned
from careflow.journal import domain
from careflow.journal.adapters.tables import journal_entries, journal_signatures
from careflow.kit.eventstore import Aggregate

SIGNATURES = Aggregate(domain.NoteSignature, domain.evolve_signature)


def signature_stream(source_event_id: UUID) -> str:
    """The event-store stream of one note's signature."""
    return f"journal-signature-{source_event_id}"


async def project_signatures(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Record the signatures just decided, in the signing command's transaction."""
    for event in events:
        if isinstance(event, JournalNoteSigned):
            await conn.execute(
                insert(journal_signatures)
                .values(
                    signs_event_id=event.signs_event_id,
                    case_id=event.case_id,
                    signed_by=event.professional.staff_id,
                    signed_at=event.occurred_at,
                    event_id=event.event_id,
                )
                .on_conflict_do_nothing()
            )


async def unsigned_notes(
    conn: AsyncConnection, author_id: str, before: datetime | None = None
) -> list[dict[str, Any]]:
    """The notes ``author_id`` wrote and has not signed, oldest first."""
    query = (
        select(
            journal_entries.c.case_id,
            journal_entries.c.source_event_id,
            journal_entries.c.occurred_at,
            journal_entries.c.care_unit,
            journal_entries.c.content["outcome"].astext.label("outcome"),
        )
        .select_from(
            journal_entries.outerjoin(
                journal_signatures,
                journal_signatures.c.signs_event_id == journal_entries.c.source_event_id,
            )
        )
        .where(
            and_(
                journal_entries.c.author_id == author_id,
                journal_entries.c.kind.in_(sorted(domain.SIGNED_KINDS)),
                journal_signatures.c.signs_event_id.is_(None),
            )
        )
        .order_by(journal_entries.c.occurred_at)
    )
    if before is not None:
        query = query.where(journal_entries.c.occurred_at <= before)
    return [dict(r._mapping) for r in await conn.execute(query)]
