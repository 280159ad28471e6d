"""The worklist benchmark's own logic: the CSRF token it logs in with, and its percentiles."""

from __future__ import annotations

import pytest

from bench.web_worklist import csrf_of, figures, pct

pytestmark = [pytest.mark.performance, pytest.mark.unit]


def test_the_login_finds_the_pages_csrf_token_or_says_there_is_none() -> None:
    page = '<form><input type="hidden" name="csrf" value="abc-123_x"></form>'
    assert csrf_of(page) == "abc-123_x"
    with pytest.raises(RuntimeError):
        csrf_of("<form></form>")


def test_percentiles_are_nearest_rank_and_never_beyond_the_slowest() -> None:
    times = [float(ms) for ms in range(1, 101)]  # 1..100 ms
    assert pct(times, 0.50) == 51.0 and pct(times, 0.99) == 100.0 and pct(times, 1.0) == 100.0
    result = figures("web_worklist_page", times, [5.0, 7.0])
    assert result["p99_ms"] == 100.0 and result["max_ms"] == 100.0
    assert result["concurrent_p50_ms"] == 7.0 and result["requests_concurrent"] == 2
