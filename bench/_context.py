"""What every benchmark result records beside its figures, so a reader can judge them:
the commit measured, the machine and how busy it was, who started the infrastructure,
and how durably PostgreSQL committed."""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
from typing import Any

import asyncpg


def commit() -> str:
    """The commit measured, marked when the benchmarked code had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout

    # The results themselves are not code: a second run must not mark the first's as changes.
    code = ("bench", "services", "kit", "cli", ":(exclude)bench/results")
    dirty = git("status", "--porcelain", "--", *code).strip()
    return (git("rev-parse", "HEAD").strip() or "unknown") + ("+uncommitted" if dirty else "")


async def durability(database: str) -> dict[str, str]:
    """PostgreSQL's durability settings during the run (all three "on" for durable commits)."""
    conn = await asyncpg.connect(database.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        names = ("fsync", "synchronous_commit", "full_page_writes")
        return {n: str(await conn.fetchval(f"SHOW {n}")) for n in names}
    finally:
        await conn.close()


def machine() -> dict[str, Any]:
    """The machine: cores, Python, kernel."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (a busy machine slows every figure)."""
    return [round(x, 2) for x in os.getloadavg()]


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one benchmark as one result: each number the median of the runs,
    its min and max under ``spread``; everything else as the first run had it."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    out: dict[str, Any] = {}
    spread: dict[str, list[float]] = {}
    for key, value in first.items():
        values = [r.get(key) for r in runs]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) == len(runs):
            median = statistics.median(numbers)
            out[key] = round(median, 4) if isinstance(median, float) else median
            if min(numbers) != max(numbers):
                spread[key] = [min(numbers), max(numbers)]
        else:
            out[key] = value
    out["runs"] = len(runs)
    out["spread"] = (
        {**first.get("spread", {}), **spread} if isinstance(first.get("spread"), dict) else spread
    )
    return out


def _ticks() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _ticks()


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core, all but idle and iowait)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _ticks()


class CpuMeter:
    """CPU used by named processes and by the whole machine between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._before: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        """Take the first reading."""
        self._before = {n: process_cpu_s(p) for n, p in self.pids.items()}
        self._before["machine"] = machine_busy_s()

    def stop(self) -> dict[str, float]:
        """CPU seconds used since ``start``, by process name and ``machine`` for all."""
        now = {n: process_cpu_s(p) for n, p in self.pids.items()}
        now["machine"] = machine_busy_s()
        self.used = {n: round(now[n] - self._before.get(n, 0.0), 3) for n in now}
        return self.used


class Profiles:
    """py-spy flame graphs of running processes, one SVG each, from ``start`` to ``stop``.

    Sampled without pausing the processes (``--nonblocking``), 50 times a second, idle
    time left out: what each service spends its CPU on.
    """

    def __init__(self, pids: dict[str, int], folder: str, suffix: str) -> None:
        self.pids, self.folder, self.suffix = pids, folder, suffix
        self._spies: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Attach py-spy to every process."""
        os.makedirs(self.folder, exist_ok=True)
        spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
        for name, pid in self.pids.items():
            out = os.path.join(self.folder, f"{name}-{self.suffix}.svg")
            self._spies.append(
                subprocess.Popen(
                    [spy, "record", "--pid", str(pid), "--rate", "50", "--nonblocking",
                     "--format", "flamegraph", "--output", out],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip

    def stop(self) -> None:
        """Stop sampling; each py-spy writes its SVG on the interrupt."""
        for spy in self._spies:
            spy.send_signal(signal.SIGINT)
        for spy in self._spies:
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                spy.kill()


class Statements:
    """Statements (round trips) by database role over a run, from ``pg_stat_statements``.

    Each service runs as its own role (``careflow_<service>``), so the counts are per
    service. Available where PostgreSQL preloads the module (the bench infrastructure
    does); elsewhere ``available`` is false and nothing is reported.
    """

    def __init__(self, database: str) -> None:
        self.dsn = database.replace("postgresql+asyncpg://", "postgresql://")
        self.available = False

    async def start(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.execute("SELECT pg_stat_statements_reset()")
            self.available = True
        except asyncpg.PostgresError:
            self.available = False
        finally:
            await conn.close()

    async def stop(self) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """Calls by role, and the ten statements called most (their role, calls, text)."""
        if not self.available:
            return {}, []
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch(
                "SELECT r.rolname AS role, s.calls, s.total_exec_time, s.query"
                " FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
                " WHERE r.rolname LIKE 'careflow_%'"
            )
        finally:
            await conn.close()
        by_role: dict[str, int] = {}
        for r in rows:
            by_role[r["role"]] = by_role.get(r["role"], 0) + r["calls"]
        top = sorted(rows, key=lambda r: -r["calls"])[:10]
        return by_role, [
            {
                "service": r["role"].removeprefix("careflow_"),
                "calls": r["calls"],
                "ms": round(r["total_exec_time"], 1),
                "query": " ".join(r["query"].split())[:160],
            }
            for r in top
        ]
