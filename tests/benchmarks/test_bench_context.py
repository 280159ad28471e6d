"""How benchmark runs become one honest result: medians with their spread."""

from __future__ import annotations

import pytest

from bench._context import combine

pytestmark = [pytest.mark.performance, pytest.mark.unit]


def test_each_number_is_the_median_of_the_runs_with_min_and_max() -> None:
    runs = [
        {"name": "x", "p99_ms": 30.0, "claims": 100, "ok": True, "mode": "drain"},
        {"name": "x", "p99_ms": 10.0, "claims": 100, "ok": True, "mode": "drain"},
        {"name": "x", "p99_ms": 20.0, "claims": 100, "ok": False, "mode": "drain"},
    ]
    out = combine(runs)
    assert out["p99_ms"] == 20.0
    assert out["spread"] == {"p99_ms": [10.0, 30.0]}
    assert out["claims"] == 100 and "claims" not in out["spread"]
    assert out["runs"] == 3
    assert out["mode"] == "drain"
    assert out["ok"] is True  # not a figure: as the first run had it


def test_one_run_is_left_as_it_is() -> None:
    run = {"name": "x", "p99_ms": 3.0}
    assert combine([run]) == run


def test_a_figure_missing_from_a_run_is_not_averaged_over_the_others() -> None:
    out = combine([{"name": "x", "a": 1.0}, {"name": "x"}])
    assert out["a"] == 1.0 and "a" not in out["spread"]
