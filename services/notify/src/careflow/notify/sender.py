"""The worker that sends planned notifications from notify's delivery table.

Kafka consumers only plan deliveries (rows in ``deliveries``, committed with the inbox);
this loop claims due rows, sends them through their channel, and records the outcome.

The guarantee, per (cause event, recipient, channel), i.e. per dedupe key:

* Planned at most once: the dedupe key is unique in ``deliveries``, so a redelivered or
  replayed event plans nothing new.
* Recorded exactly once: the outcome (NotificationSent or NotificationFailed) is written
  in the same transaction that moves the row out of ``pending``, guarded by its status,
  onto a stream of its own (``notify-delivery-<id>``, version 1).
* Sent at least once, duplicated only by a crash: a worker killed after the provider
  accepted and before the outcome committed leaves the row claimed; when the claim
  lapses (``send_lease_seconds``) it is sent again *with the same idempotency key*. An
  SMS gateway or push service that honours the key (``Idempotency-Key``; Web Push
  ``Topic``) turns that into one message; SMTP has no such key, so at most one extra
  e-mail per crash can reach the inbox, recognisable by its identical Message-ID.
* Never retried forever: a refused recipient fails at once; a failing provider is retried
  with exponential backoff and jitter until ``send_max_attempts``, then fails. A failure
  is the event NotificationFailed, for staff to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import null, select, update

from careflow.kit import faults
from careflow.kit.db import Database
from careflow.kit.eventstore import append
from careflow.kit.logging import case_context, get_logger
from careflow.notify import adapters, domain
from careflow.notify.adapters import FAILED, PENDING, SENT, deliveries
from careflow.notify.channels import (
    Channel,
    Outgoing,
    PermanentFailure,
    TransientFailure,
)
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)

#: Crash point for the tests: after the provider accepted, before the outcome is recorded.
AFTER_SEND = "notify.after_send"

ATTEMPTS = Counter(
    "careflow_notify_send_attempts_total", "Tries to send a notification", ["channel", "outcome"]
)
OUTCOMES = Counter(
    "careflow_notify_deliveries_total", "Notifications finished", ["channel", "verdict"]
)


def delivery_stream(delivery_id: object) -> str:
    """Each delivery's outcome is the only event on its own stream."""
    return f"notify-delivery-{delivery_id}"


