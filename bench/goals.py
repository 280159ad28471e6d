"""The performance goals beside the latest measured figures, as a table for the README.

``python -m bench.goals`` rewrites the README's table from ``bench/results/latest.json``;
``make bench`` does it after every run. A figure not measured yet says so.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench-goals:start -->", "<!-- bench-goals:end -->"


@dataclass(frozen=True)
class Goal:
    """One figure: where it is in the results, and what it should be."""

    label: str
    benchmark: str
    key: str
    better: str  # ">=" or "<"
    target: float
    unit: str = ""

    def met(self, value: float) -> bool:
        compare: Callable[[float, float], bool] = (
            operator.ge if self.better == ">=" else operator.lt
        )
        return compare(value, self.target)


STEADY = "full_path_steady_2_per_s"
GOALS = (
    Goal("whole cases completed per second, saturated (20 in flight)", "full_path_saturated_20",
         "cases_per_s", ">=", 20, "/s"),
    Goal("triage answer round trip p99, 2 cases/s offered", STEADY, "triage_answer_p99_ms",
         "<", 20, " ms"),
    Goal("claim -> patient sees \"your turn\" p99, 2 cases/s", STEADY,
         "claim_to_your_turn_p99_ms", "<", 300, " ms"),
    Goal("chat message -> other party p99, 2 cases/s", STEADY, "chat_message_p99_ms", "<", 50,
         " ms"),
    Goal("close -> journal entry readable p99, 2 cases/s", STEADY, "close_to_journal_p99_ms",
         "<", 300, " ms"),
    Goal("kit event path, ratio to bare baseline", "event_path_saturated", "ratio_to_baseline",
         ">=", 0.8),
    Goal("journal projector, ratio to bare baseline", "journal_projector_batched",
         "ratio_to_baseline", ">=", 0.7),
    Goal("notify deliveries, ratio to plain HTTP posts", "notify_send_sms_service",
         "ratio_to_baseline", ">=", 0.8),
    Goal("`journal verify`, 1M entries", "journal_verify", "projected_1m_entries_s", "<", 10,
         " s"),
    Goal("queue claim p99, 50 claimers draining 10,000", "queue_claims_drain_service", "p99_ms",
         "<", 50, " ms"),
    Goal("chat WebSocket delivery p99, ratio to bare relay", "chat_ws_delivery",
         "ratio_to_baseline_p99", "<", 3),
    Goal("staff worklist page render p99, 10,000 waiting", "web_worklist_page", "p99_ms", "<",
         50, " ms"),
)  # fmt: skip


def _value(result: dict[str, Any], key: str) -> tuple[float, list[float] | None]:
    """A figure and its [min, max] across runs, whichever way the benchmark reported it."""
    value = result[key]
    if isinstance(value, dict):  # {"median", "min", "max"}
        return float(value["median"]), [float(value["min"]), float(value["max"])]
    spread = result.get("spread", {}).get(key)
    return float(value), spread


def table(report: dict[str, Any]) -> str:
    """The goals as a Markdown table with today's figure, its spread and when it was measured."""
    by_name = {b["name"]: b for b in report.get("benchmarks", [])}
    lines = [
        "| figure | measured (median, [min, max]) | goal | met | measured at |",
        "|---|---|---|---|---|",
    ]
    for g in GOALS:
        result = by_name.get(g.benchmark)
        goal = f"{g.better} {g.target:g}{g.unit}"
        if result is None or g.key not in result:
            lines.append(f"| {g.label} | not measured yet | {goal} | | |")
            continue
        value, spread = _value(result, g.key)
        figure = f"{value:g}{g.unit}" + (f" [{spread[0]:g}, {spread[1]:g}]" if spread else "")
        load = result.get("context", {}).get("load_average_before") or result.get(
            "load_average_before"
        )
        when = str(result.get("measured_at", ""))[:10] + (f", load {load[0]:g}" if load else "")
        lines.append(
            f"| {g.label} | {figure} | {goal} | {'yes' if g.met(value) else 'no'} | {when} |"
        )
    return "\n".join(lines)


def update_readme(report: dict[str, Any], readme: Path = ROOT / "README.md") -> None:
    """Replace the table between the README's markers."""
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{table(report)}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    update_readme(json.loads((ROOT / "bench" / "results" / "latest.json").read_text()))
