"""The README's performance table: each goal beside its latest figure, never invented."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.goals import END, GOALS, START, table, update_readme

pytestmark = [pytest.mark.performance, pytest.mark.unit]


def test_a_measured_figure_is_shown_with_its_spread_and_whether_it_meets_its_goal() -> None:
    report = {
        "benchmarks": [
            {"name": "journal_verify", "projected_1m_entries_s": 8.5,
             "spread": {"projected_1m_entries_s": [8.1, 9.9]}, "measured_at": "2026-11-26T20:00"},
            {"name": "event_path_saturated",
             "ratio_to_baseline": {"median": 0.7, "min": 0.6, "max": 0.75}},
        ]
    }  # fmt: skip
    rows = table(report).splitlines()
    verify = next(r for r in rows if "journal verify" in r)
    assert "8.5 s [8.1, 9.9]" in verify and "| yes |" in verify and "2026-11-26" in verify
    kit = next(r for r in rows if "kit event path" in r)
    assert "0.7 [0.6, 0.75]" in kit and "| no |" in kit
    assert sum("not measured yet" in r for r in rows) == len(GOALS) - 2


def test_the_readme_keeps_everything_outside_its_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{START}\nold table\n{END}\nafter\n", encoding="utf-8")
    update_readme({"benchmarks": []}, readme)
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("\nafter\n")
    assert "old table" not in text and "not measured yet" in text
