"""Finding 6 of issue 13: Kafka traffic must be encrypted, the broker verified, the client
authenticated. Attacks against a local broker run as production runs Kafka: a SASL_SSL
listener with SCRAM-SHA-512 and a certificate from a throwaway CA (``careflow.cli.kafka_tls``).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.cli.kafka_tls import MECHANISM, USERNAME, TlsKafka, make_ca
from careflow.cli.replay import operator_kafka, read_log
from careflow.contracts import Actor, ActorRole, topic_for_service
from careflow.contracts.identity_events import LoginSucceeded
from careflow.kit import eventstore
from careflow.kit.consumer import IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import KafkaTarget, client_options, ensure_topics, make_producer
from careflow.kit.settings import ServiceSettings

pytestmark = pytest.mark.security

PASSWORD = secrets.token_urlsafe(18)
#: What a production service must have besides Kafka (so only Kafka decides the outcome).
PRODUCTION = {
    "environment": "production",
    "token_secret": "p" * 40,
    "database_url": "postgresql+asyncpg://chat:not-the-dev-password@db:5432/careflow?ssl=verify-full",
}


@pytest.fixture(scope="module")
def tls_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsKafka]:
    broker = TlsKafka.for_slot(tmp_path_factory.mktemp("kafka-tls"), PASSWORD)
    broker.up()
    try:
        yield broker
    finally:
        broker.down()


def _service_settings(
    monkeypatch: pytest.MonkeyPatch, broker: TlsKafka, **overrides: str | None
) -> ServiceSettings:
    """Settings as a service builds them: from its environment variables only."""
    env: dict[str, str | None] = {
        "CAREFLOW_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "CAREFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CAREFLOW_KAFKA_SASL_MECHANISM": MECHANISM,
        "CAREFLOW_KAFKA_SASL_USERNAME": USERNAME,
        "CAREFLOW_KAFKA_SASL_PASSWORD": PASSWORD,
        "CAREFLOW_KAFKA_SSL_CAFILE": str(broker.ca_file),
        **overrides,
    }
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return ServiceSettings(service_name="identity")


async def _refused(kafka: KafkaTarget) -> BaseException | None:
    """The error a kit producer meets when it connects, or None if it got through."""
    producer = make_producer(kafka, "attacker")
    try:
        await asyncio.wait_for(producer.start(), 30)
    except Exception as exc:
        return exc
    await producer.stop()
    return None


def _login() -> LoginSucceeded:
    session = uuid.uuid4()
    return LoginSucceeded(
        case_id=session,
        occurred_at=datetime.now(UTC),
        producer="identity",
        correlation_id=session,
        actor=Actor(id="p-tls", role=ActorRole.PATIENT),
        subject_id="p-tls",
        realm="patient",
        method="test-eid",
    )


@pytest.mark.integration
async def test_finding_6_a_service_round_trips_an_event_over_sasl_ssl_with_scram(
    tls_kafka: TlsKafka, infra: Any, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _service_settings(monkeypatch, tls_kafka)
    topic, dlq = topic_for_service("identity"), f"careflow.identity.tls-{unique}.dlq"
    await ensure_topics(settings, [topic, dlq], partitions=1)
    schema = f"kit_tls_{unique}"
    admin = Database(infra.database_url, "public")
    async with admin.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    db = Database(infra.database_url, schema)
    async with db.transaction() as conn:
        await conn.run_sync(lambda c: eventstore.metadata.create_all(c, [eventstore.inbox]))
    applied: list[uuid.UUID] = []

    async def apply(conn: AsyncConnection, event: LoginSucceeded) -> None:
        applied.append(event.event_id)

    producer = make_producer(settings, "identity")
    consumer = IdempotentConsumer(
        f"identity.tls-{unique}", db, producer, dlq, {"LoginSucceeded": apply}, 0.1
    )
    consumer.subscribe(topic)
    event = _login()
    await producer.start()
    await consumer.start()
    try:
        await producer.publish(
            topic, event.to_json(), key=event.key(), headers={"event_type": event.event_type}
        )
        for _ in range(300):
            if applied:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
        await producer.stop()
        await db.dispose()
    assert applied == [event.event_id]
    assert producer.options["security_protocol"] == "SASL_SSL"
    # An operator's command (careflow replay) reads it with the same variables.
    read = await read_log(operator_kafka(tls_kafka.bootstrap_servers), [topic], timeout_s=30)
    assert [i.event.event_id for i in read] == [event.event_id]


@pytest.mark.integration
async def test_finding_6_b_a_client_with_a_wrong_password_is_refused(
    tls_kafka: TlsKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = _service_settings(monkeypatch, tls_kafka, CAREFLOW_KAFKA_SASL_PASSWORD="guessed")
    assert await _refused(wrong) is not None
    stranger = _service_settings(monkeypatch, tls_kafka, CAREFLOW_KAFKA_SASL_USERNAME="mallory")
    assert await _refused(stranger) is not None
    # Same connection with the right password gets through: the refusal was the password.
    assert await _refused(_service_settings(monkeypatch, tls_kafka)) is None


@pytest.mark.integration
async def test_finding_6_c_a_client_that_does_not_trust_the_ca_does_not_connect(
    tls_kafka: TlsKafka, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The system's CAs (no CA file) do not vouch for the broker's certificate ...
    system_only = _service_settings(monkeypatch, tls_kafka, CAREFLOW_KAFKA_SSL_CAFILE=None)
    assert await _refused(system_only) is not None
    # ... nor does another CA: a broker with a certificate from elsewhere is not trusted.
    other = make_ca(tmp_path / "other", name="someone else's CA")
    elsewhere = _service_settings(
        monkeypatch, tls_kafka, CAREFLOW_KAFKA_SSL_CAFILE=str(other.cert_file)
    )
    assert await _refused(elsewhere) is not None
    context = client_options(elsewhere)["ssl_context"]
    assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


@pytest.mark.integration
async def test_finding_6_d_a_plaintext_client_cannot_talk_to_the_tls_listener(
    tls_kafka: TlsKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await _refused(tls_kafka.bootstrap_servers) is not None  # bare servers: PLAINTEXT
    sasl_plain = _service_settings(
        monkeypatch,
        tls_kafka,
        CAREFLOW_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        CAREFLOW_KAFKA_SSL_CAFILE=None,
    )
    assert await _refused(sasl_plain) is not None


@pytest.mark.unit
@pytest.mark.parametrize("environment", ["production", "staging"])
def test_finding_6_e_production_refuses_unencrypted_or_unauthenticated_kafka(
    environment: str,
) -> None:
    settings = {**PRODUCTION, "environment": environment}
    sasl = {"kafka_sasl_username": "careflow-chat", "kafka_sasl_password": "s3cret"}
    with pytest.raises(ValueError, match="SASL_PLAINTEXT"):
        ServiceSettings(**settings, kafka_security_protocol="SASL_PLAINTEXT", **sasl)
    if environment == "production":
        with pytest.raises(ValueError, match="PLAINTEXT"):
            ServiceSettings(**settings)  # the default protocol
        with pytest.raises(ValueError, match="client certificate"):
            ServiceSettings(**settings, kafka_security_protocol="SSL")
    # A CA file beside a plaintext protocol is a mistake, not security.
    with pytest.raises(ValueError, match="SSL_"):
        ServiceSettings(
            **settings, kafka_security_protocol="PLAINTEXT", kafka_ssl_cafile="/etc/ca.pem"
        )
    # SASL_SSL with its password is what production runs.
    secured = ServiceSettings(**settings, kafka_security_protocol="SASL_SSL", **sasl)
    assert secured.kafka_security_protocol == "SASL_SSL"


@pytest.mark.unit
def test_finding_6_e_unreadable_tls_files_or_no_password_stop_the_service_at_start(
    tmp_path: Path,
) -> None:
    settings = ServiceSettings(
        **PRODUCTION,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="careflow-chat",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=str(tmp_path / "missing-ca.pem"),
    )
    with pytest.raises(ValueError, match="CAREFLOW_KAFKA_SSL_CAFILE"):
        make_producer(settings, "chat")
    with pytest.raises(ValueError, match="SASL_USERNAME"):
        make_producer(ServiceSettings(**PRODUCTION, kafka_security_protocol="SASL_SSL"), "chat")
