"""Abandoned triages expire: a sweep runs the expiry command for those left unanswered."""

from __future__ import annotations

import asyncio

from careflow.kit.logging import get_logger
from careflow.triage import service

log = get_logger(__name__)


async def sweep_forever(ctx: service.Context, every_seconds: float) -> None:
    """Run ``service.expire_abandoned`` every ``every_seconds`` until cancelled."""
    while True:
        try:
            expired = await service.expire_abandoned(ctx)
            if expired:
                log.info("triages_expired", count=expired)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A database hiccup must not end the sweep; the next round retries.
            log.exception("triage_expiry_failed", error=type(exc).__name__)
        await asyncio.sleep(every_seconds)
