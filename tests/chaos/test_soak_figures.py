"""How ``careflow soak`` judges its samples (issue 16): growth after the warm-up."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

from careflow.cli.chaos.load import CaseRecord
from careflow.cli.chaos.soak import figures, sample


def _samples(rss: list[int], fds: list[int], lag: int = 0) -> list[dict[str, Any]]:
    return [
        {"t_s": i * 10.0, "notify": {"rss_kib": r, "fds": f, "sockets": f // 2}, "lag": lag}
        for i, (r, f) in enumerate(zip(rss, fds, strict=True))
    ]


def _driver(failed: bool = False) -> Any:
    case = CaseRecord("c", "p", "r", "+46700000000", "e@example.org", step="done")
    case.error = "chat: TimeoutError" if failed else None
    return SimpleNamespace(load=SimpleNamespace(cases=[case]))


@pytest.mark.chaos
@pytest.mark.unit
def test_memory_that_settles_after_the_warm_up_holds() -> None:
    # Warm-up growth (the first third) does not count; afterwards within 10%.
    rss = [50_000, 80_000, 95_000, 100_000, 101_000, 100_500, 103_000, 104_000, 105_000]
    result = figures(_samples(rss, [40] * 9), ["notify"], _driver())
    assert result["holds"], result["violations"]
    assert result["services"]["notify"]["rss_growth_pct"] < 10


@pytest.mark.chaos
@pytest.mark.unit
def test_memory_growing_after_the_warm_up_is_a_leak() -> None:
    rss = [100_000 + 5_000 * i for i in range(9)]
    result = figures(_samples(rss, [40] * 9), ["notify"], _driver())
    assert not result["holds"]
    assert result["violations"] == ["notify: memory grew 12.5% after the warm-up"]


@pytest.mark.chaos
@pytest.mark.unit
def test_descriptors_lag_and_failed_cases_are_judged_too() -> None:
    fds = [40, 40, 40, 40, 60, 80, 100, 120, 140]
    result = figures(_samples([100_000] * 9, fds, lag=900), ["notify"], _driver(failed=True))
    assert not result["holds"]
    assert any("file descriptors" in v for v in result["violations"])
    assert "lag reached 900" in result["violations"]
    assert result["cases_failed"] == 1


@pytest.mark.chaos
@pytest.mark.integration
def test_a_process_is_sampled_from_proc() -> None:
    mine = sample(os.getpid())
    assert mine["rss_kib"] > 1000 and mine["fds"] >= 3 and 0 <= mine["sockets"] <= mine["fds"]
