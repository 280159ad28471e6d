"""Abandoned triages expire: a sweep records TriageAbandoned for those left unanswered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from careflow.kit.db import Database
from careflow.kit.eventstore import ConcurrencyError
from careflow.kit.logging import get_logger
from careflow.triage import adapters, domain

log = get_logger(__name__)


async def expire_abandoned(db: Database, abandon_after: timedelta, now: datetime) -> int:
    """Abandon every triage with no answer for ``abandon_after``; returns how many."""
    async with db.transaction() as conn:
        idle = await adapters.idle_since(conn, now - abandon_after)
    expired = 0
    for case_id in idle:
        try:
            async with db.transaction() as conn:
                _, new = await adapters.AGGREGATE.execute(
                    conn,
                    adapters.stream_id(case_id),
                    lambda s: domain.decide_expire(s, now, abandon_after),
                )
                await adapters.project(conn, new)
        except ConcurrencyError:
            continue  # the patient answered meanwhile: not abandoned after all
        expired += len(new)
    return expired


async def sweep_forever(db: Database, abandon_after: timedelta, every_seconds: float) -> None:
    """Run ``expire_abandoned`` every ``every_seconds`` until cancelled."""
    while True:
        try:
            expired = await expire_abandoned(db, abandon_after, datetime.now(UTC))
            if expired:
                log.info("triages_expired", count=expired)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A database hiccup must not end the sweep; the next round retries.
            log.exception("triage_expiry_failed")
        await asyncio.sleep(every_seconds)
