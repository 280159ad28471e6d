"""The local infrastructure the suite started: idempotent start, status."""

from __future__ import annotations

import os
import time

import pytest

pytestmark = [pytest.mark.foundation, pytest.mark.integration]


@pytest.mark.skipif(
    bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")), reason="external infrastructure in use"
)
def test_infra_up_is_idempotent_and_reports_status(infra) -> None:  # type: ignore[no-untyped-def]
    from careflow.cli.infra import Infra

    local = Infra.profile("test")
    started = time.monotonic()
    local.up()  # already running: returns at once, starts nothing new
    assert time.monotonic() - started < 5
    status = local.status()
    assert status["kafka"].startswith("up") and status["postgres"].startswith("up")
    assert infra.bootstrap_servers == local.bootstrap_servers
