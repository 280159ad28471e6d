"""Kafka wiring: the FastStream broker, topic creation, and dead letters."""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from careflow.contracts import PARTITIONS, dead_letter_topic, event_topics
from careflow.contracts.registry import SERVICES
from careflow.kit.logging import get_logger
from careflow.kit.settings import ServiceSettings

log = get_logger(__name__)


_security: BaseSecurity | None = None


def configure_security(settings: ServiceSettings) -> None:
    """Set how this process authenticates to Kafka (the runtime calls it from the settings)."""
    global _security
    protocol = settings.kafka_security_protocol
    use_ssl = protocol.endswith("SSL")
    ssl_context = ssl.create_default_context() if use_ssl else None
    if protocol.startswith("SASL"):
        user = settings.kafka_sasl_username or ""
        password = settings.kafka_sasl_password.get_secret_value()
        kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        _security = kinds[settings.kafka_sasl_mechanism](
            user, password, ssl_context=ssl_context, use_ssl=use_ssl
        )
    elif use_ssl:
        _security = BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    else:
        _security = None


def client_options() -> dict[str, Any]:
    """Keyword arguments for plain aiokafka clients (consumers, admin) with the same security."""
    return parse_security(_security)


def make_broker(bootstrap_servers: str, client_id: str, **kwargs: Any) -> KafkaBroker:
    """A FastStream broker whose producer waits for every in-sync replica and never duplicates.

    ``acks="all"`` with the idempotent producer means a confirmed publish is on
    every in-sync replica and a producer retry cannot write a message twice.
    """
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        logger=get_logger(f"faststream.{client_id}"),
        # FastStream logs every message it handles at this level: keep that out of INFO.
        log_level=logging.DEBUG,
        security=_security,
        **kwargs,
    )


def all_topics() -> list[str]:
    """Every topic careflow uses: one event topic and one dead-letter topic per service."""
    return [*event_topics(), *(dead_letter_topic(s) for s in SERVICES)]


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str] | None = None, partitions: int = PARTITIONS
) -> None:
    """Create missing topics with careflow's common partition count (idempotent)."""
    wanted = list(topics) if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            # Another service may create one between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
                )
            log.info("topics_created", topics=missing)
    finally:
        await admin.close()


def dead_letter_record(
    *,
    consumer: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> bytes:
    """The dead-letter message: the original bytes untouched, with the reason and origin.

    The original value is kept as text when it is UTF-8 and as hex otherwise,
    so nothing is lost and an operator can re-publish it after a fix.
    """
    original: dict[str, Any]
    try:
        original = {"encoding": "utf-8", "value": value.decode() if value is not None else None}
    except UnicodeDecodeError:
        assert value is not None
        original = {"encoding": "hex", "value": value.hex()}
    return json.dumps(
        {
            "consumer": consumer,
            "reason": reason,
            "origin": {"topic": topic, "partition": partition, "offset": offset},
            "key": key.decode(errors="replace") if key is not None else None,
            "original": original,
            "dead_lettered_at": datetime.now(UTC).isoformat(),
        }
    ).encode()
