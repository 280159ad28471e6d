"""Fixtures of the web front end's tests: every service and the web front end as real
processes on real Kafka and PostgreSQL, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def web_platform(infra, service_ports, tmp_path_factory):  # type: ignore[no-untyped-def]
    from py_vapid import Vapid

    from careflow.cli.platform import WITH_WEB, Platform

    ports = {**service_ports, "web": max(service_ports.values()) + 1}
    # One platform for every browser test module: seven services take a while to start.
    logs = tmp_path_factory.mktemp("web-logs")
    # notify's Web Push on, with a key of this run: the settings page subscribes with it.
    vapid = Vapid()
    vapid.generate_keys()
    push_on = {"CAREFLOW_VAPID_PRIVATE_KEY": vapid.private_pem().decode()}
    # An unsigned note is flagged to its author after seconds, not a day: the records page
    # shows the flag within a test.
    push_on["CAREFLOW_JOURNAL_UNSIGNED_FLAG_AFTER_SECONDS"] = "15"
    with Platform.running(
        ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(logs),
        extra_env=push_on,
        services=WITH_WEB,
        # Platform.running's own default ignores the variable its wait_ready honours.
        ready_timeout=float(os.environ.get("CAREFLOW_READY_TIMEOUT_SECONDS", "240")),
    ) as running:
        yield running
    codes = running.exit_codes
    assert all(code in (0, -15) for code in codes.values()), codes


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` as root (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Root in a container has no user namespaces for Chromium's sandbox.
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core from npm, installed on first use under .infra/node (not committed)."""
    import subprocess
    from pathlib import Path

    from careflow.cli.infra import project_root

    prefix = project_root() / ".infra" / "node"
    script = prefix / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        if shutil.which("npm") is None:
            pytest.fail("npm is needed once to install axe-core for the accessibility test")
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(prefix), "axe-core@4"],
            check=True,
            timeout=300,
        )
    return str(Path(script))
