"""The sender against real PostgreSQL and real local providers (HTTP SMS gateway, SMTP).

Events are applied by notify's own handlers in one transaction, as the idempotent consumer
would; what leaves, and how often, is counted at the providers.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from notify_testkit import (
    MIGRATIONS,
    Gateway,
    Mailbox,
    await_until,
    case_opened,
    migrated_database,
    turn_reached,
)
from sqlalchemy import select, text

from careflow.cli.roles import runtime_env
from careflow.contracts import Event, parse_event
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.kit.eventstore import events
from careflow.kit.migrations import upgrade
from careflow.notify import adapters, consumers, domain
from careflow.notify.app import build_channels
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.integration]

#: How long the SMS gateway stays down. The issue asks for 30 s; the default keeps the suite
#: fast, ``NOTIFY_TEST_GATEWAY_DOWN_SECONDS=30`` runs the full length.
GATEWAY_DOWN_SECONDS = float(os.environ.get("NOTIFY_TEST_GATEWAY_DOWN_SECONDS", "6"))


@dataclass
class Env:
    db: Database
    schema: str
    database_url: str
    gateway: Gateway
    mailbox: Mailbox

    def settings(self, **overrides: Any) -> NotifySettings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "sms_gateway_url": self.gateway.sms_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.mailbox.port,
            "send_backoff_base_seconds": 0.2,
            "send_backoff_cap_seconds": 1.0,
            "send_timeout_seconds": 5.0,
            # The longest e-mail (5 s before the data, 4 s for its answer) fits the lease.
            "smtp_data_timeout_seconds": 4.0,
            "send_lease_seconds": 10.0,
            "send_idle_poll_seconds": 0.05,
            **overrides,
        }
        return NotifySettings(**values)


@pytest.fixture
def providers() -> Iterator[tuple[Gateway, Mailbox]]:
    gateway, mailbox = Gateway(), Mailbox()
    gateway.start()
    mailbox.start()
    yield gateway, mailbox
    gateway.stop()
    mailbox.stop()


@pytest.fixture
async def env(infra, unique: str, providers: tuple[Gateway, Mailbox]) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    schema = f"notify_{unique}"
    db = await asyncio.to_thread(migrated_database, infra.database_url, schema)
    yield Env(db, schema, infra.database_url, *providers)
    await db.dispose()


async def open_case(
    env: Env, channels: list[str], phone: str | None = None, email: str | None = None
) -> tuple[uuid.UUID, str]:
    """A case whose patient chose ``channels``; returns (case id, patient subject id)."""
    case_id, patient = uuid.uuid4(), f"sub_{uuid.uuid4().hex[:12]}"
    prefs = domain.ContactPreferences(
        language="en", channels=frozenset(channels), phone=phone, email=email
    )
    domain.validate_preferences(prefs)
    async with env.db.transaction() as conn:
        await record_case_opened(conn, case_opened(case_id, patient))
        await adapters.save_preferences(conn, patient, prefs, turn_reached(case_id).occurred_at)
    return case_id, patient


async def apply(env: Env, event: Event) -> None:
    """Apply an event with notify's handlers, in one transaction, as its consumer does."""
    handlers = {
        **consumers.turn_handlers(env.settings(), SystemClock()),
        **consumers.chat_handlers(env.settings(), SystemClock()),
    }
    async with env.db.transaction() as conn:
        await handlers[event.event_type](conn, event)


async def outcomes(env: Env) -> list[Event]:
    """Every NotificationSent and NotificationFailed recorded, oldest first."""
    async with env.db.transaction() as conn:
        rows = await conn.execute(
            select(events.c.payload)
            .where(events.c.event_type.in_(["NotificationSent", "NotificationFailed"]))
            .order_by(events.c.position)
        )
        return [parse_event(r.payload) for r in rows]


async def statuses(env: Env) -> dict[str, str]:
    async with env.db.transaction() as conn:
        rows = await conn.execute(
            select(adapters.deliveries.c.dedupe_key, adapters.deliveries.c.status)
        )
        return {r.dedupe_key: r.status for r in rows}


async def until_settled(env: Env, count: int) -> dict[str, str]:
    async def settled() -> dict[str, str] | None:
        now = await statuses(env)
        done = len(now) == count and all(s != adapters.PENDING for s in now.values())
        return now if done else None

    result: dict[str, str] = await await_until(
        "every delivery to settle", settled, limit_seconds=120
    )
    return result


async def running(sender: Sender) -> asyncio.Task[None]:
    task = asyncio.create_task(sender.run())
    await await_until("the sender to run", lambda: _true(sender.running))
    return task


async def _true(value: bool) -> bool:
    return value


async def stopped(sender: Sender, task: asyncio.Task[None]) -> None:
    sender.stop()
    await asyncio.wait_for(task, 30)