class Sender:
    """Claims due deliveries, sends them, records what happened; one loop per process."""

    def __init__(
        self,
        db: Database,
        settings: NotifySettings,
        channels: Mapping[str, Channel],
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = dict(channels)
        self.jitter = jitter
        self.clock = clock
        self.running = False
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Ask the loop to finish the batch in hand and return."""
        self._stop.set()

    async def run(self) -> None:
        """Send until stopped; a database outage pauses the loop, it does not end it."""
        self.running = True
        self._stop.clear()
        pause = self.settings.send_idle_poll_seconds
        try:
            while not self._stop.is_set():
                try:
                    handled = await self.run_once()
                    pause = self.settings.send_idle_poll_seconds
                except Exception as exc:
                    log.warning("notify_sender_error", error=type(exc).__name__)
                    handled = 0
                    pause = min(5.0, pause * 2)
                if handled == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), pause)
        finally:
            self.running = False
            for channel in self.channels.values():
                close = getattr(channel, "close", None)
                if close is not None:
                    await close()

    async def run_once(self) -> int:
        """Claim one batch of due deliveries and send them concurrently; returns how many."""
        rows = await self.claim()
        if rows:
            await asyncio.gather(*(self.deliver(row) for row in rows))
        return len(rows)

    async def claim(self) -> list[Any]:
        """Lease due deliveries to this worker, deferring those over a recipient's rate limit."""
        s = self.settings
        now = self.clock()
        window = timedelta(seconds=s.rate_limit_window_seconds)
        async with self.db.transaction() as conn:
            due = (
                await conn.execute(
                    select(deliveries.c.delivery_id, deliveries.c.recipient_id)
                    .where(deliveries.c.status == PENDING, deliveries.c.next_attempt_at <= now)
                    .order_by(deliveries.c.next_attempt_at)
                    .limit(s.send_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not due:
                return []
            recipients = {r.recipient_id for r in due}
            recent: dict[str, list[datetime]] = {}
            for r in await conn.execute(
                select(deliveries.c.recipient_id, deliveries.c.finished_at).where(
                    deliveries.c.recipient_id.in_(recipients),
                    deliveries.c.status == SENT,
                    deliveries.c.finished_at > now - window,
                )
            ):
                recent.setdefault(r.recipient_id, []).append(r.finished_at)
            allowed, deferred = domain.apply_rate_limit(
                [(r.delivery_id, r.recipient_id) for r in due],
                recent,
                now,
                s.rate_limit_count,
                window,
            )
            for delivery_id, until in deferred.items():
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.delivery_id == delivery_id)
                    .values(next_attempt_at=until)
                )
            if deferred:
                log.info("notify_rate_limited", deferred=len(deferred))
            if not allowed:
                return []
            # Counting the try at claim time: a worker killed mid-send still used one.
            result = await conn.execute(
                update(deliveries)
                .where(deliveries.c.delivery_id.in_(allowed))
                .values(
                    attempts=deliveries.c.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=s.send_lease_seconds),
                )
                .returning(*deliveries.c)
            )
            return list(result.all())

    async def deliver(self, row: Any) -> None:
        """Send one claimed delivery and record the outcome."""
        planned = adapters.as_planned(row)
        with case_context(planned.case_id, planned.correlation_id):
            outcome, detail = await self.attempt(planned)
            ATTEMPTS.labels(planned.channel, outcome).inc()
            faults.crash_point(AFTER_SEND)
            try:
                await self.record(planned, row.attempts, outcome, detail)
            except Exception as exc:
                # The claim lapses and the delivery is tried again with the same key.
                log.warning(
                    "notify_record_failed",
                    delivery_id=str(planned.delivery_id),
                    error=type(exc).__name__,
                )

    async def attempt(self, planned: domain.PlannedDelivery) -> tuple[domain.Outcome, str]:
        """One try through the delivery's channel: the outcome and a safe description."""
        channel = self.channels.get(planned.channel)
        if channel is None:
            return "unavailable", f"no {planned.channel} channel is configured"
        message = Outgoing(
            address=planned.address,
            content=domain.render(planned.kind, planned.language, self.settings.login_url),
            idempotency_key=planned.dedupe_key,
            language=planned.language,
        )
        try:
            await asyncio.wait_for(channel.send(message), self.settings.send_timeout_seconds)
        except PermanentFailure as exc:
            return "permanent", exc.detail
        except TransientFailure as exc:
            return "transient", exc.detail
        except TimeoutError:
            return "transient", f"{planned.channel} timed out"
        except Exception as exc:
            # An unexpected error must not kill the loop; retrying is bounded anyway.
            return "transient", f"{planned.channel} failed ({type(exc).__name__})"
        return "ok", "accepted"

    async def record(
        self, planned: domain.PlannedDelivery, attempts: int, outcome: domain.Outcome, detail: str
    ) -> None:
        """Store a try's outcome: a later retry, or the final event (once, guarded by status)."""
        s = self.settings
        now = self.clock()
        verdict = domain.after_attempt(outcome, attempts, s.send_max_attempts)
        async with self.db.transaction() as conn:
            if verdict == "retry":
                delay = domain.backoff_seconds(
                    attempts, s.send_backoff_base_seconds, s.send_backoff_cap_seconds, self.jitter()
                )
                await conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.delivery_id == planned.delivery_id,
                        deliveries.c.status == PENDING,
                    )
                    .values(next_attempt_at=now + timedelta(seconds=delay), last_error=detail)
                )
                log.info(
                    "notification_retry",
                    delivery_id=str(planned.delivery_id),
                    channel=planned.channel,
                    attempts=attempts,
                    delay_seconds=round(delay, 3),
                    detail=detail,
                )
                return
            closed = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.delivery_id == planned.delivery_id,
                    deliveries.c.status == PENDING,
                )
                .values(
                    status=SENT if verdict == "sent" else FAILED,
                    finished_at=now,
                    # The contact detail is no longer needed once the delivery is done.
                    address=null(),
                    last_error=None if verdict == "sent" else detail,
                )
                .returning(deliveries.c.delivery_id)
            )
            if closed.first() is None:
                return  # another worker recorded it already
            event = domain.outcome_event(planned, verdict, attempts, detail, now)
            await append(conn, delivery_stream(planned.delivery_id), 0, [event])
        OUTCOMES.labels(planned.channel, verdict).inc()
        log.info(
            "notification_sent" if verdict == "sent" else "notification_failed",
            delivery_id=str(planned.delivery_id),
            channel=planned.channel,
            kind=planned.kind,
            attempts=attempts,
            reason=verdict,
            detail=detail,
        )
