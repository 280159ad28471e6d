"""Notify's commands: the one path from every entry point (HTTP, Kafka, the sender) to the rules.

Commands read the time from the injected ``Clock`` and pass it to the pure domain. Those run
for a Kafka event take the consumer's connection, so their effect commits with its inbox; the
others open one transaction each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event, PatientNotified, TurnReached
from careflow.kit import access_log
from careflow.kit.auth import Principal
from careflow.kit.cases import require_case_access
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden, NotFound
from careflow.kit.logging import get_logger
from careflow.notify import adapters, domain, reach
from careflow.notify.channels import (
    Channel,
    Outgoing,
    PermanentFailure,
    PushEndpoints,
    TransientFailure,
    UncertainDelivery,
)
from careflow.notify.settings import NotifySettings

log = get_logger(__name__)

OUTCOMES = Counter(
    "careflow_notify_deliveries_total", "Notifications finished", ["channel", "verdict"]
)


# --- for events (inside the consumer's transaction) ---------------------------------------


async def notify_turn(conn: AsyncConnection, clock: Clock, turn: TurnReached) -> list[Event]:
    """Tell the patient in the app, once, that it is their turn (PatientNotified), and
    follow whether it reaches them (``sweep_unreached``)."""
    now = clock.now()
    _, new = await adapters.AGGREGATE.execute(
        conn,
        adapters.stream_id(turn.case_id),
        lambda state: domain.decide_your_turn(state, turn, now),
        project=adapters.project,
    )
    recipient = await adapters.case_recipient(conn, turn.case_id)
    for event in new:
        if isinstance(event, PatientNotified):
            await reach.track(conn, event, recipient or "unknown")
    return new


async def plan_deliveries(
    conn: AsyncConnection, clock: Clock, event: Event, message_notice_interval: timedelta
) -> int:
    """Plan the outside deliveries ``event`` calls for; returns how many are new.

    Only planned here (rows in the delivery table); the sender sends them later, outside
    the consumer's transaction.
    """
    kind = domain.kind_of(event)
    if kind is None:
        return 0
    recipient = await adapters.case_recipient(conn, event.case_id)
    if recipient is None:
        # CaseOpened always precedes a case's later events by far; without it nobody is known.
        log.warning("notify_case_unknown", event_type=event.event_type)
        return 0
    prefs = await adapters.load_preferences(conn, recipient)
    now = clock.now()
    last = (
        await adapters.last_message_notice_at(conn, event.case_id)
        if kind == "new_message"
        else None
    )
    planned = domain.plan_deliveries(
        event, kind, recipient, prefs, last, now, message_notice_interval
    )
    return await adapters.enqueue(conn, planned, now)


# --- for the patient and staff (HTTP) ---------------------------------------------------------


#: What staff or an auditor read, as the access log names it.
READ_NOTIFICATIONS, READ_DELIVERIES = "notifications", "deliveries"
#: Staff of the case's region read what the patient was told, to follow up on the contact.
BASIS_REGION = "staff of the case's region"
PURPOSE_FOLLOW_UP = "follow up on what the patient was told"


async def _log_read(
    conn: AsyncConnection, clock: Clock, caller: Principal, case_id: UUID, what: str
) -> None:
    entry = access_log.staff_read(
        caller, case_id, what, BASIS_REGION, PURPOSE_FOLLOW_UP, clock.now()
    )
    await access_log.record_access(conn, adapters.access_log, entry)


async def case_notifications(
    db: Database, clock: Clock, caller: Principal, case_id: UUID
) -> list[dict[str, object]]:
    """A case's in-app notifications, for someone who may see the case (404 otherwise).

    A read by staff or an auditor is written to the access log in the same transaction.
    """
    async with db.transaction() as conn:
        await require_case_access(conn, case_id, caller)
        await _log_read(conn, clock, caller, case_id, READ_NOTIFICATIONS)
        return await adapters.for_case(conn, case_id)


async def case_deliveries(
    db: Database, clock: Clock, caller: Principal, case_id: UUID
) -> list[dict[str, object]]:
    """What was sent about a case through outside channels, without contact details.

    A read by staff or an auditor is written to the access log in the same transaction.
    """
    async with db.transaction() as conn:
        await require_case_access(conn, case_id, caller)
        await _log_read(conn, clock, caller, case_id, READ_DELIVERIES)
        return await adapters.deliveries_for_case(conn, case_id)


async def seen(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, notification_id: UUID
) -> datetime:
    """The patient's app showed "your turn": they are reached. When it was first seen."""
    async with db.transaction() as conn:
        await require_case_access(conn, case_id, caller)
        if caller.role != "patient":
            raise Forbidden("only the patient's own app marks a notification seen")
        at = await reach.mark_seen(conn, case_id, notification_id, clock.now())
    if at is None:
        raise NotFound("no such notification on this case")
    return at