async def test_gateway_down_then_up_every_notification_is_delivered_exactly_once(env: Env) -> None:
    settings = env.settings(send_max_attempts=1000)
    cases = [await open_case(env, ["sms"], phone=f"+4670123450{i}") for i in range(5)]
    turns = [turn_reached(case_id) for case_id, _ in cases]
    env.gateway.down = True
    for turn in turns:
        await apply(env, turn)
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)

    await asyncio.sleep(GATEWAY_DOWN_SECONDS)
    refused_while_down = len(env.gateway.requests)
    # Every turn is applied again (a redelivery): it must plan nothing new.
    for turn in turns:
        await apply(env, turn)
    env.gateway.down = False
    final = await until_settled(env, len(turns))
    await stopped(sender, task)

    keys = [
        domain.dedupe_key(t.event_id, "your_turn", p, "sms")
        for t, (_, p) in zip(turns, cases, strict=True)
    ]
    assert set(final) == set(keys) and set(final.values()) == {adapters.SENT}
    assert refused_while_down > len(turns), "the sender retried while the gateway was down"
    for key in keys:
        accepted = [r for r in env.gateway.requests_for(key) if r.status < 300]
        assert len(accepted) == 1, key
    assert sorted(env.gateway.delivered) == sorted(keys)
    recorded = await outcomes(env)
    assert sorted(e.dedupe_key for e in recorded) == sorted(keys)  # type: ignore[attr-defined]
    assert {e.event_type for e in recorded} == {"NotificationSent"}
    assert all(e.attempts > 1 for e in recorded)  # type: ignore[attr-defined]
    for phone_req in env.gateway.delivered.values():
        assert phone_req["text"] == "It is your turn. Log in to continue: " + settings.login_url


async def test_invalid_number_and_address_fail_once_with_a_clear_event(env: Env) -> None:
    settings = env.settings(send_max_attempts=5)
    env.gateway.invalid_numbers.add("+46700000000")
    case_id, patient = await open_case(
        env, ["sms", "email"], phone="+46700000000", email="nobody@invalid.example"
    )
    turn = turn_reached(case_id)
    await apply(env, turn)
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)
    final = await until_settled(env, 2)
    await stopped(sender, task)

    assert set(final.values()) == {adapters.FAILED}
    failed = await outcomes(env)
    assert sorted((e.channel, e.reason, e.attempts) for e in failed) == [  # type: ignore[attr-defined]
        ("email", "invalid_recipient", 1),
        ("sms", "invalid_recipient", 1),
    ]
    assert all(
        e.event_type == "NotificationFailed" and e.causation_id == turn.event_id for e in failed
    )
    details = " ".join(e.detail for e in failed)  # type: ignore[attr-defined]
    assert "+46700000000" not in details and "nobody@" not in details
    sms_key = domain.dedupe_key(turn.event_id, "your_turn", patient, "sms")
    assert len(env.gateway.requests_for(sms_key)) == 1, "a refused number is never retried"
    assert env.mailbox.messages == []
    async with env.db.transaction() as conn:
        left = (
            await conn.execute(text("SELECT count(*) FROM deliveries WHERE address IS NOT NULL"))
        ).scalar()
    assert left == 0, "contact details are dropped once a delivery is done"


async def test_a_gateway_that_never_recovers_ends_in_notification_failed(env: Env) -> None:
    settings = env.settings(send_max_attempts=3)
    env.gateway.down = True
    case_id, patient = await open_case(env, ["sms"], phone="+46701234567")
    turn = turn_reached(case_id)
    await apply(env, turn)
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)
    await until_settled(env, 1)
    await stopped(sender, task)

    [failed] = await outcomes(env)
    assert failed.event_type == "NotificationFailed"
    assert (failed.reason, failed.attempts) == ("retries_exhausted", 3)  # type: ignore[attr-defined]
    key = domain.dedupe_key(turn.event_id, "your_turn", patient, "sms")
    assert [r.status for r in env.gateway.requests_for(key)] == [503, 503, 503]


async def test_an_unconfigured_channel_fails_clearly_instead_of_waiting(env: Env) -> None:
    settings = env.settings(smtp_host=None)
    case_id, _ = await open_case(env, ["email"], email="patient@example.org")
    await apply(env, turn_reached(case_id))
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)
    await until_settled(env, 1)
    await stopped(sender, task)
    [failed] = await outcomes(env)
    assert failed.reason == "channel_unavailable"  # type: ignore[attr-defined]


