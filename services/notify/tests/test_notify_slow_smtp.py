"""A slow mail server gets each e-mail once (issue 16: two e-mails reached the SMTP server
twice during the chaos run's slow-gateway fault).

The server is a real aiosmtpd that delays its answer to the message data. Before the fix
notify gave the whole send one short timeout, gave up while the server was still
deciding, and sent the mail again: a second copy in the inbox. Now the answer to the data
has a long timeout of its own, and a send whose answer never comes is recorded as
``outcome_unknown`` instead of being sent again.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from notify_testkit import await_until, case_opened, free_port, migrated_database, turn_reached
from sqlalchemy import select

from careflow.contracts import parse_event
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.kit.eventstore import events
from careflow.notify import adapters, consumers, domain
from careflow.notify.app import build_channels
from careflow.notify.channels import Outgoing, UncertainDelivery, short_key
from careflow.notify.mail import SmtpMailer
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.chaos, pytest.mark.integration]

#: Before the data: connect, MAIL, RCPT, DATA. The server answers the data later than this.
COMMAND_TIMEOUT = 1.0
SERVER_DELAY = 3.0


class _SlowHandler:
    def __init__(self, box: SlowMailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # The message is kept first, as a server that accepted it and then thinks it over.
        raw = envelope.original_content or envelope.content
        with self.box.lock:
            self.box.messages.append(message_from_bytes(raw, policy=policy.default))
        await asyncio.sleep(self.box.delay)
        return "250 Message accepted for delivery"


class SlowMailbox:
    """A real SMTP server (aiosmtpd) that answers the message data after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.port = free_port()
        self.lock = threading.Lock()
        self.messages: list[Message] = []
        self.controller = Controller(_SlowHandler(self), hostname="127.0.0.1", port=self.port)

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@pytest.fixture
def mailbox() -> Iterator[SlowMailbox]:
    box = SlowMailbox(SERVER_DELAY)
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
async def db(infra, unique: str) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    database = await asyncio.to_thread(migrated_database, infra.database_url, f"notify_{unique}")
    yield database
    await database.dispose()


def settings(database_url: str, port: int, data_timeout: float) -> NotifySettings:
    return NotifySettings(
        database_url=database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        send_timeout_seconds=COMMAND_TIMEOUT,
        smtp_data_timeout_seconds=data_timeout,
        send_backoff_base_seconds=0.1,
        send_backoff_cap_seconds=0.2,
        send_idle_poll_seconds=0.05,
    )


async def one_turn_by_email(db: Database, s: NotifySettings) -> str:
    """A case whose patient wants e-mail reaches their turn; returns the dedupe key."""
    case_id, patient = uuid.uuid4(), f"sub_{uuid.uuid4().hex[:12]}"
    turn = turn_reached(case_id)
    prefs = domain.ContactPreferences(
        language="en", channels=frozenset({"email"}), email="patient@example.org"
    )
    async with db.transaction() as conn:
        await record_case_opened(conn, case_opened(case_id, patient))
        await adapters.save_preferences(conn, patient, prefs, turn.occurred_at)
    async with db.transaction() as conn:
        await consumers.turn_handlers(s, SystemClock())[turn.event_type](conn, turn)
    return domain.dedupe_key(turn.event_id, "your_turn", patient, "email")


async def settle(db: Database, s: NotifySettings) -> tuple[str, list[Any]]:
    """Run the sender until the one delivery is closed; its status and outcome events."""
    sender = Sender(db, s, build_channels(s), SystemClock())
    task = asyncio.create_task(sender.run())

    async def closed() -> str | None:
        async with db.transaction() as conn:
            rows = (await conn.execute(select(adapters.deliveries.c.status))).all()
        return rows[0].status if rows and rows[0].status != adapters.PENDING else None

    try:
        status: str = await await_until("the delivery to close", closed, limit_seconds=60)
        # Longer than a retry's backoff: a second copy would have had time to go out.
        await asyncio.sleep(2 * SERVER_DELAY)
    finally:
        sender.stop()
        await asyncio.wait_for(task, 30)
    async with db.transaction() as conn:
        rows = await conn.execute(
            select(events.c.payload).where(
                events.c.event_type.in_(["NotificationSent", "NotificationFailed"])
            )
        )
        return status, [parse_event(r.payload) for r in rows]


async def test_a_server_slower_than_the_command_timeout_gets_the_mail_once(
    db: Database,
    mailbox: SlowMailbox,
    infra,  # type: ignore[no-untyped-def]
) -> None:
    s = settings(infra.database_url, mailbox.port, data_timeout=4 * SERVER_DELAY)
    key = await one_turn_by_email(db, s)

    status, outcomes = await settle(db, s)

    assert status == adapters.SENT
    assert [e.event_type for e in outcomes] == ["NotificationSent"]
    assert outcomes[0].dedupe_key == key and outcomes[0].attempts == 1
    assert len(mailbox.ids()) == 1, mailbox.ids()


async def test_no_answer_to_the_data_is_recorded_as_unknown_and_not_sent_again(
    db: Database,
    mailbox: SlowMailbox,
    infra,  # type: ignore[no-untyped-def]
) -> None:
    s = settings(infra.database_url, mailbox.port, data_timeout=SERVER_DELAY / 3)
    key = await one_turn_by_email(db, s)

    status, outcomes = await settle(db, s)

    assert status == adapters.FAILED
    [failed] = outcomes
    assert failed.event_type == "NotificationFailed" and failed.dedupe_key == key
    assert failed.reason == "outcome_unknown" and failed.attempts == 1
    assert "not sent again" in failed.detail
    assert len(mailbox.ids()) == 1, mailbox.ids()


async def test_the_mailer_tells_an_unanswered_data_from_an_unreachable_server(
    mailbox: SlowMailbox,
) -> None:
    mailer = SmtpMailer(
        "127.0.0.1",
        mailbox.port,
        "careflow <no-reply@careflow.example>",
        COMMAND_TIMEOUT,
        data_timeout=0.5,
    )
    message = Outgoing(
        address={"email": "patient@example.org"},
        content=domain.render("your_turn", "sv", "https://careflow.example/login"),
        idempotency_key="k-1",
        language="sv",
    )
    with pytest.raises(UncertainDelivery):
        await mailer.send(message)
    assert mailbox.ids() == [f"<{short_key('k-1')}@notify.careflow>"]


def test_a_lease_shorter_than_the_longest_send_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than the longest send"):
        NotifySettings(
            smtp_host="127.0.0.1",
            send_timeout_seconds=10.0,
            smtp_data_timeout_seconds=600.0,
            send_lease_seconds=60.0,
        )
    derived = NotifySettings(smtp_host="127.0.0.1", send_timeout_seconds=10.0)
    assert derived.lease_seconds > derived.longest_send_seconds >= 600.0
