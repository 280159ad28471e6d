"""The fault injector: a plan drawn from a seed, applied one fault at a time under load.

Kinds: SIGKILL of a service (the supervisor restarts it, with backoff); SIGKILL of the Kafka
broker and its restart; an immediate stop of PostgreSQL (no checkpoint, like a crash) and its
restart; SIGSTOP of a service with consumers for longer than the group's session timeout,
then SIGCONT (the group rebalances without it, then a zombie member comes back); slow SMS
gateway and SMTP server. After each fault, the time until every service is ready again is
the fault's recovery time.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from careflow.cli.chaos.gateways import Mailbox, SmsGateway
from careflow.cli.infra import (
    Infra,
    InfraError,
    _pg_bin,
    _pg_system_user,
    _pid_alive,
    _read_pid,
    _run_pg,
)
from careflow.cli.platform import SERVICES, Platform

#: Services that run Kafka consumers (triage only produces).
CONSUMERS: tuple[str, ...] = ("identity", "queue", "chat", "journal", "notify")
INFRA_KINDS: tuple[str, ...] = ("kill_kafka", "stop_postgres", "pause_consumer", "slow_gateways")
#: Longer than aiokafka's default session timeout (10 s): the group gives the member up.
PAUSE_SECONDS = 15.0


@dataclass(frozen=True)
class Fault:
    kind: str
    #: The service, for kill_service and pause_consumer.
    target: str | None = None
    #: Seconds of quiet before it, drawn from the seed.
    gap_s: float = 0.0
    #: How long it lasts, where that is chosen (pause, slowness, PostgreSQL's downtime).
    hold_s: float = 0.0


def plan(seed: int, count: int, min_gap: float = 2.0, max_gap: float = 10.0) -> list[Fault]:
    """``count`` faults from ``seed``: every kind (each service killed once) before any is
    repeated, in a seeded order; the same seed gives the same plan."""
    rng = random.Random(seed)
    kinds = [("kill_service", s) for s in SERVICES] + [(k, None) for k in INFRA_KINDS]
    rng.shuffle(kinds)
    chosen: list[tuple[str, str | None]] = []
    while len(chosen) < count:
        chosen.extend(kinds[: count - len(chosen)])
        rng.shuffle(kinds)
    faults = []
    for kind, target in chosen:
        if kind == "pause_consumer":
            target = rng.choice(CONSUMERS)
        hold = {
            "pause_consumer": PAUSE_SECONDS,
            "slow_gateways": rng.uniform(5.0, 15.0),
            "stop_postgres": rng.uniform(1.0, 5.0),
        }.get(kind, 0.0)
        faults.append(Fault(kind, target, round(rng.uniform(min_gap, max_gap), 2), round(hold, 2)))
    return faults


@dataclass
class Applied:
    """One fault as it happened (monotonic seconds since the run began)."""

    fault: Fault
    started: float
    ended: float = 0.0
    recovered: float | None = None
    error: str | None = None

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered is None else round(self.recovered - self.ended, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self.fault),
            "started_s": round(self.started, 2),
            "ended_s": round(self.ended, 2),
            "recovery_s": self.recovery_s,
            "error": self.error,
        }


@dataclass
class Injector:
    """Applies ``faults`` in a thread of its own; ``done`` is set when all are applied and
    recovered from (or ``stop`` was asked)."""

    faults: list[Fault]
    infra: Infra
    platform: Platform
    gateway: SmsGateway
    mailbox: Mailbox
    say: Callable[[str], None]
    recovery_timeout: float = 300.0
    applied: list[Applied] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    t0: float = field(default_factory=time.monotonic)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="fault-injector", daemon=True)
        thread.start()
        return thread

    def _now(self) -> float:
        return time.monotonic() - self.t0

    def _run(self) -> None:
        try:
            for i, fault in enumerate(self.faults, 1):
                if self.stopping.wait(fault.gap_s):
                    return
                what = fault.kind + (f" {fault.target}" if fault.target else "")
                self.say(f"fault {i}/{len(self.faults)} at {self._now():.0f}s: {what}")
                record = Applied(fault, self._now())
                self.applied.append(record)
                try:
                    self._apply(fault)
                except Exception as exc:  # a fault that could not be applied is reported
                    record.error = f"{type(exc).__name__}: {exc}"[:300]
                    self.say(f"  could not apply: {record.error}")
                record.ended = self._now()
                record.recovered = self._await_recovery()
                took = record.recovery_s
                self.say(
                    f"  recovered {took}s after the fault ended"
                    if took is not None
                    else "  NOT recovered"
                )
        finally:
            self.done.set()

    def _apply(self, fault: Fault) -> None:
        if fault.kind == "kill_service":
            assert fault.target is not None
            self.platform.processes[fault.target].send_signal(signal.SIGKILL)
            # The supervisor sees the exit and restarts it after its backoff.
            time.sleep(0.5)
        elif fault.kind == "kill_kafka":
            pid = _read_pid(self.infra.kafka_dir / "kafka.pid")
            assert pid is not None, "no Kafka pid"
            os.killpg(pid, signal.SIGKILL)
            while _pid_alive(pid):
                time.sleep(0.1)
            self._restart()
        elif fault.kind == "stop_postgres":
            data = self.infra.pg_dir / "data"
            _run_pg(
                [str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                _pg_system_user(),
            )
            time.sleep(fault.hold_s)
            self._restart()
        elif fault.kind == "pause_consumer":
            assert fault.target is not None
            proc = self.platform.processes[fault.target]
            proc.send_signal(signal.SIGSTOP)
            try:
                time.sleep(fault.hold_s)
            finally:
                proc.send_signal(signal.SIGCONT)
        elif fault.kind == "slow_gateways":
            self.gateway.delay = self.mailbox.delay = 3.0
            try:
                time.sleep(fault.hold_s)
            finally:
                self.gateway.delay = self.mailbox.delay = 0.0
        else:
            raise ValueError(f"unknown fault {fault.kind}")

    def _restart(self) -> None:
        """``infra.up()``, tried again if a busy machine makes a start outlast its wait."""
        for attempt in range(3):
            try:
                self.infra.up()
                return
            except InfraError as exc:
                self.say(f"  restart {attempt + 1} failed: {exc}"[:300])
        self.infra.up()

    def _await_recovery(self) -> float | None:
        """When every service answers ready again (None if not within the timeout)."""
        deadline = time.monotonic() + self.recovery_timeout
        with httpx.Client(timeout=3.0) as http:
            while time.monotonic() < deadline:
                if all(_ready(http, self.platform, s) for s in SERVICES):
                    return self._now()
                time.sleep(0.2)
        return None


def _ready(http: httpx.Client, platform: Platform, service: str) -> bool:
    try:
        return http.get(f"{platform.url(service)}/readyz").status_code == 200
    except httpx.HTTPError:
        return False