def _decided(events: list[Event]) -> Callable[[domain.CaseNotifications], list[Event]]:
    """A decision already taken, for ``Aggregate.execute`` to append."""
    return lambda _: events


async def sweep_unreached(db: Database, clock: Clock, unseen_after: timedelta) -> int:
    """Settle every "your turn" old enough: seen, reached outside, or unreached (then a
    NotificationFailed puts the patient on staff's list). Returns how many were unreached."""
    now = clock.now()
    async with db.transaction() as conn:
        due = await reach.open_before(conn, now - unseen_after)
    unreached = 0
    for notification_id in due:
        async with db.transaction() as conn:
            turn = await reach.load_locked(conn, notification_id)
            if turn is None:
                continue
            outside = await reach.outside_statuses(conn, turn.cause_event_id)
            verdict = domain.reach_verdict(turn, outside, now, unseen_after)
            if verdict == "wait":
                continue
            if verdict == "unreached":
                failed = domain.decide_unreached(turn, outside, now, unseen_after)
                await adapters.AGGREGATE.execute(
                    conn, adapters.stream_id(turn.case_id), _decided(failed)
                )
                unreached += 1
                log.warning("patient_unreached", case_id=str(turn.case_id))
            await reach.settle(conn, notification_id, verdict, now)
    return unreached


async def sweep_unreached_forever(
    db: Database, clock: Clock, unseen_after: timedelta, every_seconds: float
) -> None:
    """Run ``sweep_unreached`` every ``every_seconds`` until cancelled."""
    while True:
        try:
            await sweep_unreached(db, clock, unseen_after)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A database hiccup must not end the sweep; the next round retries.
            log.exception("unreached_sweep_failed", error=type(exc).__name__)
        await asyncio.sleep(every_seconds)


# A guardian acting for a child is the one reached about the child's cases, so the
# preferences are always the caller's own (subject id), never the child's.


async def preferences(db: Database, caller: Principal) -> domain.ContactPreferences:
    """The caller's own contact preferences (none chosen until they set them)."""
    async with db.transaction() as conn:
        return await adapters.load_preferences(conn, caller.subject_id)


async def set_preferences(
    db: Database,
    clock: Clock,
    caller: Principal,
    prefs: domain.ContactPreferences,
    push: PushEndpoints | None = None,
) -> domain.ContactPreferences:
    """Replace the caller's contact preferences (``Invalid`` if they could never be used).

    A push subscription must name a known push service over https whose host resolves to
    public addresses only (``push``; the sender checks it again before every send).
    """
    push = push or PushEndpoints()
    domain.validate_preferences(prefs, push.services, push.schemes)
    if prefs.push_subscription is not None:
        await push.check(str(prefs.push_subscription["endpoint"]))
    async with db.transaction() as conn:
        await adapters.save_preferences(conn, caller.subject_id, prefs, clock.now())
    return prefs


# --- for the sender ---------------------------------------------------------------------------


