"""Notify's pure rules: planning, templates, backoff, rate limit, preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notify_testkit import NURSE, case_closed, message_sent, turn_reached

from careflow.contracts import SenderRole
from careflow.kit.domain import Invalid
from careflow.notify import domain

pytestmark = [pytest.mark.notify, pytest.mark.unit]

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
ALL = domain.ContactPreferences(
    language="en",
    channels=frozenset({"sms", "email", "push"}),
    phone="+46701234567",
    email="p@example.org",
    push_subscription={
        "endpoint": "https://fcm.googleapis.com/fcm/send/x",
        "keys": {"p256dh": "a", "auth": "b"},
    },
)
INTERVAL = timedelta(minutes=15)


def test_each_event_plans_one_delivery_per_chosen_channel_with_a_stable_key() -> None:
    turn = turn_reached(uuid.uuid4())
    first = domain.plan_deliveries(turn, "your_turn", "sub_1", ALL, None, NOW, INTERVAL)
    again = domain.plan_deliveries(turn, "your_turn", "sub_1", ALL, None, NOW + INTERVAL, INTERVAL)
    assert [p.channel for p in first] == ["sms", "email", "push"]
    assert [p.dedupe_key for p in first] == [p.dedupe_key for p in again]
    assert len({p.delivery_id for p in first}) == 3
    assert first[0].dedupe_key == f"{turn.event_id}:your_turn:sub_1:sms"


def test_only_chosen_and_reachable_channels_are_planned() -> None:
    sms_only = domain.ContactPreferences(
        channels=frozenset({"sms"}), phone="+46701234567", email="p@example.org"
    )
    planned = domain.plan_deliveries(
        turn_reached(uuid.uuid4()), "your_turn", "s", sms_only, None, NOW, INTERVAL
    )
    assert [p.channel for p in planned] == ["sms"]
    assert (
        domain.plan_deliveries(
            turn_reached(uuid.uuid4()),
            "your_turn",
            "s",
            domain.ContactPreferences(),
            None,
            NOW,
            INTERVAL,
        )
        == []
    )


def test_new_message_notices_are_throttled_per_case_but_turns_are_not() -> None:
    msg = message_sent(uuid.uuid4(), 3, SenderRole.STAFF)
    recent = NOW - timedelta(minutes=5)
    assert domain.plan_deliveries(msg, "new_message", "s", ALL, recent, NOW, INTERVAL) == []
    assert (
        len(domain.plan_deliveries(msg, "new_message", "s", ALL, NOW - INTERVAL, NOW, INTERVAL))
        == 3
    )
    turn = turn_reached(uuid.uuid4())
    assert len(domain.plan_deliveries(turn, "your_turn", "s", ALL, recent, NOW, INTERVAL)) == 3


def test_what_each_event_tells() -> None:
    case = uuid.uuid4()
    assert domain.kind_of(turn_reached(case)) == "your_turn"
    assert domain.kind_of(message_sent(case, 1, SenderRole.STAFF)) == "new_message"
    assert domain.kind_of(message_sent(case, 2, SenderRole.PATIENT)) is None
    assert domain.kind_of(case_closed(case)) == "advice_ready"
    assert domain.recipient_of("child", "guardian") == "guardian"
    assert domain.recipient_of("adult", None) == "adult"


@pytest.mark.parametrize("kind", ["your_turn", "new_message", "advice_ready"])
@pytest.mark.parametrize("language", ["sv", "en"])
def test_templates_carry_a_login_link_and_nothing_about_the_case(
    kind: domain.Kind, language: domain.Language
) -> None:
    rendered = domain.render(kind, language, "https://login.example/x")
    assert rendered.text.endswith("https://login.example/x")
    assert ("Logga in" if language == "sv" else "Log in") in rendered.text
    for secret in (NURSE.name, "feber", "fever", "191212121212"):
        assert secret.lower() not in rendered.text.lower()
    other = "en" if language == "sv" else "sv"
    assert rendered != domain.render(kind, other, "https://login.example/x")


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    low = [domain.backoff_seconds(n, 1.0, 60.0, 0.0) for n in range(1, 9)]
    high = [domain.backoff_seconds(n, 1.0, 60.0, 0.999) for n in range(1, 9)]
    assert low == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert all(h > lo for h, lo in zip(high, low, strict=True))
    assert max(high) < 60.0


def test_after_an_attempt() -> None:
    assert domain.after_attempt("ok", 3, 3) == "sent"
    assert domain.after_attempt("permanent", 1, 8) == "invalid_recipient"
    assert domain.after_attempt("transient", 7, 8) == "retry"
    assert domain.after_attempt("transient", 8, 8) == "retries_exhausted"
    assert domain.after_attempt("unavailable", 1, 8) == "channel_unavailable"


def test_rate_limit_defers_the_excess_until_the_window_frees() -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    window = timedelta(minutes=10)
    earlier = NOW - timedelta(minutes=4)
    allowed, deferred = domain.apply_rate_limit(
        [(ids[0], "a"), (ids[1], "a"), (ids[2], "b"), (ids[3], "a")],
        {"a": [earlier, NOW - timedelta(minutes=30)]},
        NOW,
        limit=2,
        window=window,
    )
    assert allowed == [ids[0], ids[2]]
    assert deferred == {ids[1]: earlier + window, ids[3]: earlier + window}


@pytest.mark.parametrize(
    ("prefs", "reason"),
    [
        (domain.ContactPreferences(phone="0701234567"), "international form"),
        (domain.ContactPreferences(email="not-an-address"), "valid address"),
        (domain.ContactPreferences(channels=frozenset({"sms"})), "sms is chosen"),
        (domain.ContactPreferences(push_subscription={"endpoint": "ftp://x", "keys": {}}), "https"),
        (
            domain.ContactPreferences(
                push_subscription={"endpoint": "https://push.example/x", "keys": {}}
            ),
            "known push service",
        ),
    ],
)
def test_preferences_that_could_never_be_delivered_are_refused(
    prefs: domain.ContactPreferences, reason: str
) -> None:
    with pytest.raises(Invalid, match=reason):
        domain.validate_preferences(prefs)
    domain.validate_preferences(ALL)


def test_outcome_events_name_the_delivery_and_cause() -> None:
    turn = turn_reached(uuid.uuid4())
    [planned] = domain.plan_deliveries(
        turn,
        "your_turn",
        "s",
        domain.ContactPreferences(channels=frozenset({"sms"}), phone="+46701234567"),
        None,
        NOW,
        INTERVAL,
    )
    sent = domain.outcome_event(planned, "sent", 2, "accepted", NOW)
    failed = domain.outcome_event(planned, "invalid_recipient", 1, "refused (422)", NOW)
    assert sent.event_type == "NotificationSent" and sent.causation_id == turn.event_id
    assert failed.event_type == "NotificationFailed"
    assert failed.model_dump()["reason"] == "invalid_recipient"
    with pytest.raises(ValueError):
        domain.outcome_event(planned, "retry", 1, "", NOW)
