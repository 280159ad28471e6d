"""Kafka with TLS, SCRAM users and ACLs: each service writes only its own topic.

A local broker runs as production's Strimzi cluster does: a SASL_SSL listener (certificate from
a throwaway CA), one SCRAM-SHA-512 user per service, KRaft's StandardAuthorizer on and nothing
allowed without an ACL. The ACLs are the ones shipped for production: read from the generated
KafkaUser resources (deploy/k8s/base/kafka-users.yaml, from the contracts' topic registry) and
created on the broker. Then every service, connecting through the kit with its own user, may
write its own topic and no other, and read what it consumes (the restricted topic only the
journal), in its own consumer groups only.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from pydantic import SecretStr

from careflow.cli.kafka_tls import MECHANISM, TlsKafka
from careflow.contracts import (
    SUBSCRIPTIONS,
    dead_letter_topic,
    event_topics,
    restricted_topics,
    topic_for_event,
)
from careflow.contracts.registry import SERVICES
from careflow.kit.kafka import client_options
from careflow.kit.settings import ServiceSettings

pytestmark = [
    pytest.mark.long,
    pytest.mark.ops,
    pytest.mark.security,
    pytest.mark.integration,
    # A broker of its own, ACLs made with the JVM: slow on a busy machine.
    pytest.mark.timeout(900),
]

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = secrets.token_urlsafe(18)
PASSWORDS = {f"careflow-{s}": secrets.token_urlsafe(18) for s in SERVICES}
TOPICS = [*event_topics(), *restricted_topics(), *(dead_letter_topic(s) for s in SERVICES)]


def _shipped_acls() -> dict[str, list[dict[str, Any]]]:
    """The ACLs of each service's KafkaUser, as production's User Operator applies them."""
    users = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "kafka-users.yaml").read_text())
    return {
        u["metadata"]["name"]: u["spec"]["authorization"]["acls"]
        for u in users
        if u and u["kind"] == "KafkaUser"
    }


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsKafka]:
    kafka = TlsKafka.for_slot(
        tmp_path_factory.mktemp("kafka-acls"),
        ADMIN_PASSWORD,
        users=PASSWORDS,
        authorizer=True,
        offset=7,
    )
    kafka.up()
    try:
        asyncio.run(_create_topics(kafka))
        kafka.grant(
            [
                (
                    f"User:{user}",
                    acl["resource"]["type"],
                    acl["resource"]["name"],
                    acl["resource"].get("patternType", "literal"),
                    operation,
                )
                for user, acls in _shipped_acls().items()
                for acl in acls
                for operation in acl["operations"]
            ]
        )
        yield kafka
    finally:
        kafka.down()


async def _create_topics(kafka: TlsKafka) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in TOPICS])
    finally:
        await admin.close()


def _as(kafka: TlsKafka, service: str) -> ServiceSettings:
    """A service's Kafka settings, as its Deployment gives them (its own SCRAM user)."""
    return ServiceSettings(
        service_name=service,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=MECHANISM,
        kafka_sasl_username=f"careflow-{service}",
        kafka_sasl_password=PASSWORDS[f"careflow-{service}"],  # type: ignore[arg-type]
        kafka_ssl_cafile=str(kafka.ca_file),
    )


async def _writes(settings: ServiceSettings, topics: list[str]) -> dict[str, str]:
    """For each topic, "ok" when this service's producer may write it, else the error's name.

    A topic the user may not even describe gets no metadata: aiokafka then waits for it until
    its request timeout (short here) instead of naming the refusal; the other refusals are
    TopicAuthorizationFailedError. Every topic is tried at once.
    """
    producer = AIOKafkaProducer(
        **client_options(settings),
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=4000,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()  # refused at the handshake: release its connections too
        raise

    async def one(topic: str) -> str:
        try:
            await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), timeout=60)
            return "ok"
        except (KafkaError, TimeoutError) as exc:
            return type(exc).__name__

    try:
        return dict(zip(topics, await asyncio.gather(*(one(t) for t in topics)), strict=True))
    finally:
        await producer.stop()


