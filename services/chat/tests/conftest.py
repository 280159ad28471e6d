"""Fixtures of chat's tests: two real chat processes on real Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_support import ChatProcess, chat_ports, start_chat

MAX_ATTACHMENT_BYTES = 300_000


@pytest.fixture(scope="module")
def attachments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chat-attachments")


@pytest.fixture(scope="module")
def chat_env(infra, attachments_dir: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_ATTACHMENTS_DIR": str(attachments_dir),
        "CAREFLOW_MAX_ATTACHMENT_BYTES": str(MAX_ATTACHMENT_BYTES),
        "CAREFLOW_STUN_URLS": '["stun:stun.careflow.test:3478"]',
        "CAREFLOW_TURN_URLS": '["turn:turn.careflow.test:3478?transport=udp"]',
        "CAREFLOW_TURN_SECRET": "turn-shared-secret-for-tests",
    }


@pytest.fixture(scope="module")
def replicas(
    chat_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ChatProcess, ChatProcess]]:
    """Two chat replicas on one database: live delivery must not depend on which one."""
    logs = tmp_path_factory.mktemp("chat-logs")
    first_port, second_port = chat_ports()
    started: list[ChatProcess] = []
    try:
        # One after the other: both would migrate the schema at once otherwise.
        started.append(start_chat(first_port, chat_env, logs / "chat-a.log"))
        started.append(start_chat(second_port, chat_env, logs / "chat-b.log"))
        yield started[0], started[1]
    finally:
        codes = [p.stop() for p in started]
        for p in started:
            print(f"--- {p.log.name}\n{p.log.read_text()[-12000:]}")
        assert all(code in (0, -15) for code in codes), codes
