"""The whole case as clients would drive it: every service's HTTP API and chat's WebSocket.

All six services run as real processes (``careflow.cli.platform``, the ``test``
environment: the test e-ID app, durable commits). One case: the patient logs in with
e-ID (order, the test app's approval, collect), opens a fever case and answers triage,
waits until queue has placed it; a nurse takes the next case (``POST /queue/claims``),
the patient sees "your turn" (notify's in-app notification), both open chat's
WebSocket, three messages go back and forth, the nurse closes the case and the journal
entries become readable.

"Your turn" has no push a client could listen to: chat's socket refuses to open before
the turn (4409) and notify offers in-app notifications only as a list. So the patient
polls notify every ``--poll-ms``, as the demo does; the queue placement and the journal
are polled the same way. Polled figures carry up to one interval of delay.

Claims take the next case of the nurse's region, not one chosen, so with several cases
in flight a nurse may get another driver's case: each claim is handed to the driver of
the case it names, and a driver keeps claiming until its own case has been claimed.
Patients are the seeded register's adults (their region decides the queue); the logins
come from distinct client addresses through a trusted proxy's ``X-Forwarded-For``, as
behind the Ingress, so identity's per-client limit on e-ID orders does not apply to all.

Modes: saturated (``--in-flight`` cases at all times, ``--cases`` in all) and a steady
offered rate (``--rate`` new cases a second, open loop, for ``--duration`` seconds).
Baseline, same run: ``GET /healthz`` on triage (the same stack without auth or
storage), as many concurrent loops as cases in flight. Each figure is the median of
``--repeats`` runs, with min and max in ``spread``.

``python -m bench full_path`` runs it in the suite; ``python -m bench.full_path --help``
alone, against ``KAFKA_BOOTSTRAP_SERVERS``/``DATABASE_URL`` or a local infrastructure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from bench import _context
from careflow.cli.flow import DEMO_FEVER_ANSWERS
from careflow.cli.loadclient import LoadClient, receive, seeded_adults
from careflow.cli.platform import SERVICES, Platform

SLOT = int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
BASE_PORT = 36001 + 20 * SLOT
STEPS: tuple[str, ...] = ("login", "triage_answer", "queued", "claim", "claim_to_your_turn")
STEPS += ("claim_to_chat_open", "chat_message", "close", "close_to_journal", "case")


@dataclass
class Run:
    """Latencies (ms) of one mode's run, by step, and how many cases finished."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    completed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: CPU seconds used during the run, by service and ``machine`` (everything, the driver too).
    cpu_s: dict[str, float] = field(default_factory=dict)
    #: Statements sent to PostgreSQL during the run, by service, and the most frequent ones.
    statements: dict[str, int] = field(default_factory=dict)
    top_statements: list[dict[str, Any]] = field(default_factory=list)


