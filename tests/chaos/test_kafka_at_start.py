"""A service that starts while Kafka is away waits for it instead of exiting (issue 16).

In the reduced chaos run identity, restarted after a kill, reached its Kafka connection
just as the broker restarted, exited, and paid for a whole start again. Here the broker
is the real one the tests use, reached first through a port where nothing listens; a
forwarder opens that port to the broker a few seconds later, as a restarting broker
would start to listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from aiokafka.errors import KafkaConnectionError

from careflow.kit.kafka import make_producer, until_kafka_answers

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

AWAY_SECONDS = 3.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _forward(port: int, target: str) -> asyncio.Server:
    """A TCP forwarder on ``port`` to the broker (bootstrap only: the broker then names
    its own address, which the client uses for everything else)."""
    host, target_port = target.split(",")[0].rsplit(":", 1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def test_the_producer_start_waits_for_a_broker_that_comes_back(infra) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    producer = make_producer(f"127.0.0.1:{port}", "test-kafka-at-start")
    tries = 0

    async def start() -> None:
        nonlocal tries
        tries += 1
        await producer.start()

    began = time.monotonic()
    starting = asyncio.create_task(until_kafka_answers("producer", start, 60.0))
    await asyncio.sleep(AWAY_SECONDS)
    assert not starting.done(), "the start gave up (or went on) while the broker was away"
    server = await _forward(port, infra.bootstrap_servers)
    try:
        await asyncio.wait_for(starting, 60)
        assert await producer.ping(), "the producer started but does not reach the broker"
    finally:
        await producer.stop()
        server.close()
    assert tries >= 2 and time.monotonic() - began >= AWAY_SECONDS


async def test_a_broker_that_stays_away_fails_the_start_after_the_wait() -> None:
    producer = make_producer(f"127.0.0.1:{_free_port()}", "test-kafka-never")
    began = time.monotonic()
    with pytest.raises(KafkaConnectionError):
        await until_kafka_answers("producer", producer.start, 2.0)
    assert 1.0 <= time.monotonic() - began < 30.0
