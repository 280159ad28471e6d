"""Run the services as real processes (for ``careflow dev`` and the end-to-end tests).

The six back-end services always; the web front end (``WITH_WEB``) where a browser is
used: ``careflow dev`` and the web tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from careflow.cli.roles import runtime_env

SERVICES: tuple[str, ...] = ("identity", "triage", "queue", "chat", "journal", "notify")
#: The back-end services and the web front end in front of them.
WITH_WEB: tuple[str, ...] = (*SERVICES, "web")
DEV_PORTS = {
    "identity": 8001,
    "triage": 8002,
    "queue": 8003,
    "chat": 8004,
    "journal": 8005,
    "notify": 8006,
    "web": 8000,
}


@dataclass
class Platform:
    """The six service processes and where each listens."""

    ports: dict[str, int]
    #: Which services to run (the web front end only where a browser is used).
    services: tuple[str, ...] = SERVICES
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Each service's exit code, once stopped.
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    _launch: tuple[str, str, dict[str, str], str | None] = ("", "", {}, None)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(
        self,
        bootstrap_servers: str,
        database_url: str,
        extra_env: dict[str, str] | None = None,
        log_dir: str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        """Start every service and wait until each reports ready (``wait_ready`` says how long).

        ``database_url`` names the schemas' owner; the journal runs with its restricted role
        (``careflow.cli.roles``) and migrates at start as the owner.
        """
        self._launch = (bootstrap_servers, database_url, dict(extra_env or {}), log_dir)
        for service in self.services:
            self.processes[service] = self.spawn(service)
        self.wait_ready(ready_timeout)

    def spawn(self, service: str) -> subprocess.Popen[bytes]:
        """Start one service process as ``start`` did (again, after it crashed)."""
        bootstrap_servers, database_url, extra_env, log_dir = self._launch
        # The web front end calls every other service over HTTP.
        upstreams = {f"CAREFLOW_{s.upper()}_URL": self.url(s) for s in SERVICES if s in self.ports}
        env = {
            **os.environ,
            **(upstreams if service == "web" else {}),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            **runtime_env(database_url, service),
            "CAREFLOW_HTTP_PORT": str(self.ports[service]),
            # Every service verifies identity's EdDSA tokens with the keys it publishes.
            "CAREFLOW_JWKS_URL": f"{self.url('identity')}/identity/.well-known/jwks.json",
            **extra_env,
        }
        out = None
        if log_dir is not None:
            os.makedirs(log_dir, exist_ok=True)
            out = open(os.path.join(log_dir, f"{service}.log"), "ab")  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", f"careflow.{service}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every service answers /readyz (default 240 s, or
        CAREFLOW_READY_TIMEOUT_SECONDS on a machine too busy for that)."""
        if timeout is None:
            timeout = float(os.environ.get("CAREFLOW_READY_TIMEOUT_SECONDS", "240"))
        deadline = time.monotonic() + timeout
        pending = set(self.services)
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                proc = self.processes[service]
                if proc.poll() is not None:
                    raise RuntimeError(f"{service} exited with {proc.returncode} while starting")
                try:
                    response = httpx.get(f"{self.url(service)}/readyz", timeout=2.0)
                    if response.status_code == 200:
                        pending.discard(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready after {timeout}s: {', '.join(sorted(pending))}")

    @classmethod
    @contextmanager
    def running(
        cls,
        ports: dict[str, int],
        bootstrap_servers: str,
        database_url: str,
        log_dir: str,
        extra_env: dict[str, str] | None = None,
        services: tuple[str, ...] = SERVICES,
        ready_timeout: float | None = None,
    ) -> Iterator[Platform]:
        """All six services started for a test (in the ``test`` environment, JSON logs);
        stopped with SIGTERM at the end. On a failed start, the services' logs are printed."""
        platform = cls(dict(ports), services)
        env = {"CAREFLOW_ENVIRONMENT": "test", "CAREFLOW_LOG_JSON": "true", **(extra_env or {})}
        try:
            platform.start(bootstrap_servers, database_url, env, log_dir, ready_timeout)
        except Exception:
            platform.stop()
            for log in sorted(Path(log_dir).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text()[-3000:]}")
            raise
        try:
            yield platform
        finally:
            platform.exit_codes = platform.stop()

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """SIGTERM every service (graceful), SIGKILL what is left after ``timeout``."""
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return {s: p.returncode for s, p in self.processes.items()}


@contextmanager
def replica(
    service: str, env: dict[str, str], port: int, log: Path, ready_within: float = 300.0
) -> Iterator[str]:
    """One process of ``service`` (``python -m careflow.<service>``, as ``careflow dev`` runs
    it) with ``env`` on ``port``, yielded once ``/readyz`` answers; SIGTERM at the end.

    For the tests that run two replicas of one service side by side. A loaded machine may
    take minutes to start a process, so it fails only after ``ready_within`` seconds.
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"careflow.{service}"],
            env={**os.environ, **env, "CAREFLOW_HTTP_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{service} exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} not ready: {log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
