"""Notification rules: the patient is told, once, that it is their turn.

Pure: no I/O, no clock, no random ids. Two aggregates: one case's in-app
notifications (a TurnReached that was already notified, by a redelivery or a
replay, produces nothing new) and one outside delivery's outcome (recorded once).
Every id here derives from its natural key, so deciding the same thing twice
decides the same events.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseClosed,
    Event,
    MessageSent,
    PatientNotified,
    SenderRole,
    TurnReached,
)
from careflow.contracts.notify_events import NotificationFailed, NotificationSent
from careflow.kit.clock import natural_id
from careflow.kit.domain import Invalid

PRODUCER = "notify"
CHANNEL = "in_app"
SYSTEM = Actor(id="notify", role=ActorRole.SYSTEM)


@dataclass(frozen=True)
class CaseNotifications:
    """Which events of one case the patient has been notified about."""

    notified_causes: frozenset[UUID] = frozenset()


def evolve(state: CaseNotifications, event: Event) -> CaseNotifications:
    """Apply one recorded event."""
    if isinstance(event, PatientNotified):
        return replace(state, notified_causes=state.notified_causes | {event.cause_event_id})
    return state


def notification_id(cause_event_id: UUID, kind: str) -> UUID:
    """The in-app notification an event causes: the same cause always names the same one."""
    return natural_id("notify", "notification", str(cause_event_id), kind)


def decide_your_turn(state: CaseNotifications, turn: TurnReached, now: datetime) -> list[Event]:
    """Tell the patient it is their turn, unless that turn was already notified."""
    if turn.event_id in state.notified_causes:
        return []
    notified = notification_id(turn.event_id, "your_turn")
    return [
        PatientNotified(
            event_id=natural_id("notify", "PatientNotified", str(notified)),
            case_id=turn.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=turn.correlation_id,
            causation_id=turn.event_id,
            actor=SYSTEM,
            notification_id=notified,
            kind="your_turn",
            channel=CHANNEL,
            cause_event_id=turn.event_id,
        )
    ]


# --- notifications through outside channels (SMS, e-mail, Web Push) ------------------------
#
# The consumer plans one delivery per (cause event, recipient, channel); a worker sends them
# from notify's durable delivery table, never inside the Kafka consumer's transaction. The
# rules below are pure; the tables and the sending live in adapters.py and sender.py.

Kind = Literal["your_turn", "new_message", "advice_ready"]
ChannelName = Literal["sms", "email", "push"]
Language = Literal["sv", "en"]
CHANNELS: tuple[ChannelName, ...] = ("sms", "email", "push")

#: E.164: a plus, a country code and up to 15 digits in all.
PHONE_PATTERN = re.compile(r"^\+[1-9][0-9]{6,14}$")
#: Deliberately loose: the mail server is the judge; this only catches obvious typos.
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class ContactPreferences:
    """How a person wants to be reached. Contact details are personal data: never log them."""

    language: Language = "sv"
    channels: frozenset[ChannelName] = frozenset()
    phone: str | None = None
    email: str | None = None
    push_subscription: Mapping[str, Any] | None = None

    def address(self, channel: ChannelName) -> Mapping[str, Any] | None:
        """Where ``channel`` reaches the person, or None when that detail is missing."""
        if channel == "sms" and self.phone:
            return {"phone": self.phone}
        if channel == "email" and self.email:
            return {"email": self.email}
        if channel == "push" and self.push_subscription:
            return {"subscription": dict(self.push_subscription)}
        return None


#: The push services of the major browsers; an endpoint's host must be one of these or end
#: in ``.`` + one of these. Chrome, Edge, Opera and Samsung Internet push through Firebase
#: Cloud Messaging; Firefox through Mozilla's autopush; Safari through Apple; older Edge
#: and Windows through WNS (``*.notify.windows.com``).
DEFAULT_PUSH_SERVICES: tuple[str, ...] = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)


def is_push_service(host: str, services: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``services`` or a name under one (matched by suffix)."""
    host = host.lower().rstrip(".")
    for service in services:
        known = service.lower().strip(".")
        if known and (host == known or host.endswith("." + known)):
            return True
    return False


