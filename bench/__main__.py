"""Run every benchmark and write ``bench/results/latest.json``.

Every module in ``bench/`` with an ``async def run(bootstrap, database_url)``
returning a list of result objects is a benchmark; ``python -m bench NAME``
runs only the named modules and replaces only their results in the file. Uses
``KAFKA_BOOTSTRAP_SERVERS`` and
``DATABASE_URL`` when both are set; otherwise starts its own local Kafka and
PostgreSQL (the ``bench`` profile).

Each module runs ``BENCH_REPEATS`` times (default 3) unless it repeats itself
(``REPEATS_ITSELF = True``): every figure is the median of the runs, with min and max
under ``spread``. Every result records its ``context``: the commit, the machine and its
load, whether the benchmark started its own infrastructure, PostgreSQL's durability.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pkgutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _context, goals

RESULTS = Path(__file__).with_name("results")


def _modules(only: list[str]) -> list[Any]:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]))
    modules = [importlib.import_module(f"bench.{n}") for n in names if not n.startswith("_")]
    chosen = [m for m in modules if hasattr(m, "run")]
    if only:
        chosen = [m for m in chosen if m.__name__.split(".")[-1] in only]
    return chosen


def main() -> None:
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    local = None
    if not (kafka and database):
        from careflow.cli.infra import Infra

        local = Infra.profile("bench")
        local.destroy()
        local.up()
        kafka, database = local.bootstrap_servers, local.database_url()
    benchmarks: list[dict[str, Any]] = []
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    failed: list[str] = []
    try:
        durability = asyncio.run(_context.durability(database))
        for module in _modules(sys.argv[1:]):
            times = 1 if getattr(module, "REPEATS_ITSELF", False) else repeats
            print(f"running {module.__name__} ({times}x) ...", flush=True)
            measured_at = datetime.now(UTC).isoformat()
            context = {
                "git_commit": _context.commit(),
                "machine": _context.machine(),
                "load_average_before": _context.load_average(),
                "infrastructure_started_by_bench": local is not None,
                "postgres_durability": durability,
            }
            runs: dict[str, list[dict[str, Any]]] = {}
            try:
                for _ in range(times):
                    for result in asyncio.run(module.run(kafka, database)):
                        runs.setdefault(result["name"], []).append(result)
            except Exception as exc:
                # One broken benchmark must not cost the others' figures: say so and go on.
                print(f"{module.__name__} failed: {type(exc).__name__}: {exc}", flush=True)
                failed.append(module.__name__)
                continue
            context["load_average_after"] = _context.load_average()
            for same in runs.values():
                benchmarks.append(
                    {**_context.combine(same), "measured_at": measured_at, "context": context}
                )
    finally:
        if local is not None:
            local.destroy()
    report = {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": _context.machine(),
        # A failed module's earlier figures stay, each with the time it was measured.
        "benchmarks": _keep_earlier(benchmarks) if sys.argv[1:] or failed else benchmarks,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    goals.update_readme(report)
    print()
    for b in benchmarks:
        figures = "  ".join(
            f"{k}={v}" for k, v in b.items() if k not in ("name", "context", "spread")
        )
        print(f"{b['name']:32} {figures}")
    print(f"\nwritten to {RESULTS / 'latest.json'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


def _keep_earlier(fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A partial run (``python -m bench NAME``) replaces only its own results in the file;
    the others stay, each with the time it was measured."""
    path = RESULTS / "latest.json"
    earlier = json.loads(path.read_text())["benchmarks"] if path.exists() else []
    names = {b["name"] for b in fresh}
    return [b for b in earlier if b["name"] not in names] + fresh


if __name__ == "__main__":
    main()
