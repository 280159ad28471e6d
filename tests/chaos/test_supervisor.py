"""``careflow dev`` restarts a crashed service with backoff and says so.

These drive the dev supervisor with tiny stand-in processes (a sleeping Python) rather
than the six services, which take minutes to start on a busy machine; the restart of a
real service killed with SIGKILL is in test_outages.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from careflow.cli.supervise import Backoff, Supervisor

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
CRASHER = [sys.executable, "-c", "raise SystemExit(3)"]


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _run_until(supervisor: Supervisor, done: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        supervisor.poll()
        time.sleep(0.02)
    assert done(), "the supervisor did not get there in time"  # type: ignore[operator]


def test_a_killed_service_is_restarted_after_a_pause_and_the_output_says_so(
    started: list[subprocess.Popen[bytes]],
) -> None:
    def spawn(_: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(SLEEPER)
        started.append(proc)
        return proc

    said: list[str] = []
    processes = {"queue": spawn("queue"), "chat": spawn("chat")}
    supervisor = Supervisor(processes, spawn, said.append, Backoff(initial=0.5))
    supervisor.poll()
    chat = processes["chat"]
    processes["queue"].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()

    _run_until(supervisor, lambda: supervisor.restarts("queue") == 1)

    assert time.monotonic() - killed_at >= 0.5  # the backoff, not at once
    assert said[0] == "queue exited (killed by SIGKILL); restarting in 0.5s (crash 1 in a row)"
    assert said[1].startswith("queue restarted (pid ")
    assert processes["queue"].poll() is None and processes["chat"] is chat


def test_a_crash_loop_waits_longer_each_time_up_to_the_cap(
    started: list[subprocess.Popen[bytes]],
) -> None:
    def spawn(_: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(CRASHER)
        started.append(proc)
        return proc

    said: list[str] = []
    backoff = Backoff(initial=0.05, factor=2, cap=0.2, reset_after=60)
    supervisor = Supervisor({"notify": spawn("notify")}, spawn, said.append, backoff)

    _run_until(supervisor, lambda: supervisor.restarts("notify") == 4)

    waits = [line.split("restarting in ")[1].split("s ")[0] for line in said if "exited" in line]
    assert waits[:4] == ["0.05", "0.1", "0.2", "0.2"]
    assert "notify exited (exit code 3)" in said[0]


def test_a_service_that_ran_long_enough_starts_over_at_the_first_pause() -> None:
    backoff = Backoff(initial=1, cap=60, reset_after=60)
    assert [backoff.delay(n) for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]
    now = [0.0]

    class Exited:
        pid = 1

        def poll(self) -> int:
            return 1

    said: list[str] = []
    supervisor = Supervisor(
        {"triage": Exited()},  # type: ignore[dict-item]
        lambda _: Exited(),  # type: ignore[arg-type, return-value]
        said.append,
        backoff,
        clock=lambda: now[0],
    )
    for _ in range(3):  # three crashes in a row: 1s, 2s, 4s
        supervisor.poll()
        now[0] += 10
        supervisor.poll()
    now[0] += 100  # then a long healthy run
    supervisor.poll()
    assert [s.split("restarting in ")[1].split("s ")[0] for s in said if "exited" in s] == [
        "1",
        "2",
        "4",
        "1",
    ]