async def claim_due(db: Database, clock: Clock, settings: NotifySettings) -> list[adapters.Claim]:
    """Lease due deliveries to this worker, deferring those over a recipient's rate limit."""
    now = clock.now()
    window = timedelta(seconds=settings.rate_limit_window_seconds)
    async with db.transaction() as conn:
        due = await adapters.due_deliveries(conn, now, settings.send_batch_size)
        if not due:
            return []
        recent = await adapters.recent_sends(conn, {r for _, r in due}, now - window)
        allowed, deferred = domain.apply_rate_limit(
            due, recent, now, settings.rate_limit_count, window
        )
        await adapters.defer(conn, deferred)
        if deferred:
            log.info("notify_rate_limited", deferred=len(deferred))
        if not allowed:
            return []
        return await adapters.lease(conn, allowed, now + timedelta(seconds=settings.lease_seconds))


#: Why a delivery whose earlier try handed the message over is not sent again.
HANDED_OVER_BEFORE = (
    "an earlier try handed the message to the provider and stopped before its answer; "
    "it may have arrived, so it is not sent again"
)


async def mark_handed_over(db: Database, clock: Clock, claim: adapters.Claim) -> None:
    """Commit that this try is handing the message over (before the step that cannot be
    taken back); raises when the claim is no longer this worker's, so nothing is sent."""
    async with db.transaction() as conn:
        if not await adapters.mark_handed_over(conn, claim, clock.now()):
            raise RuntimeError("the delivery's claim lapsed")


async def send_once(
    channels: Mapping[str, Channel],
    settings: NotifySettings,
    delivery: domain.PlannedDelivery,
    handing_over: Callable[[], Awaitable[None]] | None = None,
) -> tuple[domain.Outcome, str]:
    """One try through the delivery's channel: the outcome and a description safe to log.

    ``handing_over`` is called by a channel that cannot recognise a repeat, just before
    the message leaves for good (``mark_handed_over``).
    """
    channel = channels.get(delivery.channel)
    if channel is None:
        return "unavailable", f"no {delivery.channel} channel is configured"
    message = Outgoing(
        address=delivery.address,
        content=domain.render(delivery.kind, delivery.language, settings.login_url),
        idempotency_key=delivery.dedupe_key,
        language=delivery.language,
        handing_over=handing_over,
    )
    try:
        # The channel bounds its own steps; this only catches one that hangs past them all.
        await asyncio.wait_for(channel.send(message), channel.longest_send_seconds + 1.0)
    except PermanentFailure as exc:
        return "permanent", exc.detail
    except TransientFailure as exc:
        return "transient", exc.detail
    except UncertainDelivery as exc:
        return "uncertain", exc.detail
    except TimeoutError:
        return "transient", f"{delivery.channel} timed out"
    except Exception as exc:
        # An unexpected error must not kill the sender; retrying is bounded anyway.
        return "transient", f"{delivery.channel} failed ({type(exc).__name__})"
    return "ok", "accepted"


async def record_attempt(
    db: Database,
    clock: Clock,
    settings: NotifySettings,
    claim: adapters.Claim,
    outcome: domain.Outcome,
    detail: str,
    jitter: Callable[[], float],
) -> domain.Verdict | None:
    """Store a try's outcome: a later retry, or the final event (recorded once).

    Returns the verdict, or None when another worker had recorded it already.
    """
    s, planned, attempts = settings, claim.delivery, claim.attempts
    now = clock.now()
    verdict = domain.after_attempt(outcome, attempts, s.send_max_attempts)
    async with db.transaction() as conn:
        if verdict == "retry":
            delay = domain.backoff_seconds(
                attempts, s.send_backoff_base_seconds, s.send_backoff_cap_seconds, jitter()
            )
            await adapters.reschedule(
                conn, planned.delivery_id, now + timedelta(seconds=delay), detail
            )
            log.info(
                "notification_retry",
                delivery_id=str(planned.delivery_id),
                channel=planned.channel,
                attempts=attempts,
                delay_seconds=round(delay, 3),
                detail=detail,
            )
            return verdict
        if not await adapters.close(conn, planned.delivery_id, verdict == "sent", now, detail):
            return None
        await adapters.DELIVERY.execute(
            conn,
            adapters.delivery_stream(planned.delivery_id),
            lambda state: domain.decide_outcome(state, planned, verdict, attempts, detail, now),
        )
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
    return verdict
