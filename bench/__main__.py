"""Run every benchmark and write ``bench/results/latest.json``.

Uses ``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` when both are set;
otherwise starts its own local Kafka and PostgreSQL (the ``bench`` profile).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from bench import event_path

RESULTS = Path(__file__).with_name("results")


def main() -> None:
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    local = None
    if not (kafka and database):
        from careflow.cli.infra import Infra

        local = Infra.profile("bench")
        local.destroy()
        local.up()
        kafka, database = local.bootstrap_servers, local.database_url()
    try:
        benchmarks = asyncio.run(event_path.run(kafka, database))
    finally:
        if local is not None:
            local.destroy()
    report = {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "benchmarks": benchmarks,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    keys = [
        "events_per_s",
        "p50_lag_ms",
        "p99_lag_ms",
        "baseline_events_per_s",
        "ratio_to_baseline",
    ]
    print(f"{'benchmark':28}" + "".join(f"{k:>24}" for k in keys))
    for b in benchmarks:
        print(f"{b['name']:28}" + "".join(f"{b.get(k)!s:>24}" for k in keys))
    print(f"written to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
