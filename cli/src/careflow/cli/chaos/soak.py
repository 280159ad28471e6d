"""``careflow soak``: steady load for a while; each service's memory, file descriptors and
sockets sampled from ``/proc``, and the consumers' lag. After a warm-up, memory must grow
less than 10%, descriptors and sockets must stay flat and lag bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careflow.cli.chaos import checks
from careflow.cli.chaos.load import ChaosDriver, drive
from careflow.cli.chaos.stage import Stage, git_commit, stage
from careflow.cli.loadclient import seeded_adults

#: Growth allowed after the warm-up: memory (fraction), descriptors and sockets (count).
MAX_RSS_GROWTH = 0.10
MAX_FD_GROWTH = 20
#: Unconsumed events at any sample.
MAX_LAG = 500


def sample(pid: int) -> dict[str, int]:
    """Resident memory (KiB), open file descriptors and sockets of one process."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        with contextlib.suppress(OSError):
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return {"rss_kib": rss, "fds": len(fds), "sockets": sockets}


async def _soak(
    st: Stage, minutes: float, in_flight: int, every: float, say: Callable[[str], None]
) -> dict[str, Any]:
    driver = ChaosDriver(st.platform.url)
    samples: list[dict[str, Any]] = []
    end = time.monotonic() + minutes * 60
    try:
        patients = await driver.usable(seeded_adults(), max(in_flight * 2, 8))
        t0 = time.monotonic()

        async def sampler() -> None:
            while True:
                row: dict[str, Any] = {"t_s": round(time.monotonic() - t0, 1)}
                for name, proc in st.platform.processes.items():
                    row[name] = sample(proc.pid)
                row["lag"] = sum(
                    (await checks.lag(st.infra.bootstrap_servers, 0)).figures["lag"].values()
                )
                row["cases_done"] = sum(c.step == "done" for c in driver.load.cases)
                samples.append(row)
                rss = {s: row[s]["rss_kib"] // 1024 for s in st.platform.processes}
                say(
                    f"  {row['t_s']:6.0f}s cases {row['cases_done']:5} lag {row['lag']:4} "
                    f"RSS MiB {rss}"
                )
                await asyncio.sleep(every)

        task = asyncio.create_task(sampler())
        await drive(driver, patients, 0, in_flight, lambda: time.monotonic() < end)
        task.cancel()
    finally:
        await driver.aclose()
    return figures(samples, list(st.platform.processes), driver)


def figures(samples: list[dict[str, Any]], services: list[str], driver: Any) -> dict[str, Any]:
    """Growth per service from the end of the warm-up (the first third) to the end; each
    end is the median of three samples, so one garbage collection does not decide."""
    warm = max(1, len(samples) // 3)
    first, last = samples[warm : warm + 3], samples[-3:]
    per: dict[str, Any] = {}
    bad: list[str] = []
    for s in services:

        def med(rows: list[dict[str, Any]], key: str, s: str = s) -> float:
            return statistics.median(r[s][key] for r in rows)

        rss0, rss1 = med(first, "rss_kib"), med(last, "rss_kib")
        growth = (rss1 - rss0) / rss0
        fds = med(last, "fds") - med(first, "fds")
        socks = med(last, "sockets") - med(first, "sockets")
        per[s] = {
            "rss_mib_after_warmup": round(rss0 / 1024, 1),
            "rss_mib_end": round(rss1 / 1024, 1),
            "rss_growth_pct": round(100 * growth, 1),
            "fd_growth": fds,
            "socket_growth": socks,
        }
        if growth >= MAX_RSS_GROWTH:
            bad.append(f"{s}: memory grew {100 * growth:.1f}% after the warm-up")
        if fds > MAX_FD_GROWTH or socks > MAX_FD_GROWTH:
            bad.append(f"{s}: file descriptors +{fds}, sockets +{socks}")
    max_lag = max(r["lag"] for r in samples)
    if max_lag > MAX_LAG:
        bad.append(f"lag reached {max_lag}")
    cases = driver.load.cases
    return {
        "services": per,
        "max_lag": max_lag,
        "samples": len(samples),
        "cases_done": sum(c.step == "done" for c in cases),
        "cases_failed": sum(c.error is not None for c in cases),
        "violations": bad,
        "holds": not bad and not any(c.error for c in cases),
    }


def run(
    minutes: float, in_flight: int, out: Path | None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """One soak run; the figures (also written to ``out`` when given)."""
    started = datetime.now(UTC)
    every = max(5.0, minutes * 60 / 60)
    with stage("soak", say) as st:
        result = asyncio.run(_soak(st, minutes, in_flight, every, say))
    report = {
        "name": "soak",
        "minutes": minutes,
        "in_flight": in_flight,
        "measured_at": started.isoformat(),
        "git_commit": git_commit(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **result,
    }
    say("")
    for s, f in report["services"].items():
        say(
            f"{s:9} RSS {f['rss_mib_after_warmup']} -> {f['rss_mib_end']} MiB "
            f"({f['rss_growth_pct']:+}%), fds {f['fd_growth']:+}, sockets {f['socket_growth']:+}"
        )
    say(
        f"lag at most {report['max_lag']}; {report['cases_done']} cases done, "
        f"{report['cases_failed']} failed"
    )
    for v in report["violations"]:
        say(f"BROKEN {v}")
    say("steady: every figure within bounds" if report["holds"] else "NOT STEADY")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        say(f"written to {out}")
    return report
