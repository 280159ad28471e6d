"""Attacks on the idempotent consumer through real Kafka and PostgreSQL (issue 13).

Finding 8: a service that can write its own topic must not be able to speak for another
(a consent is the journal's alone). Finding 13: nothing a message carries reaches a log
line or a dead letter's reason through an exception's text.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import (
    Actor,
    ActorRole,
    CasePatientIdentified,
    MessageSent,
    topic_for_service,
)
from careflow.contracts.events import ConsentGiven
from careflow.kit import eventstore
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import ensure_topics, make_producer
from careflow.kit.logging import configure_logging

pytestmark = [pytest.mark.security, pytest.mark.integration]

#: A made-up personal identity number, and the parts of it that must never leak.
PNR = "194508229876"
PNR_PARTS = (PNR, PNR[2:], PNR[:8], f"{PNR[2:8]}-{PNR[8:]}")


@dataclass
class Env:
    db: Database
    bootstrap: str
    dlq: str
    unique: str


@pytest.fixture
async def env(infra, unique) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    schema = f"kit_sec_{unique}"
    db = Database(infra.database_url, schema)
    async with db.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    async with db.transaction() as conn:
        await conn.run_sync(lambda c: eventstore.metadata.create_all(c))
        await conn.execute(text("CREATE TABLE effects (event_id uuid, case_id uuid, kind text)"))
    dlq = f"kit-sec-{unique}-dlq"
    await ensure_topics(
        infra.bootstrap_servers,
        [dlq, topic_for_service("chat"), topic_for_service("journal")],
    )
    yield Env(db, infra.bootstrap_servers, dlq, unique)
    await db.dispose()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The services' own log configuration (structlog and the standard library), into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("security-test", json=True)
    lines = io.StringIO()
    # Loggers bound now must not outlive the test: no caching.
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(lines), cache_logger_on_first_use=False
    )
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(lines)
    yield lines
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def envelope(case: uuid.UUID, producer: str) -> dict[str, Any]:
    return {
        "case_id": case,
        "occurred_at": datetime.now(UTC),
        "producer": producer,
        "correlation_id": case,
        "actor": Actor(id="p-sec", role=ActorRole.PATIENT),
    }


def consent(case: uuid.UUID, producer: str = "journal") -> ConsentGiven:
    return ConsentGiven(**envelope(case, producer), patient_id="p-sec", provider="Attacker AB")


async def record(conn: AsyncConnection, event: Any) -> None:
    await conn.execute(
        text("INSERT INTO effects VALUES (:e, :c, :k)"),
        {"e": event.event_id, "c": event.case_id, "k": event.event_type},
    )


async def publish(bootstrap: str, *messages: tuple[str, bytes, uuid.UUID]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, value, case in messages:
            await producer.send_and_wait(topic, value, key=str(case).encode())
    finally:
        await producer.stop()


async def run_consumer(
    env: Env, consumer: IdempotentConsumer, done: Any, seconds: float = 30
) -> None:
    await consumer.producer.start()
    await consumer.start()
    try:
        for _ in range(int(seconds * 10)):
            if await done():
                return
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        await consumer.producer.stop()


async def dead_letters(env: Env, keys: set[str], at_least: int) -> list[dict[str, Any]]:
    reader = AIOKafkaConsumer(
        env.dlq, bootstrap_servers=env.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await reader.start()
    letters: list[dict[str, Any]] = []
    try:
        for _ in range(20):
            batch = await reader.getmany(timeout_ms=1000)
            for records in batch.values():
                letters.extend(json.loads(r.value) for r in records)
            if len([x for x in letters if x["key"] in keys]) >= at_least:
                break
    finally:
        await reader.stop()
    return [x for x in letters if x["key"] in keys]


async def effects(env: Env) -> list[tuple[uuid.UUID, str]]:
    async with env.db.transaction() as conn:
        rows = await conn.execute(text("SELECT case_id, kind FROM effects"))
        return [(r[0], r[1]) for r in rows]


async def test_finding_8_another_owners_event_or_a_forged_producer_is_dead_lettered(
    env: Env,
) -> None:
    smuggled, forged, genuine, chat_case = (uuid.uuid4() for _ in range(4))
    message = MessageSent(
        **envelope(chat_case, "chat"),
        message_id=uuid.uuid4(),
        sequence=1,
        sender_role="patient",
        sender_id="p-sec",
        text="hej",
    )
    await publish(
        env.bootstrap,
        # Chat may write its own topic, and writes the journal's consent event there ...
        (topic_for_service("chat"), consent(smuggled).to_json(), smuggled),
        # ... or an event on the journal's topic claims a producer that is not the journal.
        (topic_for_service("journal"), consent(forged, producer="chat").to_json(), forged),
        # Chat's own event and the journal's own consent, as they should be.
        (topic_for_service("chat"), message.to_json(), chat_case),
        (topic_for_service("journal"), consent(genuine).to_json(), genuine),
    )
    # As the journal consumes: both topics, handling consents and messages.
    consumer = IdempotentConsumer(
        f"journal-sec-{env.unique}",
        env.db,
        make_producer(env.bootstrap, client_id="sec-test"),
        env.dlq,
        {"ConsentGiven": record, "MessageSent": record},
        retry_backoff_seconds=0.1,
    )
    consumer.subscribe(topic_for_service("chat"), topic_for_service("journal"))

    async def done() -> bool:
        return {genuine, chat_case} <= {c for c, _ in await effects(env)}

    await run_consumer(env, consumer, done)
    letters = await dead_letters(env, {str(smuggled), str(forged)}, at_least=2)

    mine = {smuggled, forged, genuine, chat_case}
    applied = sorted((str(c), k) for c, k in await effects(env) if c in mine)
    assert applied == sorted([(str(genuine), "ConsentGiven"), (str(chat_case), "MessageSent")])
    reasons = {x["key"]: x["reason"] for x in letters}
    assert reasons == {
        str(smuggled): "wrong topic: ConsentGiven is owned by journal, not by chat, "
        "whose topic this is",
        str(forged): "forged producer: ConsentGiven on this topic must come from journal",
    }
    origins = {x["key"]: x["origin"]["topic"] for x in letters}
    assert origins == {
        str(smuggled): topic_for_service("chat"),
        str(forged): topic_for_service("journal"),
    }


async def test_finding_13_no_part_of_a_personal_identity_number_reaches_logs_or_reasons(
    env: Env, json_logs: io.StringIO
) -> None:
    topic = f"kit-sec-{env.unique}"
    await ensure_topics(env.bootstrap, [topic])
    cases = [uuid.uuid4() for _ in range(5)]
    valid = CasePatientIdentified(
        **envelope(cases[2], "identity"),
        patient_id="p-sec",
        personal_identity_number=PNR,
        region="Uppsala",
    )
    bad_field = json.loads(valid.to_json())
    bad_field.update({"case_id": str(cases[1]), "personal_identity_number": f"{PNR}!"})
    bad_field[PNR] = "an extra field named by the number"
    sent = [
        # The number as the event type, in a field that fails validation, in an extra
        # field's name, in a message that is not JSON, and one a handler fails on.
        json.dumps({"event_type": PNR, "event_id": str(uuid.uuid4())}).encode(),
        json.dumps(bad_field).encode(),
        valid.to_json(),
        f'{{"personal_identity_number": "{PNR}", '.encode(),
    ]
    good = valid.model_copy(update={"event_id": uuid.uuid4(), "case_id": cases[4]})
    await publish(
        env.bootstrap,
        *((topic, value, case) for value, case in zip(sent, cases, strict=False)),
        (topic, good.to_json(), cases[4]),
    )

    async def handle(conn: AsyncConnection, event: CasePatientIdentified) -> None:
        if event.case_id == cases[2]:
            # What a unique violation or a domain error does: quote the value in its text.
            raise ValueError(f"no patient with number {event.personal_identity_number}")
        await record(conn, event)

    consumer = IdempotentConsumer(
        f"sec13-{env.unique}",
        env.db,
        make_producer(env.bootstrap, client_id="sec-test"),
        env.dlq,
        {"CasePatientIdentified": handle},
        retry_backoff_seconds=0.1,
    )
    consumer.subscribe(topic)

    async def done() -> bool:
        return cases[4] in {c for c, _ in await effects(env)}

    await run_consumer(env, consumer, done)
    letters = await dead_letters(env, {str(c) for c in cases[:4]}, at_least=4)
    logs = json_logs.getvalue()

    assert len(letters) == 4
    by_case = {x["key"]: x for x in letters}
    assert by_case[str(cases[0])]["reason"] == "unknown event type"
    assert by_case[str(cases[1])]["reason"] == (
        "CasePatientIdentified failed validation: "
        "personal_identity_number (string_pattern_mismatch), ? (extra_forbidden)"
    )
    assert by_case[str(cases[2])]["reason"] == "handler error: ValueError"
    assert by_case[str(cases[3])]["reason"].startswith("not valid JSON: JSONDecodeError")
    for letter, value in zip((by_case[str(c)] for c in cases[:4]), sent, strict=True):
        # The message itself is kept untouched for an operator to re-publish after a fix
        # (the dead-letter topic is as closed as the topic it came from) ...
        assert letter["original"]["value"] == value.decode()
        # ... and nothing else in the dead letter repeats any of it.
        rest = json.dumps({k: v for k, v in letter.items() if k != "original"})
        assert not [part for part in PNR_PARTS if part in rest], rest

    assert logs.count('"dead_lettered"') >= 4 and '"handler_failed"' in logs, logs
    assert '"error": "ValueError"' in logs
    leaked = [line for line in logs.splitlines() if any(p in line for p in PNR_PARTS)]
    assert not leaked, leaked
