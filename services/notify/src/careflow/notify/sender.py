"""The worker that sends planned notifications from notify's delivery table.

Kafka consumers only plan deliveries (rows in ``deliveries``, committed with the inbox);
this loop claims due rows, sends them through their channel, and records the outcome,
each step a command of ``service``.

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
  ``Topic``) turns that into one message. SMTP has no such key, so an e-mail is never
  sent twice instead: its hand-over is committed just before the data leaves, and a later
  try that finds it records NotificationFailed ``outcome_unknown`` (staff see "not
  confirmed") rather than risk a second copy. A mail server slow to answer is waited for
  (``smtp_data_timeout_seconds``), and one that never answers the message data is not
  sent to again either.
* Never retried forever: a refused recipient fails at once; a failing provider is retried
  with exponential backoff and jitter until ``send_max_attempts``, then fails. A failure
  is the event NotificationFailed, for staff to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping

from prometheus_client import Counter

from careflow.kit import faults
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.logging import case_context, get_logger
from careflow.notify import domain, service
from careflow.notify.adapters import Claim
from careflow.notify.channels import Channel
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)

#: Crash point for the tests: after the provider accepted, before the outcome is recorded.
AFTER_SEND = "notify.after_send"

ATTEMPTS = Counter(
    "careflow_notify_send_attempts_total", "Tries to send a notification", ["channel", "outcome"]
)


class Sender:
    """Claims due deliveries, sends them, records what happened; one loop per process."""

    def __init__(
        self,
        db: Database,
        settings: NotifySettings,
        channels: Mapping[str, Channel],
        clock: Clock,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = dict(channels)
        self.clock = clock
        self.jitter = jitter
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
        claims = await service.claim_due(self.db, self.clock, self.settings)
        if claims:
            await asyncio.gather(*(self.deliver(claim) for claim in claims))
        return len(claims)

    async def deliver(self, claim: Claim) -> None:
        """Send one claimed delivery and record the outcome."""
        planned = claim.delivery
        with case_context(planned.case_id, planned.correlation_id):
            outcome: domain.Outcome
            detail: str
            if claim.handed_over:
                # A try before this one was killed while the provider had the message.
                outcome, detail = "uncertain", service.HANDED_OVER_BEFORE
            else:
                outcome, detail = await service.send_once(
                    self.channels,
                    self.settings,
                    planned,
                    lambda: service.mark_handed_over(self.db, self.clock, claim),
                )
            ATTEMPTS.labels(planned.channel, outcome).inc()
            faults.crash_point(AFTER_SEND)
            try:
                await service.record_attempt(
                    self.db, self.clock, self.settings, claim, outcome, detail, self.jitter
                )
            except Exception as exc:
                # The claim lapses and the delivery is tried again with the same key.
                log.warning(
                    "notify_record_failed",
                    delivery_id=str(planned.delivery_id),
                    error=type(exc).__name__,
                )