async def test_email_is_sent_in_the_patients_language_without_case_details(env: Env) -> None:
    settings = env.settings()
    case_id, patient = await open_case(env, ["email"], email="patient@example.org")
    async with env.db.transaction() as conn:
        await adapters.save_preferences(
            conn,
            patient,
            domain.ContactPreferences(
                language="sv", channels=frozenset({"email"}), email="patient@example.org"
            ),
            turn_reached(case_id).occurred_at,
        )
    turn = turn_reached(case_id)
    await apply(env, turn)
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)
    await until_settled(env, 1)
    await stopped(sender, task)

    [mail] = env.mailbox.to("patient@example.org")
    body = mail.get_payload(decode=True).decode()
    assert mail["Subject"] == "Det är din tur"
    assert settings.login_url in body and "Logga in" in body
    assert "Nina" not in body and "Sjöberg" not in body and str(case_id) not in body
    assert mail["Message-ID"].endswith("@notify.careflow>")


async def test_rate_limit_defers_rather_than_drops(env: Env) -> None:
    settings = env.settings(rate_limit_count=2, rate_limit_window_seconds=1.5)
    case_ids = []
    _, patient = await open_case(env, ["sms"], phone="+46701112233")
    # Three more cases for the same recipient.
    for _ in range(3):
        case_id = uuid.uuid4()
        async with env.db.transaction() as conn:
            await record_case_opened(conn, case_opened(case_id, patient))
        case_ids.append(case_id)
    for case_id in case_ids:
        await apply(env, turn_reached(case_id))
    sender = Sender(env.db, settings, build_channels(settings), SystemClock())
    task = await running(sender)
    await until_settled(env, 3)
    await stopped(sender, task)

    async with env.db.transaction() as conn:
        times = sorted(
            r.finished_at for r in await conn.execute(select(adapters.deliveries.c.finished_at))
        )
    # The third waited for the window: the limit is a rule on recorded times, not a timing test.
    assert times[2] - times[0] >= timedelta(seconds=1.5)
    assert len(env.gateway.delivered) == 3


SENDER_PROC = str(Path(__file__).with_name("notify_sender_proc.py"))


def _sender_env(env: Env, **settings: str) -> dict[str, str]:
    """The environment of a sender process on the test's schema, with a short lease."""
    return {
        **os.environ,
        "DATABASE_URL": env.database_url,
        "NOTIFY_TEST_SCHEMA": env.schema,
        "CAREFLOW_SEND_LEASE_SECONDS": "4",
        "CAREFLOW_SEND_TIMEOUT_SECONDS": "3",
        "CAREFLOW_SEND_IDLE_POLL_SECONDS": "0.05",
        **settings,
    }


async def _sender_killed_after_send(proc_env: dict[str, str]) -> None:
    """Run a sender that SIGKILLs itself after the provider accepted, before recording."""
    killed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, SENDER_PROC],
        env={**proc_env, "CAREFLOW_CRASH_AT": "notify.after_send"},
        timeout=120,
    )
    assert killed.returncode == -9, "the worker died at the crash point"


async def _sender_until_done(proc_env: dict[str, str]) -> None:
    """Run a sender until no delivery is pending."""
    again = await asyncio.to_thread(
        subprocess.run, [sys.executable, SENDER_PROC], env=proc_env, timeout=120
    )
    assert again.returncode == 0


async def test_killed_between_send_and_record_sends_no_second_sms(env: Env) -> None:
    case_id, patient = await open_case(env, ["sms"], phone="+46709876543")
    turn = turn_reached(case_id)
    await apply(env, turn)
    key = domain.dedupe_key(turn.event_id, "your_turn", patient, "sms")
    proc_env = _sender_env(env, CAREFLOW_SMS_GATEWAY_URL=env.gateway.sms_url)

    await _sender_killed_after_send(proc_env)
    assert len(env.gateway.requests_for(key)) == 1
    assert await statuses(env) == {key: adapters.PENDING}, "the send was not recorded"

    await _sender_until_done(proc_env)
    assert await statuses(env) == {key: adapters.SENT}
    # The gateway saw the same idempotency key again and sent one SMS.
    assert len(env.gateway.requests_for(key)) >= 2
    assert list(env.gateway.delivered) == [key]
    [sent] = await outcomes(env)
    assert sent.event_type == "NotificationSent"
    # The try cut short by the kill counts, so a crash can never make a delivery retry forever.
    assert sent.attempts >= 2  # type: ignore[attr-defined]