async def _reads(settings: ServiceSettings, topics: list[str], group: str) -> dict[str, str]:
    """For each topic, "ok" when this service reads its first record in ``group``, else why
    not (an error's name, or "nothing" when no record came within seconds)."""

    async def one(topic: str) -> str:
        consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=4000,
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=8000), timeout=60)
            if not batch.get(tp):
                return "nothing"
            await consumer.commit()
            return "ok"
        except (KafkaError, TimeoutError) as exc:
            return type(exc).__name__
        finally:
            await consumer.stop()

    # One topic after another: dozens of TLS and SCRAM handshakes at once overwhelm a busy
    # machine's broker (the services still run side by side).
    return {topic: await one(topic) for topic in topics}


def test_each_service_writes_only_its_own_topics(broker: TlsKafka) -> None:
    acls = _shipped_acls()

    async def every_service() -> list[dict[str, str]]:
        return await asyncio.gather(*(_writes(_as(broker, s), TOPICS) for s in SERVICES))

    for service, outcome in zip(SERVICES, asyncio.run(every_service()), strict=True):
        allowed = {
            a["resource"]["name"] for a in acls[f"careflow-{service}"] if "Write" in a["operations"]
        }
        assert f"careflow.{service}.events" in allowed
        assert {t for t, got in outcome.items() if got == "ok"} == allowed, (service, outcome)
        # Never another service's event topic.
        others = [t for t in event_topics() if t != f"careflow.{service}.events"]
        assert all(outcome[t] != "ok" for t in others), (service, outcome)
        # Where the user may see the topic, the broker names the refusal.
        for topic, got in outcome.items():
            if got != "ok" and topic in _described(acls[f"careflow-{service}"]):
                assert got == "TopicAuthorizationFailedError", (service, topic, got)


def _described(acls: list[dict[str, Any]]) -> set[str]:
    return {a["resource"]["name"] for a in acls if "Describe" in a["operations"]}


def test_each_service_reads_what_it_consumes_and_nothing_else(broker: TlsKafka) -> None:
    acls = _shipped_acls()
    readable = [*event_topics(), *restricted_topics()]
    # Something to read on every topic, written by its owner.
    asyncio.run(_writes(_as(broker, "identity"), ["careflow.identity.patients"]))
    for service in SERVICES:
        asyncio.run(_writes(_as(broker, service), [f"careflow.{service}.events"]))

    def groups(service: str) -> list[str]:
        return [
            a["resource"]["name"]
            for a in acls[f"careflow-{service}"]
            if a["resource"]["type"] == "group"
        ]

    async def every_service() -> list[dict[str, str]]:
        return await asyncio.gather(
            *(_reads(_as(broker, s), readable, (groups(s) or [f"{s}.none"])[0]) for s in SERVICES)
        )

    for service, outcome in zip(SERVICES, asyncio.run(every_service()), strict=True):
        consumed = {topic_for_event(e) for e in SUBSCRIPTIONS[service]}
        assert {t for t, got in outcome.items() if got == "ok"} == consumed, (service, outcome)
    # Only the journal reads the personal identity numbers' topic.
    assert restricted_topics() == ("careflow.identity.patients",)
    assert "careflow.identity.patients" not in {
        topic_for_event(e) for s in SERVICES if s != "journal" for e in SUBSCRIPTIONS[s]
    }
    # Another service's consumer group is refused, even on a topic the service may read.
    foreign = asyncio.run(
        _reads(_as(broker, "notify"), ["careflow.queue.events"], groups("queue")[0])
    )
    assert foreign["careflow.queue.events"] == "GroupAuthorizationFailedError", foreign
    # (Its own group has read and committed what was there: one more record to read.)
    asyncio.run(_writes(_as(broker, "queue"), ["careflow.queue.events"]))
    own = asyncio.run(_reads(_as(broker, "notify"), ["careflow.queue.events"], groups("notify")[0]))
    assert own["careflow.queue.events"] == "ok", own


def test_a_wrong_password_is_refused(broker: TlsKafka) -> None:
    impostor = _as(broker, "queue").model_copy(update={"kafka_sasl_password": SecretStr("guess")})
    with pytest.raises(KafkaError):  # the SASL handshake fails at start
        asyncio.run(_writes(impostor, ["careflow.queue.events"]))
