"""Fixtures shared by every test tier.

Integration and end-to-end tests talk to a real Kafka broker and a real
PostgreSQL. When ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are set they
are used as they are; otherwise the suite starts its own (``careflow infra``
with the ``test`` profile, fresh data) and stops it at the end. With
``CAREFLOW_INFRA=containers`` it starts them in containers through testcontainers instead
(``careflow.cli.infra_containers``; the images of ``make images``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog

RECORD_RESPONSES = "CAREFLOW_RECORD_RESPONSES"
_CHECK_LAST = "test_every_status_answered_in_the_test_run_is_documented"


def pytest_configure(config: pytest.Config) -> None:
    """Record every answer every service gives in this run (see tests/architecture)."""
    if RECORD_RESPONSES not in os.environ:
        folder = Path(tempfile.mkdtemp(prefix="careflow-answers-"))
        os.environ[RECORD_RESPONSES] = str(folder / "answers.jsonl")
        config.stash[_recording_key] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_recording_key, False):
        os.environ.pop(RECORD_RESPONSES, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The documentation check reads what every other test recorded: run it last.
    items.sort(key=lambda item: item.name == _CHECK_LAST)


_recording_key = pytest.StashKey[bool]()


@dataclass(frozen=True)
class InfraEndpoints:
    bootstrap_servers: str
    database_url: str


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A test that configures logging (to the stream pytest captures for it) leaves it as it
    found it: else later tests log into that stream after pytest has closed it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    before = structlog.get_config()
    yield
    if structlog.get_config() != before:
        structlog.reset_defaults()
        structlog.configure(**before)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def infra() -> Iterator[InfraEndpoints]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        yield InfraEndpoints(kafka, database)
        return
    if os.environ.get("CAREFLOW_INFRA") == "containers":
        # Kafka and PostgreSQL in containers, through testcontainers (issue 15).
        from careflow.cli.infra_containers import ContainerInfra

        boxed = ContainerInfra.for_slot(int(os.environ.get("CAREFLOW_INFRA_SLOT", "0")))
        boxed.up()
        try:
            yield InfraEndpoints(boxed.bootstrap_servers, boxed.database_url())
        finally:
            boxed.down()
        return
    from careflow.cli.infra import Infra

    local = Infra.profile("test")
    local.destroy()  # a fresh broker and database for every run
    local.up()
    try:
        yield InfraEndpoints(local.bootstrap_servers, local.database_url())
    finally:
        local.down()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for schema and topic names, so tests never share state."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def service_ports() -> dict[str, int]:
    """HTTP ports for the six service processes of end-to-end tests (per infra slot)."""
    from careflow.cli.platform import SERVICES

    base = 18001 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    return {service: base + i for i, service in enumerate(SERVICES)}