class Driver(LoadClient):
    """Drives cases through the running platform and routes claims to their drivers."""

    def __init__(self, platform: Platform, patients: list[dict[str, Any]], poll_s: float):
        super().__init__(platform.url, poll_s)
        self.platform = platform
        self.patients: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for p in patients:
            self.patients.put_nowait(p)
        self.claims: dict[str, asyncio.Future[tuple[float, str]]] = {}
        self.nurses: dict[str, list[str]] = {}

    async def nurse(self, region: str) -> str:
        """A nurse's token for ``region`` (staff log in once a shift, not per case)."""
        pool = self.nurses.setdefault(region, [])
        if pool:
            return pool.pop()
        return await self.staff_token(region)

    async def case(self, run: Run) -> None:
        patient = await self.patients.get()
        try:
            await self._case(run, patient)
            run.completed += 1
        except Exception as exc:  # one failed case is a figure, not the end of the run
            run.failed += 1
            run.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        finally:
            self.patients.put_nowait(patient)

    async def _case(self, run: Run, patient: dict[str, Any]) -> None:
        s = run.samples
        started = time.perf_counter()
        region = patient["region"]
        async with self.browser() as browser:
            t = time.perf_counter()
            token = await self.login(browser, patient["pin"])
            if token is None:
                raise RuntimeError("login refused")
            s["login"].append(_ms(t))
            auth = {"Authorization": f"Bearer {token}"}
            opened = await browser.post(
                self.url("triage", "/cases"),
                json={"questionnaire_id": "fever", "language": "sv"},
                headers=auth,
            )
            opened.raise_for_status()
            step, case_id = opened.json()["step"], opened.json()["case_id"]
            while step["status"] == "in_progress":
                question = step["question"]["id"]
                t = time.perf_counter()
                r = await self.http.post(
                    self.url("triage", f"/cases/{case_id}/triage/answers"),
                    json={"question_id": question, "value": DEMO_FEVER_ANSWERS[question]},
                    headers=auth,
                )
                s["triage_answer"].append(_ms(t))
                r.raise_for_status()
                step = r.json()
            mine: asyncio.Future[tuple[float, str]] = asyncio.get_running_loop().create_future()
            self.claims[case_id] = mine
            t = time.perf_counter()

            async def queued() -> bool:
                r = await self.http.get(self.url("queue", f"/cases/{case_id}"), headers=auth)
                return r.status_code == 200 and r.json()["status"] == "waiting"

            await self.poll("the case to be queued", queued, 60)
            s["queued"].append(_ms(t))
            nurse = await self.nurse(region)
            deadline = time.monotonic() + 120
            while not mine.done():
                if time.monotonic() > deadline:
                    raise TimeoutError("nobody claimed the case")
                t = time.perf_counter()
                r = await self.http.post(
                    self.url("queue", "/claims"),
                    json={"skills": ["nurse"]},
                    headers={"Authorization": f"Bearer {nurse}"},
                )
                if r.status_code == 204:
                    await asyncio.sleep(self.poll_s)
                    continue
                r.raise_for_status()
                claimed_at = time.perf_counter()
                s["claim"].append((claimed_at - t) * 1000)
                owner = self.claims.pop(r.json()["case_id"], None)
                if owner is not None and not owner.done():
                    owner.set_result((claimed_at, nurse))
                    nurse = await self.nurse(region)
            claimed_at, claimer = await mine
            self.nurses[region].append(nurse)

            async def your_turn() -> bool:
                r = await self.http.get(
                    self.url("notify", f"/cases/{case_id}/notifications"), headers=auth
                )
                return r.status_code == 200 and any(n["kind"] == "your_turn" for n in r.json())

            await self.poll('"your turn"', your_turn, 60)
            s["claim_to_your_turn"].append(_ms(claimed_at))
            p_ws = await self.open_socket(case_id, token)
            n_ws = await self.open_socket(case_id, claimer)
            s["claim_to_chat_open"].append(_ms(claimed_at))
            try:
                for i, (frm, to) in enumerate(((n_ws, p_ws), (p_ws, n_ws), (n_ws, p_ws))):
                    text = f"meddelande {i} i {case_id}"
                    t = time.perf_counter()
                    key = f"{case_id}-{i}"
                    await frm.send(
                        json.dumps({"type": "send", "text": text, "idempotency_key": key})
                    )
                    await receive(to, text)
                    s["chat_message"].append(_ms(t))
            finally:
                await asyncio.gather(p_ws.close(), n_ws.close(), return_exceptions=True)
            t = time.perf_counter()
            closed = await self.http.post(
                self.url("chat", f"/cases/{case_id}/close"),
                json={
                    "outcome": "self_care_advice",
                    "advice": "Vila, drick mycket. Ring 1177 om du blir sämre.",
                    "documentation_note": "Feber 4 dagar utan andningsbesvär. Egenvårdsråd.",
                },
                headers={"Authorization": f"Bearer {claimer}"},
            )
            closed.raise_for_status()
            closed_at = time.perf_counter()
            s["close"].append(_ms(t))

            async def journal() -> bool:
                r = await self.http.get(
                    self.url("journal", f"/cases/{case_id}/entries"),
                    headers={"Authorization": f"Bearer {claimer}"},
                )
                # triage, the contact, three messages, the note
                return r.status_code == 200 and len(r.json()) >= 6

            await self.poll("the journal entries", journal, 60)
            s["close_to_journal"].append(_ms(closed_at))
            self.nurses[region].append(claimer)
        s["case"].append(_ms(started))


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def saturated(driver: Driver, in_flight: int, cases: int) -> Run:
    run = Run()
    left = cases

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await driver.case(run)

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    run.seconds = time.perf_counter() - t
    return run


