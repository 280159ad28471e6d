"""Journal's signing commands: the responsible professional signs a note; their unsigned
notes, flagged when overdue. One transaction each; the rules are ``domain.signing``'s.

The signature is decided on the note's own stream (signed once, whoever races), kept in
the append-only ``journal_signatures`` table in the same transaction, and goes to the
outbox; the projector records it as a ``signature`` entry in the note's case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from careflow.contracts import Event, Professional
from careflow.journal import adapters, domain
from careflow.journal.service import _open
from careflow.kit.auth import Principal
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Invalid


def signer(caller: Principal) -> Professional:
    """The professional who signs: name, title and care unit are part of the signature."""
    if not (caller.name and caller.title and caller.care_unit):
        raise Invalid("a signature needs the professional's name, title and care unit")
    return Professional(
        staff_id=caller.subject_id[:64],
        name=caller.name,
        title=caller.title,
        care_unit=caller.care_unit,
    )


async def sign(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, source_event_id: UUID
) -> Event:
    """Sign the note documenting ``source_event_id``: its author alone, once."""
    professional = signer(caller)
    async with db.transaction() as conn:
        await _open(conn, case_id, caller, "sign", "sign the documentation note", False)
        target = await adapters.entry_by_event(conn, case_id, source_event_id)
        now = clock.now()
        _, events = await adapters.SIGNATURES.execute(
            conn,
            adapters.signature_stream(source_event_id),
            lambda state: domain.decide_signature(
                state, target, professional, caller.subject_id, now
            ),
            project=adapters.project_signatures,
        )
    (signed,) = events
    return signed


async def unsigned(
    db: Database, clock: Clock, caller: Principal, flag_after: timedelta
) -> tuple[datetime, list[dict[str, Any]]]:
    """The notes the caller wrote and has not signed, each flagged once overdue."""
    now = clock.now()
    async with db.transaction() as conn:
        rows = await adapters.unsigned_notes(conn, caller.subject_id)
    for row in rows:
        row["overdue"] = domain.is_overdue(row["occurred_at"], now, flag_after)
    return now, rows
