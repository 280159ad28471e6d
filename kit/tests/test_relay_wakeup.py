"""The outbox relay publishes a command's events when the command commits, not at its next
look (issue 17): an idle relay no longer looks twenty times a second to be prompt."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kit_testkit import event_store_schema
from sqlalchemy import func, select

from careflow.contracts import Actor, ActorRole, CaseOpened
from careflow.kit import eventstore
from careflow.kit.db import Database
from careflow.kit.eventstore import events
from careflow.kit.kafka import ensure_topics, make_producer
from careflow.kit.relay import OutboxRelay

pytestmark = [pytest.mark.performance, pytest.mark.integration]

#: Far longer than the test waits: a publish within it came from the wake-up, not a look.
LOOK_EVERY_S = 60.0


@pytest.fixture
async def db(infra: Any, unique: str) -> AsyncIterator[Database]:
    database = await event_store_schema(infra.database_url, f"kit_wake_{unique}")
    yield database
    await database.dispose()


def _opened(case_id: uuid.UUID) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        occurred_at=datetime.now(UTC),
        producer="kit-test",
        correlation_id=case_id,
        actor=Actor(id="p1", role=ActorRole.PATIENT),
        patient_id="p1",
        region="Uppsala",
    )


async def _unpublished(db: Database) -> int:
    async with db.engine.connect() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(events).where(events.c.published_at.is_(None))
        )
    return int(n or 0)


async def test_a_committed_event_is_published_without_waiting_for_the_next_look(
    db: Database, infra: Any, unique: str
) -> None:
    topic = f"kit-wake-{unique}"
    await ensure_topics(infra.bootstrap_servers, [topic], partitions=1)
    producer = make_producer(infra.bootstrap_servers, client_id="kit-wake")
    await producer.start()
    relay = OutboxRelay(
        db,
        producer,
        topic,
        idle_poll_seconds=LOOK_EVERY_S,
        max_idle_poll_seconds=LOOK_EVERY_S,
    )
    running = asyncio.create_task(relay.run())
    try:
        # The relay's first look finds nothing; from then on it waits a minute between looks.
        await asyncio.sleep(1.0)
        for _ in range(3):
            case_id = uuid.uuid4()
            async with db.transaction() as conn:
                await eventstore.append(conn, f"case-{case_id}", 0, [_opened(case_id)])
            for _ in range(int(LOOK_EVERY_S / 3 / 0.05)):
                if not await _unpublished(db):
                    break
                await asyncio.sleep(0.05)
            assert await _unpublished(db) == 0, "published only at the next look"
        # A rolled-back append wakes nobody and publishes nothing.
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                case_id = uuid.uuid4()
                await eventstore.append(conn, f"case-{case_id}", 0, [_opened(case_id)])
                raise RuntimeError("the command failed after appending")
        async with db.engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(events)) == 3
    finally:
        relay.stop()
        await asyncio.wait_for(running, 30)
        await producer.stop()
