"""The worklist's care-guarantee deadlines for many cases at once (issue 14): the same as
one case at a time, whatever the times, opening hours and holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.queue import adapters, domain

pytestmark = [pytest.mark.web, pytest.mark.queue, pytest.mark.unit]

NOW = datetime(2026, 12, 23, 15, 0, tzinfo=UTC)  # near Christmas: holidays on the way
WARN = timedelta(hours=1)
REGIONS = adapters.load_regions()


@settings(max_examples=200, deadline=None)
@given(
    region=st.sampled_from(sorted(c.name for c in REGIONS.all())),
    waited=st.lists(st.integers(min_value=0, max_value=5 * 24 * 3600), max_size=60),
)
def test_many_at_once_equals_one_at_a_time(region: str, waited: list[int]) -> None:
    calendar = REGIONS.calendar(region)
    since = [NOW - timedelta(seconds=s) for s in waited]
    assert domain.guarantees(calendar, since, NOW, WARN) == [
        domain.guarantee(calendar, s, NOW, WARN) for s in since
    ]


def test_cases_placed_in_one_opening_period_share_its_close() -> None:
    calendar = REGIONS.calendar("Uppsala")
    morning = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # a Thursday
    since = [morning + timedelta(minutes=m) for m in (90, 0, 45)]
    due = [s.contact_due for s in domain.guarantees(calendar, since, morning, WARN)]
    assert len(set(due)) == 1 and due[0] == calendar.contact_due(morning)


@settings(max_examples=200, deadline=None)
@given(
    region=st.sampled_from(sorted(c.name for c in REGIONS.all())),
    waited=st.lists(st.integers(min_value=0, max_value=5 * 24 * 3600), max_size=80),
    warn_minutes=st.integers(min_value=0, max_value=24 * 60),
)
def test_counts_near_and_past_the_limit_as_case_by_case_does(
    region: str, waited: list[int], warn_minutes: int
) -> None:
    """The worklist counts the cases near and past the limit by bisection: the same counts
    as working out every case's deadlines, whatever the hours and holidays."""
    calendar = REGIONS.calendar(region)
    warn = timedelta(minutes=warn_minutes)
    oldest_first = sorted(NOW - timedelta(seconds=s) for s in waited)
    each = [domain.guarantee(calendar, s, NOW, warn) for s in oldest_first]
    assert domain.limits_reached(calendar, oldest_first, NOW, warn) == (
        sum(s.near for s in each),
        sum(s.overdue for s in each),
    )
