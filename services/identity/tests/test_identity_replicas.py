"""Two identity processes on one database and Kafka, as the manifests run two replicas: a
login started on one is taken up on the other (issue 15)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from oidc_provider_mock import User, run_server_in_thread

from careflow.cli.platform import replica
from careflow.cli.roles import runtime_env

pytestmark = [
    pytest.mark.long,
    pytest.mark.identity,
    pytest.mark.integration,
    pytest.mark.ops,
    pytest.mark.timeout(900),
]

#: An adult of Uppsala in the seed register, and a nurse in the staff catalogue.
ADULT = "197207099636"
NURSE = "197505179882"


def _ports() -> tuple[int, int, int]:
    """Two identity replicas' ports and the OIDC broker's, per infra slot.

    Not ports the kernel picked free a moment earlier: those are ephemeral ports, which any
    outgoing connection on the machine (another test run's Kafka clients) may take before the
    replica binds it, so the replica failed to start now and then."""
    base = 18061 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    return base, base + 1, base + 2


@contextmanager
def _identity(
    infra,
    port: int,
    log: Path,
    extra_env: dict[str, str],  # type: ignore[no-untyped-def]
) -> Iterator[str]:
    """One identity process (``python -m careflow.identity``, as ``careflow dev`` runs it)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        **runtime_env(infra.database_url, "identity"),
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        **extra_env,
    }
    with replica("identity", env, port, log) as url:
        yield url


@pytest.fixture
def replicas(infra, tmp_path: Path) -> Iterator[Callable[..., tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """Start two identity processes with the same settings; the second only once the first
    has migrated the schema."""
    with ExitStack() as stack:

        def start(extra_env: dict[str, str], ports: tuple[int, int]) -> tuple[str, str]:
            one = stack.enter_context(_identity(infra, ports[0], tmp_path / "a.log", extra_env))
            two = stack.enter_context(_identity(infra, ports[1], tmp_path / "b.log", extra_env))
            return one, two

        yield start


def _claims(token: str) -> dict:  # type: ignore[type-arg]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_an_e_id_login_started_on_one_replica_is_collected_on_the_other(replicas) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas({}, _ports()[:2])
    # One browser: its login cookie (path /identity, host 127.0.0.1) goes to both replicas.
    with httpx.Client(timeout=30) as browser:
        started = browser.post(f"{a}/identity/eid/orders", json={"realm": "staff"})
        assert started.status_code == 201, started.text
        ref = started.json()["order_ref"]
        assert started.json()["qr_data"].startswith("bankid.")
        pending = browser.post(f"{b}/identity/eid/orders/{ref}/collect").json()
        assert pending["status"] == "pending"
        # The person's phone answers whichever replica the load balancer picks.
        approved = httpx.post(
            f"{b}/identity/eid/test-app/{ref}/approve", json={"personal_identity_number": NURSE}
        )
        assert approved.status_code == 204, approved.text
        done = browser.post(f"{b}/identity/eid/orders/{ref}/collect")
        assert done.status_code == 200, done.text
        login = done.json()["login"]
        assert _claims(login["access_token"])["cf"]["role"] == "staff"  # the realm was kept
        assert login["refresh_token"]
        # A replayed collect on the replica that did not hand it over is refused too.
        replayed = browser.post(f"{a}/identity/eid/orders/{ref}/collect")
        assert replayed.status_code == 409, replayed.text

    # Another browser, which never held the login cookie, cannot collect on either replica.
    with httpx.Client(timeout=30) as owner, httpx.Client(timeout=30) as stranger:
        ref = owner.post(f"{a}/identity/eid/orders", json={}).json()["order_ref"]
        for replica in (a, b):
            stolen = stranger.post(f"{replica}/identity/eid/orders/{ref}/collect")
            assert stolen.status_code == 403, stolen.text

    # The per-person limit is counted once for both replicas: five starts, then 429.
    codes = [
        httpx.post(
            f"{a if i % 2 else b}/identity/eid/orders", json={"personal_identity_number": ADULT}
        ).status_code
        for i in range(6)
    ]
    assert codes == [201] * 5 + [429]


def test_an_oidc_callback_lands_on_the_other_replica_and_the_realm_is_kept(replicas) -> None:  # type: ignore[no-untyped-def]
    users = [
        User(sub="patient", claims={"personal_identity_number": ADULT}),
        User(sub="nurse", claims={"personal_identity_number": NURSE}),
    ]
    *ports, broker_port = _ports()
    with run_server_in_thread(port=broker_port, user_claims=users, require_nonce=True) as broker:
        a, b = replicas(
            {
                "CAREFLOW_EID_PROVIDER": "oidc",
                "CAREFLOW_OIDC_ISSUER": f"http://localhost:{broker.server_port}",
                "CAREFLOW_OIDC_CLIENT_ID": "careflow-identity",
                "CAREFLOW_OIDC_CLIENT_SECRET": "s3cret-client",
                # The load balancer's address would be here; the test plays it.
                "CAREFLOW_OIDC_REDIRECT_URI": "http://127.0.0.1:1/identity/oidc/callback",
            },
            (ports[0], ports[1]),
        )
        for realm, sub, there, back in (("staff", "nurse", a, b), ("patient", "patient", b, a)):
            with httpx.Client(timeout=30) as browser:
                started = browser.post(f"{there}/identity/eid/orders", json={"realm": realm})
                assert started.status_code == 201, started.text
                order = started.json()
                # The person logs in at the broker, which sends the browser back.
                at_broker = httpx.post(order["auto_start_token"], data={"sub": sub}, timeout=30)
                assert at_broker.status_code in (302, 303), at_broker.text
                callback = urlparse(at_broker.headers["location"])
                assert callback.path == "/identity/oidc/callback"
                landed = browser.get(f"{back}/identity/oidc/callback?{callback.query}")
                assert landed.status_code == 204, landed.text
                # The state is spent: the same callback again, on either replica, is refused.
                for replica in (there, back):
                    again = browser.get(f"{replica}/identity/oidc/callback?{callback.query}")
                    assert again.status_code in (404, 409), again.text
                done = browser.post(f"{there}/identity/eid/orders/{order['order_ref']}/collect")
                assert done.status_code == 200, done.text
                assert _claims(done.json()["login"]["access_token"])["cf"]["role"] == realm
