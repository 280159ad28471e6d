"""Outages of PostgreSQL and Kafka under the six real services (issue 16).

These tests kill infrastructure, so they get their own broker and database (ports apart
from the session's, a folder of their own under ``.infra``): the rest of the suite keeps
its shared instances and never sees the outage.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from careflow.cli.flow import DEMO_FEVER_ANSWERS, answer_questionnaire
from careflow.cli.infra import (
    Infra,
    _pg_bin,
    _pg_system_user,
    _pid_alive,
    _read_pid,
    _run_pg,
    project_root,
)
from careflow.cli.platform import SERVICES, Platform
from careflow.cli.supervise import Backoff, Supervisor

# Starting a broker, a database and six services takes minutes on a busy machine.
pytestmark = [
    pytest.mark.chaos,
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.timeout(1200),
]

SLOT = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))


@pytest.fixture(scope="module")
def own_infra() -> Iterator[Infra]:
    """A Kafka and PostgreSQL pair only these tests use (and kill)."""
    # Ports below the kernel's ephemeral range (32768 up): these tests restart a service,
    # Kafka and PostgreSQL on the port they had, which an outgoing connection may have
    # been handed in the meantime had it been one of the ephemeral ports.
    local = Infra(
        project_root() / ".infra" / f"chaos-{SLOT}",
        kafka_port=21092 + 10 * SLOT,
        controller_port=21093 + 10 * SLOT,
        pg_port=22432 + 10 * SLOT,
    )
    local.destroy()
    local.up()
    try:
        yield local
    finally:
        local.destroy()


@pytest.fixture(scope="module")
def platform(own_infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    logs = tmp_path_factory.mktemp("chaos-logs")
    base = 23001 + 100 * SLOT  # below the ephemeral range, as ``own_infra``'s
    ports = {service: base + i for i, service in enumerate(SERVICES)}
    # Short retry backoff so consumers and the relay come back quickly after an outage.
    env = {"CAREFLOW_CONSUMER_RETRY_BACKOFF_SECONDS": "0.5"}
    # A machine busy with other work may take minutes to start six services.
    with Platform.running(
        ports,
        own_infra.bootstrap_servers,
        own_infra.database_url(),
        str(logs),
        env,
        ready_timeout=600.0,
    ) as running:
        yield running


def _stop_postgres_immediately(local: Infra) -> None:
    data = local.pg_dir / "data"
    _run_pg(
        [str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
        _pg_system_user(),
    )


def _kill_kafka(local: Infra) -> None:
    pid = _read_pid(local.kafka_dir / "kafka.pid")
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _tokens(http: httpx.Client, platform: Platform) -> dict[str, str]:
    identity = f"{platform.url('identity')}/identity"
    patient = http.post(
        f"{identity}/dev/patient-tokens",
        json={"personal_identity_number": "191212121212", "region": "Västmanland"},
    )
    nurse = http.post(
        f"{identity}/dev/staff-tokens",
        json={
            "hsa_id": f"SE2321000131-E{uuid.uuid4().hex[:8]}",
            "name": "Nina Sjöberg",
            "title": "nurse",
            "region": "Västmanland",
            "care_unit": "1177 direkt Västmanland",
        },
    )
    return {"patient": patient.json()["access_token"], "staff": nurse.json()["access_token"]}


def _routes(http: httpx.Client, platform: Platform) -> list[tuple[str, str, str]]:
    """(service, method, path with its parameters filled) of every documented operation."""
    out = []
    for service in SERVICES:
        doc = http.get(f"{platform.url(service)}/{service}/openapi.json").json()
        for path, ops in doc["paths"].items():
            if not path.startswith(f"/{service}/") or path.endswith(("z", "/metrics")):
                continue  # the probes: readiness is checked on its own below
            filled = re.sub(r"\{[^}]*\}", lambda _: str(uuid.uuid4()), path)
            out.extend((service, method.upper(), filled) for method in ops)
    return out


def _fire(
    http: httpx.Client, platform: Platform, tokens: dict[str, str], route: tuple[str, str, str]
) -> list[httpx.Response]:
    """The route called as a patient and as a nurse, with an empty JSON object as body."""
    service, method, path = route
    answers = []
    for token in tokens.values():
        answers.append(
            http.request(
                method,
                f"{platform.url(service)}{path}",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
                json={} if method in ("POST", "PUT", "PATCH") else None,
            )
        )
    return answers


#: One request per service that reaches the database once it is back.
DATABASE_READS = {
    "identity": ("POST", "/identity/dev/patient-tokens"),
    "triage": ("POST", "/triage/cases"),
    "queue": ("GET", "/queue/cases/{case}"),
    "chat": ("GET", "/chat/cases/{case}/messages"),
    "journal": ("GET", "/journal/cases/{case}/entries"),
    "notify": ("GET", "/notify/cases/{case}/notifications"),
}


def _database_read(
    http: httpx.Client, platform: Platform, tokens: dict[str, str], service: str
) -> httpx.Response:
    method, path = DATABASE_READS[service]
    body: dict[str, Any] | None = None
    if service == "identity":
        body = {"personal_identity_number": "191212121212", "region": "Västmanland"}
    elif service == "triage":
        body = {"questionnaire_id": "fever", "language": "sv"}
    token = tokens["patient"] if service in ("identity", "triage") else tokens["staff"]
    return http.request(
        method,
        f"{platform.url(service)}{path.replace('{case}', str(uuid.uuid4()))}",
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )


class _Load(threading.Thread):
    """Reads against every service, one after another, for as long as the test runs: the
    requests in flight while PostgreSQL stops, is down, recovers and is back."""

    def __init__(self, platform: Platform, tokens: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.platform, self.tokens = platform, tokens
        self.done = threading.Event()
        #: (monotonic time sent, service, status, Retry-After, start of the body)
        self.answers: list[tuple[float, str, int, str | None, str]] = []

    def run(self) -> None:
        with httpx.Client(timeout=15.0) as http:
            while not self.done.is_set():
                for service in SERVICES:
                    sent = time.monotonic()
                    try:
                        answer = _database_read(http, self.platform, self.tokens, service)
                    except httpx.HTTPError as exc:
                        self.answers.append((sent, service, 0, None, type(exc).__name__))
                        continue
                    self.answers.append(
                        (
                            sent,
                            service,
                            answer.status_code,
                            answer.headers.get("retry-after"),
                            answer.text[:200],
                        )
                    )

    def faults(self) -> list[str]:
        """Every answer that was a fault: a 5xx other than 503 with Retry-After."""
        return [
            f"{service}: {status} {body}"
            for _, service, status, retry_after, body in self.answers
            if status >= 500 and not (status == 503 and retry_after)
        ]


def test_postgres_down_answers_503_and_not_ready_then_the_first_requests_succeed(
    platform: Platform, own_infra: Infra
) -> None:
    http = httpx.Client(timeout=15.0)
    tokens = _tokens(http, platform)
    routes = _routes(http, platform)
    assert len(routes) > 20
    for service in SERVICES:  # a warm pool: these connections die with the server
        assert _database_read(http, platform, tokens, service).status_code < 500
    load = _Load(platform, tokens)
    load.start()
    time.sleep(1.0)

    _stop_postgres_immediately(own_infra)
    try:
        faults: list[str] = []
        turned_away = dict.fromkeys(SERVICES, 0)
        for route in routes:
            for answer in _fire(http, platform, tokens, route):
                if answer.status_code == 503:
                    turned_away[route[0]] += 1
                    if not answer.headers.get("retry-after", "").isdigit() or not answer.headers[
                        "content-type"
                    ].startswith("application/problem+json"):
                        faults.append(f"{route}: 503 without Retry-After or problem details")
                elif answer.status_code >= 500:
                    faults.append(f"{route}: {answer.status_code} {answer.text[:200]}")
        for service in SERVICES:
            ready = http.get(f"{platform.url(service)}/readyz")
            if ready.status_code != 503 or ready.json()["checks"]["database"]:
                faults.append(f"{service} /readyz: {ready.status_code} {ready.text[:200]}")
        assert not faults, "\n".join(faults)
        # Every service has routes that need the database, and turned those away.
        assert all(turned_away.values()), turned_away
        print(f"answered 503 while PostgreSQL was down: {turned_away}")
    finally:
        restarted = time.monotonic()
        own_infra.up()
        back = time.monotonic()

    # The very first request to each service after the restart succeeds: the pool
    # validates (or replaces) connections that died with the old server.
    for service in SERVICES:
        answer = _database_read(http, platform, tokens, service)
        assert answer.status_code < 500, (service, answer.status_code, answer.text)
    print(
        f"PostgreSQL restart took {back - restarted:.2f}s; every service answered "
        f"{time.monotonic() - back:.2f}s after it was up"
    )
    time.sleep(2.0)
    load.done.set()
    load.join(30)
    # Under load too: no request in flight through the stop, the outage and the recovery
    # was a fault, and none sent once PostgreSQL was back failed.
    assert not load.faults(), "\n".join(load.faults())
    after = [a for a in load.answers if a[0] >= back]
    assert after and all(0 < status < 500 for _, _, status, _, _ in after), after[:10]
    during = [a for a in load.answers if restarted <= a[0] < back]
    print(
        f"under load: {len(load.answers)} requests, {len(during)} while PostgreSQL started "
        f"({sum(a[2] == 503 for a in during)} of them 503), {len(after)} after it was up"
    )
    platform.wait_ready(timeout=60)
    http.close()


def test_kafka_down_writes_succeed_readiness_says_so_and_events_arrive_after(
    platform: Platform, own_infra: Infra
) -> None:
    http = httpx.Client(timeout=15.0)
    tokens = _tokens(http, platform)
    _kill_kafka(own_infra)
    try:
        triage = f"{platform.url('triage')}/triage"
        auth = {"Authorization": f"Bearer {tokens['patient']}"}
        opened = http.post(
            f"{triage}/cases", headers=auth, json={"questionnaire_id": "fever", "language": "sv"}
        )
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]

        def call(method: str, service: str, path: str, token: str, **kw: Any) -> httpx.Response:
            answer = http.request(
                method,
                f"{platform.url(service)}/{service}{path}",
                headers={"Authorization": f"Bearer {token}"},
                **kw,
            )
            assert answer.status_code < 400, answer.text
            return answer

        step = answer_questionnaire(
            call, tokens["patient"], case_id, opened.json()["step"], DEMO_FEVER_ANSWERS
        )
        assert step["status"] == "completed", step
        # The relay cannot publish: readiness says so (after the producer notices).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = http.get(f"{platform.url('triage')}/readyz")
            if ready.status_code == 503 and not ready.json()["checks"]["kafka"]:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"triage stayed ready with Kafka down: {ready.text}")
    finally:
        own_infra.up()
    back = time.monotonic()

    # Queue learns of the case once the relay publishes what triage committed meanwhile.
    queue = f"{platform.url('queue')}/queue/cases/{case_id}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = http.get(queue, headers={"Authorization": f"Bearer {tokens['patient']}"})
        if answer.status_code == 200:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the case never reached queue after Kafka returned: {answer.text}")
    print(f"the case reached queue {time.monotonic() - back:.2f}s after Kafka was back")
    platform.wait_ready(timeout=120)
    http.close()


def test_a_service_killed_with_sigkill_is_restarted_by_the_dev_supervisor(
    platform: Platform,
) -> None:
    """What ``careflow dev`` does when a service crashes: a real one, killed outright."""
    said: list[str] = []
    supervisor = Supervisor(platform.processes, platform.spawn, said.append, Backoff(initial=1))
    supervisor.poll()
    platform.processes["notify"].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    deadline = killed + 60
    while supervisor.restarts("notify") == 0 and time.monotonic() < deadline:
        supervisor.poll()
        time.sleep(0.1)
    assert said[0] == "notify exited (killed by SIGKILL); restarting in 1s (crash 1 in a row)"
    assert said[1].startswith("notify restarted")
    platform.wait_ready(timeout=180)
    print(f"notify was ready again {time.monotonic() - killed:.1f}s after SIGKILL")


def test_kafka_down_every_service_reports_not_ready_and_the_first_requests_after_succeed(
    platform: Platform, own_infra: Infra
) -> None:
    """While the broker is away every service says so on ``/readyz`` (503, ``kafka``
    false) and never answers 500; once it is back, each is ready again and the very first
    request to each succeeds."""
    http = httpx.Client(timeout=15.0)
    tokens = _tokens(http, platform)
    _kill_kafka(own_infra)
    try:
        not_ready: set[str] = set()
        deadline = time.monotonic() + 90
        while not_ready != set(SERVICES) and time.monotonic() < deadline:
            for service in sorted(set(SERVICES) - not_ready):
                ready = http.get(f"{platform.url(service)}/readyz")
                assert ready.status_code in (200, 503), (service, ready.text)
                if ready.status_code == 503 and not ready.json()["checks"]["kafka"]:
                    not_ready.add(service)
            time.sleep(0.5)
        assert not_ready == set(SERVICES), (
            f"still ready with Kafka down: {set(SERVICES) - not_ready}"
        )
        # Reads and writes that need only the database go on, and nothing is a 500.
        for service in SERVICES:
            answer = _database_read(http, platform, tokens, service)
            assert answer.status_code < 500 or (
                answer.status_code == 503 and answer.headers.get("retry-after")
            ), (service, answer.status_code, answer.text)
    finally:
        own_infra.up()
    back = time.monotonic()
    for service in SERVICES:
        answer = _database_read(http, platform, tokens, service)
        assert answer.status_code < 500, (service, answer.status_code, answer.text)
    platform.wait_ready(timeout=120)
    print(f"every service ready again {time.monotonic() - back:.1f}s after Kafka was back")
    http.close()