@pytest.mark.chaos
async def test_killed_after_the_mail_server_took_an_email_sends_no_second_copy(
    env: Env,
) -> None:
    """SMTP has no idempotency key, so a lapsed claim must not send again: the hand-over
    committed before the data left turns the next try into NotificationFailed
    ``outcome_unknown`` (the chaos run once saw one e-mail in 3,000 arrive twice this way)."""
    case_id, patient = await open_case(env, ["email"], email="eva@example.se")
    turn = turn_reached(case_id)
    await apply(env, turn)
    key = domain.dedupe_key(turn.event_id, "your_turn", patient, "email")
    proc_env = _sender_env(
        env,
        CAREFLOW_SMTP_HOST="127.0.0.1",
        CAREFLOW_SMTP_PORT=str(env.mailbox.port),
        # The longest e-mail (1.5 s before the data, 1.5 s for its answer) fits the lease.
        CAREFLOW_SEND_TIMEOUT_SECONDS="1.5",
        CAREFLOW_SMTP_DATA_TIMEOUT_SECONDS="1.5",
    )

    await _sender_killed_after_send(proc_env)
    assert len(env.mailbox.to("eva@example.se")) == 1
    assert await statuses(env) == {key: adapters.PENDING}, "the send was not recorded"

    await _sender_until_done(proc_env)
    assert len(env.mailbox.to("eva@example.se")) == 1, "no second copy"
    assert await statuses(env) == {key: adapters.FAILED}
    [failed] = await outcomes(env)
    assert failed.event_type == "NotificationFailed"
    assert failed.reason == "outcome_unknown"  # type: ignore[attr-defined]


@pytest.mark.chaos
async def test_a_refusal_after_the_hand_over_makes_a_retry_safe_again(env: Env) -> None:
    """A server that answers 4xx to the data did not take the message: the hand-over mark
    is cleared with the retry, so the next try sends (and the mail arrives once)."""
    case_id, _ = await open_case(env, ["email"], email="olle@example.se")
    await apply(env, turn_reached(case_id))
    env.mailbox.refuse_data_times = 1
    sender = Sender(env.db, env.settings(), build_channels(env.settings()), SystemClock())
    task = await running(sender)
    try:
        assert set((await until_settled(env, 1)).values()) == {adapters.SENT}
    finally:
        await stopped(sender, task)
    assert len(env.mailbox.to("olle@example.se")) == 1
    [sent] = await outcomes(env)
    assert sent.event_type == "NotificationSent" and sent.attempts == 2  # type: ignore[attr-defined]


def _start_sender(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, SENDER_PROC], env=env, stdout=out, stderr=out)


@pytest.mark.ops
@pytest.mark.timeout(900)
@pytest.mark.long
async def test_two_senders_on_one_schema_deliver_every_notification_exactly_once(
    env: Env, tmp_path: Path
) -> None:
    """Two notify replicas' senders, in processes of their own and as notify's runtime role,
    work one outbox of deliveries: the gateway is asked for each exactly once (issue 15)."""
    owner, n = env.database_url, 30
    role = await asyncio.to_thread(runtime_env, owner, "notify")
    # The owner migrates and makes the runtime role a member of notify's runtime group.
    await asyncio.to_thread(
        upgrade, MIGRATIONS, owner, env.schema, runtime_role=role["CAREFLOW_DB_RUNTIME_ROLE"]
    )
    proc_env = _sender_env(
        env,
        DATABASE_URL=role["DATABASE_URL"],
        NOTIFY_TEST_EXPECT_DELIVERIES=str(n),
        CAREFLOW_SMS_GATEWAY_URL=env.gateway.sms_url,
        CAREFLOW_SEND_LEASE_SECONDS="30",
        CAREFLOW_SEND_TIMEOUT_SECONDS="10",
    )
    logs = [tmp_path / f"sender-{i}.log" for i in range(2)]
    senders = [_start_sender(proc_env, log) for log in logs]
    try:
        # Both senders connected before the first delivery exists, so both compete for all.
        async def both_connected() -> bool | None:
            async with env.db.transaction() as conn:
                found = await conn.scalar(
                    text(
                        "SELECT count(DISTINCT client_port) FROM pg_stat_activity "
                        "WHERE usename = :role AND application_name = :schema"
                    ),
                    {"role": role["CAREFLOW_DB_RUNTIME_ROLE"], "schema": env.schema},
                )
            return True if (found or 0) >= 2 else None

        await await_until("both senders to connect", both_connected, limit_seconds=600)
        keys = []
        for i in range(n):
            case_id, patient = await open_case(env, ["sms"], phone=f"+467098765{i:02d}")
            turn = turn_reached(case_id)
            await apply(env, turn)
            keys.append(domain.dedupe_key(turn.event_id, "your_turn", patient, "sms"))
        codes = [await asyncio.to_thread(p.wait, 600) for p in senders]
    finally:
        for p in senders:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert await statuses(env) == dict.fromkeys(keys, adapters.SENT)
    # Asked once each: neither sender sent a delivery the other had claimed.
    assert sorted(r.headers.get("Idempotency-Key") for r in env.gateway.requests) == sorted(keys)
    assert sorted(env.gateway.delivered) == sorted(keys)
    sent = await outcomes(env)
    assert len(sent) == n and {e.event_type for e in sent} == {"NotificationSent"}
