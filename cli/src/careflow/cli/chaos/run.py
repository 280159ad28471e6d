"""``careflow chaos``: whole cases under load while the fault injector breaks things, then
the invariants; a report printed and, when asked, written as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import platform as host
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careflow.cli.chaos import checks
from careflow.cli.chaos.faults import Injector, plan
from careflow.cli.chaos.load import ChaosDriver, drive
from careflow.cli.chaos.stage import ABANDON_SECONDS, Stage, git_commit, stage
from careflow.cli.loadclient import seeded_adults


async def _run(
    st: Stage, cases: int, faults: int, seed: int, in_flight: int, say: Callable[[str], None]
) -> dict[str, Any]:
    from careflow.journal.checkpoints import signing_key
    from careflow.journal.domain import public_key_hex
    from careflow.journal.settings import DEV_SIGNING_KEY

    url = st.platform.url
    driver = ChaosDriver(url)
    try:
        patients = await driver.usable(seeded_adults(), max(in_flight * 2, 8))
        injector = Injector(plan(seed, faults), st.infra, st.platform, st.gateway, st.mailbox, say)
        say(f"driving {cases} cases ({in_flight} in flight) through {faults} faults, seed {seed}")
        t0 = time.monotonic()
        thread = injector.start()
        progress = asyncio.create_task(_progress(driver, say))
        await drive(driver, patients, cases, in_flight, lambda: not injector.done.is_set())
        progress.cancel()
        await asyncio.to_thread(thread.join)
        load_s = time.monotonic() - t0
        say(f"load done after {load_s:.0f}s; checking the invariants ...")
        kafka, database = st.infra.bootstrap_servers, st.infra.database_url()
        nurses = {r: {"Authorization": f"Bearer {t}"} for r, t in driver.nurse_tokens.items()}
        # Lag first: the later checks read what the consumers finished.
        lag = await checks.lag(kafka)
        results = [
            await checks.defined_ends(url, nurses, driver.load.cases, database, ABANDON_SECONDS),
            await checks.journal(
                kafka,
                database,
                st.checkpoints / "journal",
                public_key_hex(signing_key(DEV_SIGNING_KEY)),
            ),
            await checks.notifications(database, st.gateway, st.mailbox),
            *await checks.topics(kafka),
            lag,
            checks.recovery(injector.applied),
        ]
    finally:
        await driver.aclose()
    load = driver.load
    return {
        "name": "chaos",
        "seed": seed,
        "cases_asked": cases,
        "faults_asked": faults,
        "in_flight": in_flight,
        "cases_opened": len(load.cases),
        "cases_done_by_load": sum(c.step == "done" for c in load.cases),
        "cases_failed_by_load": [f"{c.case_id}: {c.error}" for c in load.cases if c.error][:20],
        "failed_before_open": load.failed_before_open[:20],
        "uncertain_opens": load.uncertain_opens,
        "step_retries": load.step_retries,
        "restarts_by_supervisor": {s: st.supervisor.restarts(s) for s in st.platform.processes},
        "load_seconds": round(load_s, 1),
        "case_seconds_p50": _pct([c.seconds for c in load.cases], 0.5),
        "case_seconds_max": _pct([c.seconds for c in load.cases], 1.0),
        "faults": [a.as_dict() for a in injector.applied],
        "checks": [c.as_dict() for c in results],
        "all_hold": all(c.holds for c in results),
    }


async def _progress(driver: ChaosDriver, say: Callable[[str], None]) -> None:
    while True:
        await asyncio.sleep(30)
        cases = driver.load.cases
        say(
            f"  {len(cases)} cases opened, {sum(c.step == 'done' for c in cases)} done, "
            f"{sum(c.error is not None for c in cases)} failed, "
            f"{driver.load.step_retries} steps sent again"
        )


def _pct(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def run(
    cases: int,
    faults: int,
    seed: int,
    in_flight: int,
    out: Path | None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One chaos run; the report (also written to ``out`` when given)."""
    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    with stage("chaos", say) as st:
        report = asyncio.run(_run(st, cases, faults, seed, in_flight, say))
    report |= {
        "measured_at": started.isoformat(),
        "git_commit": git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": host.python_version()},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print_report(report, say)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        say(f"written to {out}")
    return report


def print_report(report: dict[str, Any], say: Callable[[str], None]) -> None:
    say("")
    say(
        f"chaos run, seed {report['seed']}: {report['cases_opened']} cases opened "
        f"({report['cases_done_by_load']} done by the load generator), "
        f"{len(report['faults'])} faults, {report['load_seconds']}s of load"
    )
    for f in report["faults"]:
        target = f" {f['target']}" if f["target"] else ""
        say(f"  {f['started_s']:7.1f}s {f['kind']}{target}: recovered in {f['recovery_s']}s")
    for c in report["checks"]:
        figures = {k: v for k, v in c.items() if k not in ("name", "holds", "violations")}
        say(f"{'HOLDS ' if c['holds'] else 'BROKEN'} {c['name']}: {figures}")
        for v in c["violations"][:10]:
            say(f"         {v}")
    say("every invariant holds" if report["all_hold"] else "SOME INVARIANT DOES NOT HOLD")