def push_target(
    endpoint: str, services: Sequence[str], schemes: Sequence[str] = ("https",)
) -> tuple[str, int]:
    """The host and port of a push endpoint notify may send to; ``Invalid`` with the reason.

    Only ``https`` (``schemes``), no credentials in the URL, and a host on the allow-list
    of push services. That the host's addresses are public is checked where it is resolved.
    """
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise Invalid("push_subscription.endpoint is not a valid URL") from None
    if parts.scheme.lower() not in schemes:
        raise Invalid(f"push_subscription.endpoint must be an {'/'.join(schemes)} URL")
    if parts.username is not None or parts.password is not None:
        raise Invalid("push_subscription.endpoint must not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Invalid("push_subscription.endpoint has no host")
    if not is_push_service(host, services):
        raise Invalid(
            "push_subscription.endpoint is not on a known push service "
            f"({', '.join(services) or 'none configured'})"
        )
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


def address_refusal(address: str) -> str | None:
    """Why notify must not connect to ``address`` (an IP address), or None when it is public.

    Loopback, private, shared, link-local (the cloud metadata service), multicast, reserved
    and unspecified addresses are refused, as is anything not globally routable, also
    when written as an IPv4-mapped IPv6 address.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "an address that is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("an unspecified", ip.is_unspecified),
        ("a reserved", ip.is_reserved),
        ("a private", ip.is_private),
    ):
        if hit:
            return f"{kind} address"
    if not ip.is_global:
        return "an address that is not public"
    return None


def validate_preferences(
    prefs: ContactPreferences,
    push_services: Sequence[str] = DEFAULT_PUSH_SERVICES,
    push_schemes: Sequence[str] = ("https",),
) -> None:
    """Refuse preferences that could never be delivered (``Invalid`` with the reason).

    A push subscription's endpoint must be an https URL on a known push service
    (``push_services``); the command also checks what its host resolves to.
    """
    if prefs.phone is not None and not PHONE_PATTERN.match(prefs.phone):
        raise Invalid("phone must be in international form, e.g. +46701234567")
    if prefs.email is not None and not EMAIL_PATTERN.match(prefs.email):
        raise Invalid("email is not a valid address")
    sub = prefs.push_subscription
    if sub is not None:
        endpoint = sub.get("endpoint")
        keys = sub.get("keys")
        if not isinstance(endpoint, str):
            raise Invalid("push_subscription.endpoint must be an https URL")
        push_target(endpoint, push_services, push_schemes)
        if not isinstance(keys, Mapping) or not all(
            isinstance(keys.get(k), str) and keys.get(k) for k in ("p256dh", "auth")
        ):
            raise Invalid("push_subscription.keys needs p256dh and auth")
    for channel in sorted(prefs.channels):
        if prefs.address(channel) is None:
            raise Invalid(f"channel {channel} is chosen but its contact detail is missing")


def recipient_of(patient_id: str, acting_guardian_id: str | None) -> str:
    """Who is reached about a case: the guardian acting for a child, else the patient."""
    return acting_guardian_id or patient_id


def kind_of(event: Event) -> Kind | None:
    """What an incoming event tells the patient, or None when it needs no notification.

    Only staff messages notify: the patient wrote their own.
    """
    if isinstance(event, TurnReached):
        return "your_turn"
    if isinstance(event, MessageSent):
        return "new_message" if event.sender_role == SenderRole.STAFF else None
    if isinstance(event, CaseClosed):
        return "advice_ready"
    return None


def dedupe_key(cause_event_id: UUID, kind: Kind, recipient_id: str, channel: ChannelName) -> str:
    """Names one notification: one cause, one recipient, one channel. Also the idempotency key."""
    return f"{cause_event_id}:{kind}:{recipient_id}:{channel}"


def delivery_id(key: str) -> UUID:
    """A stable id for a dedupe key, so a replanned delivery keeps its id."""
    return natural_id("notify", "delivery", key)


@dataclass(frozen=True)
class PlannedDelivery:
    """One notification to send through one outside channel."""

    delivery_id: UUID
    dedupe_key: str
    case_id: UUID
    correlation_id: UUID
    cause_event_id: UUID
    recipient_id: str
    kind: Kind
    channel: ChannelName
    language: Language
    address: Mapping[str, Any]


def plan_deliveries(
    cause: Event,
    kind: Kind,
    recipient_id: str,
    prefs: ContactPreferences,
    last_message_notice_at: datetime | None,
    now: datetime,
    message_notice_interval: timedelta,
) -> list[PlannedDelivery]:
    """The deliveries an event calls for, one per channel the recipient chose and can be reached on.

    The platform has no presence signal yet, so "you have a new message" is throttled
    instead: at most one per case per ``message_notice_interval``. A patient who is
    chatting gets at most one such notice per interval; one who left gets told promptly.
    """
    if (
        kind == "new_message"
        and last_message_notice_at is not None
        and now - last_message_notice_at < message_notice_interval
    ):
        return []
    planned = []
    for channel in CHANNELS:
        if channel not in prefs.channels:
            continue
        address = prefs.address(channel)
        if address is None:
            continue
        key = dedupe_key(cause.event_id, kind, recipient_id, channel)
        planned.append(
            PlannedDelivery(
                delivery_id=delivery_id(key),
                dedupe_key=key,
                case_id=cause.case_id,
                correlation_id=cause.correlation_id,
                cause_event_id=cause.event_id,
                recipient_id=recipient_id,
                kind=kind,
                channel=channel,
                language=prefs.language,
                address=address,
            )
        )
    return planned


@dataclass(frozen=True)
class Rendered:
    """The words of one notification: no health information, names or case details."""

    subject: str
    text: str


_TEMPLATES: dict[tuple[Kind, Language], tuple[str, str]] = {
    ("your_turn", "sv"): (
        "Det är din tur",
        "Det är din tur. Logga in för att fortsätta: {url}",
    ),
    ("your_turn", "en"): (
        "It is your turn",
        "It is your turn. Log in to continue: {url}",
    ),
    ("new_message", "sv"): (
        "Du har ett nytt meddelande",
        "Du har ett nytt meddelande. Logga in för att läsa det: {url}",
    ),
    ("new_message", "en"): (
        "You have a new message",
        "You have a new message. Log in to read it: {url}",
    ),
    ("advice_ready", "sv"): (
        "Ditt svar finns att läsa",
        "Ditt svar finns att läsa. Logga in för att läsa det: {url}",
    ),
    ("advice_ready", "en"): (
        "Your advice is ready to read",
        "Your advice is ready to read. Log in to read it: {url}",
    ),
}


def render(kind: Kind, language: Language, login_url: str) -> Rendered:
    """The notification's words in the recipient's language, with a link to log in."""
    subject, text = _TEMPLATES[(kind, language)]
    return Rendered(subject=subject, text=text.format(url=login_url))


def backoff_seconds(attempts: int, base: float, cap: float, jitter: float) -> float:
    """How long to wait after ``attempts`` failed tries: exponential, capped, with jitter.

    ``jitter`` is a random number in [0, 1) passed in (the rules stay pure). "Equal
    jitter": half the exponential delay is kept, half is random, so retries of many
    deliveries spread out while none retries immediately.
    """
    delay: float = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay / 2 + delay / 2 * jitter


Verdict = Literal[
    "sent",
    "retry",
    "invalid_recipient",
    "retries_exhausted",
    "channel_unavailable",
    "outcome_unknown",
]


#: ``uncertain``: the provider got the whole notification but its answer was lost, and it
#: cannot recognise a repeat (SMTP): trying again could deliver it twice.
Outcome = Literal["ok", "permanent", "transient", "unavailable", "uncertain"]


def after_attempt(outcome: Outcome, attempts: int, max_attempts: int) -> Verdict:
    """What follows one try: done, try again later, or give up with a reason."""
    if outcome == "ok":
        return "sent"
    if outcome == "unavailable":
        return "channel_unavailable"
    if outcome == "permanent":
        return "invalid_recipient"
    if outcome == "uncertain":
        return "outcome_unknown"
    return "retries_exhausted" if attempts >= max_attempts else "retry"


def apply_rate_limit(
    due: Sequence[tuple[UUID, str]],
    recent_sends: Mapping[str, Sequence[datetime]],
    now: datetime,
    limit: int,
    window: timedelta,
) -> tuple[list[UUID], dict[UUID, datetime]]:
    """Split due deliveries ``(id, recipient)`` into those to send now and those to defer.

    At most ``limit`` sends per recipient within any ``window``; a delivery over the limit
    is deferred (never dropped) until the oldest send in the window ages out.
    """
    allowed: list[UUID] = []
    deferred: dict[UUID, datetime] = {}
    taken: dict[str, list[datetime]] = {
        r: sorted(t for t in times if now - t < window) for r, times in recent_sends.items()
    }
    for delivery, recipient in due:
        times = taken.setdefault(recipient, [])
        if len(times) >= limit:
            deferred[delivery] = times[len(times) - limit] + window
            continue
        times.append(now)
        allowed.append(delivery)
    return allowed, deferred


def outcome_event(
    delivery: PlannedDelivery,
    verdict: Verdict,
    attempts: int,
    detail: str,
    now: datetime,
) -> Event:
    """The event that closes a delivery: NotificationSent, or NotificationFailed with a reason."""
    common: dict[str, Any] = {
        # One outcome per delivery, so the delivery names its outcome event.
        "event_id": natural_id("notify", "delivery-outcome", str(delivery.delivery_id)),
        "case_id": delivery.case_id,
        "occurred_at": now,
        "producer": PRODUCER,
        "correlation_id": delivery.correlation_id,
        "causation_id": delivery.cause_event_id,
        "actor": SYSTEM,
        "notification_id": delivery.delivery_id,
        "kind": delivery.kind,
        "channel": delivery.channel,
        "recipient_id": delivery.recipient_id,
        "cause_event_id": delivery.cause_event_id,
        "dedupe_key": delivery.dedupe_key,
        "attempts": attempts,
    }
    if verdict == "sent":
        return NotificationSent(**common)
    if verdict == "retry":
        raise ValueError("a delivery to be retried has no outcome event yet")
    return NotificationFailed(**common, reason=verdict, detail=detail[:500])


@dataclass(frozen=True)
class DeliveryOutcome:
    """Whether one outside delivery's outcome is recorded (its stream holds at most one)."""

    recorded: bool = False


def evolve_delivery(state: DeliveryOutcome, event: Event) -> DeliveryOutcome:
    """Apply one recorded event of a delivery's stream."""
    if isinstance(event, NotificationSent | NotificationFailed):
        return DeliveryOutcome(recorded=True)
    return state


def decide_outcome(
    state: DeliveryOutcome,
    delivery: PlannedDelivery,
    verdict: Verdict,
    attempts: int,
    detail: str,
    now: datetime,
) -> list[Event]:
    """Close a delivery with its outcome event, unless it is closed already."""
    if state.recorded:
        return []
    return [outcome_event(delivery, verdict, attempts, detail, now)]


# --- every patient reached: "your turn" in the app, and what happens when nothing reaches ---
#
# A patient with no outside channel is told only in the app. If neither the app (seen) nor
# an outside channel (sent) reaches them within ``unseen_after``, staff must call instead:
# a NotificationFailed of the app itself puts them on queue's list of unreached patients.

ReachVerdict = Literal["seen", "reached", "wait", "unreached"]
#: An outside delivery still being tried, or one that reached the patient.
DELIVERY_PENDING, DELIVERY_SENT = "pending", "sent"


@dataclass(frozen=True)
class InAppTurn:
    """One "your turn" in the app, as notify tracks whether it reached the patient."""

    notification_id: UUID
    case_id: UUID
    correlation_id: UUID
    cause_event_id: UUID
    recipient_id: str
    notified_at: datetime
    seen_at: datetime | None = None


def reach_verdict(
    turn: InAppTurn, outside: Sequence[str], now: datetime, unseen_after: timedelta
) -> ReachVerdict:
    """Whether "your turn" reached the patient: seen in the app, sent through an outside
    channel (``outside``: its deliveries' statuses), still to wait for, or unreached."""
    if turn.seen_at is not None:
        return "seen"
    if DELIVERY_SENT in outside:
        return "reached"
    if DELIVERY_PENDING in outside or now - turn.notified_at < unseen_after:
        return "wait"
    return "unreached"


def unreached_id(notification_id: UUID) -> UUID:
    """The one NotificationFailed an in-app notification may end in."""
    return natural_id("notify", "in-app-unreached", str(notification_id))


def decide_unreached(
    turn: InAppTurn, outside: Sequence[str], now: datetime, unseen_after: timedelta
) -> list[Event]:
    """NotificationFailed (channel ``in_app``) when nothing reached the patient in time.

    ``no_channel``: no outside channel was even planned; ``not_seen``: outside channels
    were tried and failed, and the app was not seen either.
    """
    if reach_verdict(turn, outside, now, unseen_after) != "unreached":
        return []
    reason: Literal["no_channel", "not_seen"] = "not_seen" if outside else "no_channel"
    waited = int(unseen_after.total_seconds())
    return [
        NotificationFailed(
            event_id=unreached_id(turn.notification_id),
            case_id=turn.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=turn.correlation_id,
            causation_id=turn.cause_event_id,
            actor=SYSTEM,
            notification_id=turn.notification_id,
            kind="your_turn",
            channel="in_app",
            recipient_id=turn.recipient_id,
            cause_event_id=turn.cause_event_id,
            dedupe_key=f"{turn.cause_event_id}:your_turn:{turn.recipient_id}:{CHANNEL}",
            attempts=len(outside),
            reason=reason,
            detail=("no outside channel chosen" if reason == "no_channel" else "no channel reached")
            + f", and your turn was not seen in the app within {waited} s",
        )
    ]
