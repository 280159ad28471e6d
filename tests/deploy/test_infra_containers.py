"""``CAREFLOW_INFRA=containers``: the fixtures' Kafka and PostgreSQL run in containers, started
through testcontainers from the images ``make images`` builds (issue 15).

Run by ``make test-containers``; skipped, saying so, in a run without that setting.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = [
    pytest.mark.ops,
    pytest.mark.integration,
    pytest.mark.timeout(900),
    # Decided before the infra fixture starts anything.
    pytest.mark.skipif(
        os.environ.get("CAREFLOW_INFRA") != "containers",
        reason="the embedded infrastructure runs: set CAREFLOW_INFRA=containers",
    ),
]


def _running_images() -> list[str]:
    engine = "docker" if os.environ.get("DOCKER_HOST", "").endswith("docker.sock") else "podman"
    if shutil.which(engine) is None:
        return []
    listing = [engine, "ps", "--format", "{{.Image}} {{.Command}}"]
    return subprocess.run(listing, capture_output=True, text=True).stdout.splitlines()


def test_kafka_and_postgresql_run_in_containers_when_asked(infra) -> None:  # type: ignore[no-untyped-def]
    images = " ".join(_running_images())
    assert "kafka" in images and "postgres" in images, images
    topic = f"containers-{uuid.uuid4().hex[:8]}"
    payload = {"case_id": str(uuid.uuid4())}

    async def round_trip() -> tuple[dict[str, str], str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 1, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(topic, json.dumps(payload).encode())
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=infra.bootstrap_servers, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), 60)
        finally:
            await consumer.stop()
        engine = create_async_engine(infra.database_url)
        try:
            async with engine.connect() as conn:
                version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        finally:
            await engine.dispose()
        assert message.value is not None
        return json.loads(message.value), str(version)

    received, version = asyncio.run(round_trip())
    assert received == payload
    assert int(version.split(".")[0]) >= 15
