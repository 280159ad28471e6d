"""Notify's commands on real PostgreSQL with a fixed clock: the time every row and event
carries is the injected clock's, so a test moves time instead of waiting for it; and the
migrated schema is the one the adapters use."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from notify_testkit import Gateway, case_opened, migrated_database, turn_reached
from sqlalchemy import Connection, MetaData, select

from careflow.contracts import parse_event
from careflow.kit.auth import Principal
from careflow.kit.cases import case_patients, record_case_opened
from careflow.kit.clock import FixedClock
from careflow.kit.db import Database
from careflow.kit.eventstore import events, inbox
from careflow.notify import adapters, consumers, domain, service
from careflow.notify.app import build_channels
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.integration, pytest.mark.architecture]

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gateway = Gateway()
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
async def db(infra, unique: str) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    database = await asyncio.to_thread(migrated_database, infra.database_url, f"notify_{unique}")
    yield database
    await database.dispose()


def settings_for(gateway: Gateway, **overrides: object) -> NotifySettings:
    return NotifySettings(sms_gateway_url=gateway.sms_url, **overrides)  # type: ignore[arg-type]


async def patient_with_sms(db: Database, clock: FixedClock, phone: str) -> Principal:
    patient = Principal(subject_id=f"sub_{uuid.uuid4().hex[:12]}", role="patient", region="Uppsala")
    prefs = domain.ContactPreferences(channels=frozenset({"sms"}), phone=phone)
    await service.set_preferences(db, clock, patient, prefs)
    return patient


async def test_a_turn_is_notified_and_planned_at_the_clocks_time(
    db: Database, gateway: Gateway
) -> None:
    clock = FixedClock(START)
    settings = settings_for(gateway)
    patient = await patient_with_sms(db, clock, "+46701234567")
    case_id = uuid.uuid4()
    turn = turn_reached(case_id)
    handlers = consumers.turn_handlers(settings, clock)
    async with db.transaction() as conn:
        await record_case_opened(conn, case_opened(case_id, patient.subject_id))
        await handlers["TurnReached"](conn, turn)
        await handlers["TurnReached"](conn, turn)  # a redelivery decides nothing new
        recorded = [parse_event(r.payload) for r in await conn.execute(select(events.c.payload))]
        [row] = (await conn.execute(select(adapters.deliveries))).all()
        [prefs_row] = (await conn.execute(select(adapters.contact_preferences))).all()

    [told] = recorded
    assert told.event_type == "PatientNotified" and told.occurred_at == START
    assert (
        told.event_id
        == domain.decide_your_turn(domain.CaseNotifications(), turn, START)[0].event_id
    )
    assert (row.created_at, row.next_attempt_at) == (START, START)
    assert prefs_row.updated_at == START
    assert await service.case_notifications(db, FixedClock(START), patient, case_id) == [
        {
            "notification_id": told.notification_id,  # type: ignore[attr-defined]
            "case_id": case_id,
            "kind": "your_turn",
            "channel": "in_app",
            "created_at": START,
        }
    ]


async def test_the_sender_runs_on_the_injected_clock(db: Database, gateway: Gateway) -> None:
    """Rate limiting and the recorded outcome follow the clock, not the wall: no sleeping."""
    clock = FixedClock(START)
    window = timedelta(minutes=10)
    settings = settings_for(
        gateway, rate_limit_count=1, rate_limit_window_seconds=window.total_seconds()
    )
    patient = await patient_with_sms(db, clock, "+46701112233")
    handlers = consumers.turn_handlers(settings, clock)
    for _ in range(2):
        case_id = uuid.uuid4()
        async with db.transaction() as conn:
            await record_case_opened(conn, case_opened(case_id, patient.subject_id))
            await handlers["TurnReached"](conn, turn_reached(case_id))
    sender = Sender(db, settings, build_channels(settings), clock, jitter=lambda: 0.0)

    assert await sender.run_once() == 1, "one send now; the second is over the rate limit"
    assert await sender.run_once() == 0, "nothing is due until the window has passed"
    clock.advance(window - timedelta(seconds=1))
    assert await sender.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await sender.run_once() == 1
    for channel in sender.channels.values():
        await channel.close()  # type: ignore[attr-defined]

    async with db.transaction() as conn:
        finished = sorted(
            r.finished_at for r in await conn.execute(select(adapters.deliveries.c.finished_at))
        )
        outcomes = [
            parse_event(r.payload)
            for r in await conn.execute(
                select(events.c.payload)
                .where(events.c.event_type == "NotificationSent")
                .order_by(events.c.position)
            )
        ]
    assert finished == [START, START + window]
    assert [e.occurred_at for e in outcomes] == finished
    assert len(gateway.delivered) == 2


async def test_the_migrated_schema_is_the_one_the_adapters_use(db: Database) -> None:
    """Frozen migrations and the live tables agree (today; a change needs a new migration)."""
    live = MetaData()
    for table in (*adapters.metadata.tables.values(), events, inbox, case_patients):
        table.to_metadata(live)

    def differences(conn: Connection) -> list[object]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_name": lambda name, kind, _: kind != "table" or name in live.tables,
            },
        )
        return list(compare_metadata(context, live))

    async with db.transaction() as conn:
        assert await conn.run_sync(differences) == []
