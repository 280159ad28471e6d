"""Kafka wiring on aiokafka: connection options, the producer, topics and dead letters.

aiokafka is the one Kafka client the kit uses, for producing and for consuming
(docs/architecture.md, "One Kafka client", says why). Nothing here is held in
module state: every client takes its bootstrap servers and security from the
settings it is given, so two services can run in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.structs import RecordMetadata

from careflow.contracts import PARTITIONS, dead_letter_topic, event_topics, restricted_topics
from careflow.contracts.registry import SERVICES
from careflow.kit.logging import get_logger
from careflow.kit.settings import InsecureSettings, ServiceSettings

log = get_logger(__name__)

#: Where to reach Kafka: a service's settings (servers and security), or bare bootstrap
#: servers for tests and benchmarks against the local, unauthenticated broker.
KafkaTarget = ServiceSettings | str


def client_options(kafka: KafkaTarget) -> dict[str, Any]:
    """Keyword arguments every aiokafka client needs: bootstrap servers and security.

    With SSL or SASL_SSL the TLS context verifies the broker's certificate against
    ``kafka_ssl_cafile`` (else the system's CAs) and checks its host name; nothing turns
    either off. A CA or client certificate file that cannot be read fails here, at start.
    """
    if isinstance(kafka, str):
        return {"bootstrap_servers": kafka}
    protocol = kafka.kafka_security_protocol
    options: dict[str, Any] = {"bootstrap_servers": kafka.kafka_bootstrap_servers}
    if protocol == "PLAINTEXT":
        return options
    options["security_protocol"] = protocol
    if protocol.endswith("SSL"):
        options["ssl_context"] = kafka_ssl_context(kafka)
    if protocol.startswith("SASL"):
        if not (kafka.kafka_sasl_username and kafka.kafka_sasl_password.get_secret_value()):
            raise InsecureSettings(
                f"CAREFLOW_KAFKA_SECURITY_PROTOCOL={protocol} needs "
                "CAREFLOW_KAFKA_SASL_USERNAME and CAREFLOW_KAFKA_SASL_PASSWORD"
            )
        # aiokafka takes the user and password under these names for SCRAM as well.
        options["sasl_mechanism"] = kafka.kafka_sasl_mechanism
        options["sasl_plain_username"] = kafka.kafka_sasl_username or ""
        options["sasl_plain_password"] = kafka.kafka_sasl_password.get_secret_value()
    return options


def kafka_ssl_context(settings: ServiceSettings) -> ssl.SSLContext:
    """The client TLS context: certificates verified, host names checked, TLS 1.2 at least."""
    key_password = settings.kafka_ssl_key_password
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
            password=key_password.get_secret_value() if key_password else None,
        )
    except (OSError, ssl.SSLError) as exc:
        # The type and the setting only: the message may quote the file's content.
        raise InsecureSettings(
            "cannot load the Kafka TLS files (CAREFLOW_KAFKA_SSL_CAFILE / _CERTFILE / _KEYFILE):"
            f" {type(exc).__name__}"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # create_ssl_context already does this; asserted so a change there cannot go unnoticed.
    if not context.check_hostname or context.verify_mode is not ssl.CERT_REQUIRED:
        raise InsecureSettings("the Kafka TLS context must verify certificates and host names")
    return context


def _headers(headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in headers.items()]


class Producer:
    """A service's one Kafka producer.

    ``acks="all"`` with the idempotent producer means a confirmed publish is on
    every in-sync replica, and a producer retry cannot write a record twice or
    reorder a partition. Records carry exactly the headers the caller gives.
    """

    def __init__(self, kafka: KafkaTarget, client_id: str) -> None:
        self.options = client_options(kafka)
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to Kafka (idempotent)."""
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            **self.options,
            client_id=self.client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        try:
            await producer.start()
        except BaseException:
            # Refused (TLS, SASL) or unreachable: release its connections and tasks too.
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Send what is buffered, then disconnect."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        headers: Mapping[str, str],
    ) -> asyncio.Future[RecordMetadata]:
        """Queue one record; the returned future resolves once Kafka has confirmed it.

        Records queued one after another keep their order within a partition, so
        a batch is sent by queueing all of it and then awaiting the futures.
        """
        if self._producer is None:
            raise RuntimeError(f"producer {self.client_id} is not started")
        future: asyncio.Future[RecordMetadata] = await self._producer.send(
            topic, value, key=key, headers=_headers(headers)
        )
        return future

    async def publish(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None,
        headers: Mapping[str, str],
    ) -> RecordMetadata:
        """Send one record and wait until Kafka has confirmed it."""
        return await (await self.send(topic, value, key=key, headers=headers))

    async def ping(self, within_seconds: float = 2.0) -> bool:
        """True when the cluster answers a metadata request within ``within_seconds``."""
        if self._producer is None:
            return False
        try:
            metadata = await asyncio.wait_for(
                self._producer.client.fetch_all_metadata(), within_seconds
            )
        except Exception:
            return False
        return bool(metadata.brokers())


def make_producer(kafka: KafkaTarget, client_id: str) -> Producer:
    """The producer a service (or a test, or a benchmark) publishes and dead-letters with."""
    return Producer(kafka, client_id)


def all_topics() -> list[str]:
    """Every topic careflow uses: one event topic and one dead-letter topic per service, and
    the restricted topics."""
    return [*event_topics(), *restricted_topics(), *(dead_letter_topic(s) for s in SERVICES)]


async def ensure_topics(
    kafka: KafkaTarget, topics: Iterable[str] | None = None, partitions: int = PARTITIONS
) -> None:
    """Create missing topics with careflow's common partition count (idempotent)."""
    wanted = list(topics) if topics is not None else all_topics()
    admin = AIOKafkaAdminClient(**client_options(kafka))
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


#: What Kafka raises while the broker is away or still starting (not a refusal of TLS or SASL).
_BROKER_AWAY = (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    OSError,
)


async def until_kafka_answers(
    what: str,
    step: Callable[[], Awaitable[None]],
    wait_seconds: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``step`` (a start that connects to Kafka), again with backoff while the broker is
    away, for up to ``wait_seconds``; then its error is raised.

    A service that starts while Kafka restarts waits for it instead of exiting: an exit
    costs the whole start again (and a supervisor's growing backoff) once Kafka is back.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            await step()
            return
        except _BROKER_AWAY as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning(
                "kafka_not_reachable_at_start",
                step=what,
                error=type(exc).__name__,
                retry_in_seconds=delay,
            )
        await sleep(delay)
        delay = min(delay * 2, 5.0)


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