async def steady(driver: Driver, rate: float, duration: float) -> Run:
    """Open loop: a new case every ``1/rate`` seconds whatever the earlier ones are doing."""
    run = Run()
    tasks: list[asyncio.Task[None]] = []
    t = time.perf_counter()
    n = 0
    while (due := t + n / rate) < t + duration:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(driver.case(run)))
        n += 1
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - t
    return run


async def baseline(driver: Driver, concurrency: int, seconds: float = 3.0) -> Run:
    """A bare round trip to the same stack: triage's ``/healthz``, no auth, no storage."""
    run = Run()
    end = time.perf_counter() + seconds
    url = f"{driver.platform.url('triage')}/healthz"

    async def loop() -> None:
        while time.perf_counter() < end:
            t = time.perf_counter()
            (await driver.http.get(url)).raise_for_status()
            run.samples["case"].append(_ms(t))
            run.completed += 1

    t = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - t
    return run


def _progress(what: str, run: Run) -> None:
    print(
        f"  {what}: {run.completed} cases in {run.seconds:.0f} s, {run.failed} failed", flush=True
    )


def _figures(run: Run, steps: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {"cases_per_s": round(run.completed / run.seconds, 2)}
    for who, seconds in sorted(run.cpu_s.items()):
        out[f"cpu_ms_per_case_{who}"] = round(1000 * seconds / max(1, run.completed), 1)
    for role, calls in sorted(run.statements.items()):
        service = role.removeprefix("careflow_")
        out[f"statements_per_case_{service}"] = round(calls / max(1, run.completed), 1)
    for step in steps:
        v = run.samples[step]
        for q in (0.5, 0.9, 0.99):
            out[f"{step}_p{int(q * 100)}_ms"] = round(_pct(v, q), 1)
        out[f"{step}_max_ms"] = round(max(v), 1) if v else float("nan")
    return out


def _merge(name: str, runs: list[Run], steps: tuple[str, ...], **info: Any) -> dict[str, Any]:
    """Median of the runs' figures, each with its [min, max] across runs."""
    each = [_figures(r, steps) for r in runs]
    keys = list(each[0])
    return {
        "name": name,
        **info,
        "repeats": len(runs),
        "completed_cases": sum(r.completed for r in runs),
        "failed_cases": sum(r.failed for r in runs),
        **{k: round(statistics.median(e[k] for e in each), 2) for k in keys},
        "spread": {k: [min(e[k] for e in each), max(e[k] for e in each)] for k in keys},
        "errors": sorted({e for r in runs for e in r.errors})[:5],
    }


async def measure(bootstrap: str, database: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    ports = {s: BASE_PORT + i for i, s in enumerate(SERVICES)}
    env = {
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_LOG_LEVEL": "WARNING",
        "CAREFLOW_TRUSTED_PROXIES": '["127.0.0.1/32"]',
    }
    logs = tempfile.mkdtemp(prefix="bench-full-path-")
    platform = Platform(ports)
    await asyncio.to_thread(platform.start, bootstrap, database, env, logs)
    own = not (os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"))
    info: dict[str, Any] = {
        "services_started_by_bench": True,
        "infrastructure_started_by_bench": own,
        "poll_interval_ms": args.poll_ms,
        "your_turn_seen_by": "polling notify's in-app notifications (no push offered)",
        "load_average_before": _context.load_average(),
        "git_commit": _context.commit(),
        "postgres_durability": await _context.durability(database),
    }
    results: list[dict[str, Any]] = []
    driver = Driver(platform, [], args.poll_ms / 1000)
    try:
        patients = await driver.usable(seeded_adults())
        for p in patients:
            driver.patients.put_nowait(p)
        await saturated(driver, 2, 4)  # warm-up: connections, caches, consumers joined
        concurrencies = [int(n) for n in args.in_flight.split(",")]
        base: dict[int, list[Run]] = {n: [] for n in concurrencies}
        sat: dict[int, list[Run]] = {n: [] for n in concurrencies}
        rate: list[Run] = []
        for i in range(args.repeats):
            for n in concurrencies:
                base[n].append(await baseline(driver, n))
                pids = {s: p.pid for s, p in platform.processes.items()}
                meter = _context.CpuMeter(pids)
                spies = (
                    _context.Profiles(pids, args.profile, "full-path")
                    if args.profile and i == 0 and n == max(concurrencies)
                    else None
                )
                if spies:
                    spies.start()
                counter = _context.Statements(database)
                await counter.start()
                meter.start()
                sat[n].append(await saturated(driver, n, max(args.cases, 2 * n)))
                sat[n][-1].cpu_s = meter.stop()
                sat[n][-1].statements, sat[n][-1].top_statements = await counter.stop()
                if spies:
                    spies.stop()
                _progress(f"run {i + 1}: {n} in flight", sat[n][-1])
            rate.append(await steady(driver, args.rate, args.duration))
            _progress(f"run {i + 1}: {args.rate:g} cases/s offered", rate[-1])
        info["patients"] = len(patients)
        info["load_average_after"] = _context.load_average()
        for n in concurrencies:
            results.append(
                _merge(f"full_path_baseline_healthz_{n}", base[n], ("case",), concurrency=n)
            )
            merged = _merge(f"full_path_saturated_{n}", sat[n], STEPS, in_flight=n, **info)
            if sat[n][0].top_statements:
                merged["most_frequent_statements_first_run"] = sat[n][0].top_statements
            b = _merge("", base[n], ("case",))
            merged["ratio_triage_answer_p50_to_baseline_p50"] = round(
                merged["triage_answer_p50_ms"] / b["case_p50_ms"], 1
            )
            results.append(merged)
        results.append(
            _merge(
                f"full_path_steady_{args.rate:g}_per_s",
                rate,
                STEPS,
                offered_cases_per_s=args.rate,
                duration_s=args.duration,
                **info,
            )
        )
    finally:
        await driver.http.aclose()
        await asyncio.to_thread(platform.stop)
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.full_path", description=__doc__)
    p.add_argument("--in-flight", default="5,20", help="saturated modes, comma separated")
    p.add_argument("--cases", type=int, default=30, help="cases per saturated run")
    p.add_argument("--rate", type=float, default=2.0, help="offered cases/s (steady mode)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of steady offer")
    p.add_argument("--repeats", type=int, default=3, help="runs of each mode (median, spread)")
    p.add_argument("--poll-ms", type=float, default=50.0, help="interval of polled waits")
    p.add_argument(
        "--profile",
        default="",
        help="folder for py-spy flame graphs of each service (first saturated run, most in flight)",
    )
    return p


#: Runs its own rounds and reports their median and spread.
REPEATS_ITSELF = True


async def run(bootstrap: str, database: str) -> list[dict[str, Any]]:
    """The suite's entry (``python -m bench``): the defaults, or ``FULL_PATH_ARGS``."""
    args = parser().parse_args(os.environ.get("FULL_PATH_ARGS", "").split())
    return await measure(bootstrap, database, args)


if __name__ == "__main__":
    # Alone: flags here, then the suite's runner writes the results (partial run).
    os.environ["FULL_PATH_ARGS"] = " ".join(sys.argv[1:])
    parser().parse_args(sys.argv[1:])
    sys.argv[1:] = ["full_path"]
    from bench.__main__ import main

    with contextlib.suppress(KeyboardInterrupt):
        main()
