"""Two web front-end processes on one database, as two replicas behind a load balancer (issue
15): a session started on one serves the next request on the other, through the whole e-ID
login, and logging out on one ends it on both. Identity runs as a real process; the web
replicas run as web's restricted runtime role."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from careflow.cli.platform import replica
from careflow.cli.roles import runtime_env

pytestmark = [pytest.mark.long, pytest.mark.ops, pytest.mark.integration, pytest.mark.timeout(900)]

#: An adult of Uppsala in the seed register.
ADULT = "197207099636"


def _ports() -> tuple[int, int]:
    base = 18070 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    return base, base + 1


@pytest.fixture(scope="module")
def replicas(infra, service_ports, tmp_path_factory) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    from careflow.cli.platform import Platform

    logs = tmp_path_factory.mktemp("web-replica-logs")
    ports = {"identity": service_ports["identity"]}
    with Platform.running(
        ports, infra.bootstrap_servers, infra.database_url, str(logs), services=("identity",)
    ) as platform:
        identity = platform.url("identity")
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
            **runtime_env(infra.database_url, "web"),
            "CAREFLOW_ENVIRONMENT": "test",
            "CAREFLOW_LOG_JSON": "true",
            "CAREFLOW_IDENTITY_URL": identity,
            "CAREFLOW_JWKS_URL": f"{identity}/identity/.well-known/jwks.json",
        }
        with ExitStack() as stack:
            # One after the other: the first migrates web's schema.
            a = stack.enter_context(replica("web", env, _ports()[0], logs / "web-a.log"))
            b = stack.enter_context(replica("web", env, _ports()[1], logs / "web-b.log"))
            yield a, b


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def test_a_session_started_on_one_replica_serves_the_next_request_on_the_other(
    replicas: tuple[str, str],
) -> None:
    a, b = replicas
    # One browser; the load balancer sends each request wherever it likes.
    with httpx.Client(timeout=60) as browser:
        login_page = browser.get(f"{a}/login")
        assert login_page.status_code == 200 and "cf_session" in browser.cookies
        csrf = _csrf(login_page.text)
        # The e-ID order is started on B with the session (and CSRF token) made on A...
        started = browser.post(f"{b}/login", data={"realm": "patient", "csrf": csrf})
        assert started.status_code == 303, started.text
        # ...and A knows the login in progress.
        waiting = browser.get(f"{a}/login/wait")
        assert waiting.status_code == 200, waiting.text
        order = re.search(r"/eid/test-app\?order=([^\"&]+)", waiting.text)
        assert order, waiting.text[:2000]
        approved = browser.post(
            f"{b}/eid/test-app",
            data={"order": html.unescape(order.group(1)), "pin": ADULT, "csrf": csrf},
        )
        assert approved.status_code == 303, approved.text
        done = browser.post(f"{a}/login/status", headers={"x-csrf-token": csrf})
        assert done.status_code == 200 and done.json()["status"] == "complete", done.text
        # Logged in (a new session secret, set by A): both replicas know it.
        for replica in (b, a):
            home = browser.get(f"{replica}/")
            assert home.status_code == 303 and home.headers["location"] == "/start", home.text
        csrf = _csrf(browser.get(f"{b}/login").text)
        out = browser.post(f"{b}/logout", data={"csrf": csrf})
        assert out.status_code == 303
        # Ended on B, ended on A.
        after = browser.get(f"{a}/")
        assert after.status_code == 200 and 'name="csrf"' in after.text
