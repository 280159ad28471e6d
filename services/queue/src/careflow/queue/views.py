"""What patients and staff see: a case's place and wait, a queue's overview.

Read side only: queries on the read models (``adapters``) put together with the
rules for opening hours, expected waits and the care guarantee (``domain``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Skill, Urgency
from careflow.queue import adapters, domain

#: Set whenever a queue's overview is computed (staff's views poll it): what alerts watch.
OVERDUE_CASES = Gauge(
    "careflow_queue_guarantee_overdue_cases",
    "Waiting cases past their care-guarantee limit (of the oldest scanned), at the last overview.",
    ["region", "skill"],
)
LONGEST_WAIT = Gauge(
    "careflow_queue_longest_wait_seconds",
    "The longest current wait in a queue, at the last overview.",
    ["region", "skill"],
)


@dataclass(frozen=True)
class ReadSettings:
    """The tunable numbers of the queue's read side."""

    throughput_window: timedelta = timedelta(hours=1)
    guarantee_warning: timedelta = timedelta(hours=1)
    near_limit_scan: int = 200
    #: How many of the cases near the limit an overview names (the most at risk first); the
    #: rest are counted. A worklist reads, logs and renders each case it names, so naming
    #: every one of a long queue's made the page slow without helping anyone act sooner.
    near_limit_shown: int = 20


async def place(
    conn: AsyncConnection,
    state: domain.QueuedCase,
    now: datetime,
    regions: domain.Regions,
    settings: ReadSettings,
) -> dict[str, Any]:
    """A case's place for its patient: position, estimated wait and opening hours."""
    out: dict[str, Any] = {
        "status": state.status,
        "queue": state.queue,
        "urgency": state.urgency,
        "waiting_since": state.waiting_since,
        "position": None,
        "estimated_wait_seconds": None,
        "region_open": None,
        "opens_at": None,
    }
    if state.status is not domain.Status.WAITING or state.queue is None or state.case_id is None:
        return out
    calendar = regions.calendar(state.queue.region)
    opens = calendar.opens_at(now)
    pos = await adapters.position(conn, state.case_id)
    recent = await adapters.turns_since(
        conn, state.queue.region, state.queue.skill.value, now - settings.throughput_window
    )
    until_open = (opens - now) if opens is not None else timedelta(0)
    out.update(
        position=pos,
        region_open=calendar.is_open(now),
        opens_at=opens,
        estimated_wait_seconds=(
            domain.estimate_wait(pos, recent, settings.throughput_window, until_open)
            if pos is not None
            else None
        ),
    )
    return out


async def overviews(
    conn: AsyncConnection,
    region: str,
    skills: Iterable[Skill],
    now: datetime,
    regions: domain.Regions,
    settings: ReadSettings,
) -> list[dict[str, Any]]:
    """Staff's view of each of ``skills``' queues of ``region``: counts per urgency, longest
    wait, care-guarantee risks. Three round trips whatever the number of queues: the counts,
    the recent turns, and the longest-waiting cases of every queue with someone waiting."""
    asked = list(skills)
    waiting = await adapters.waiting_by_skill_and_urgency(conn, region)
    recent = await adapters.turns_by_skill_since(conn, region, now - settings.throughput_window)
    busy = sorted({of_skill for of_skill, _, _, _ in waiting} & {s.value for s in asked})
    oldest = await adapters.longest_waiting(conn, region, busy, settings.near_limit_scan)
    calendar = regions.calendar(region)
    return _overviews(region, asked, now, calendar, settings, waiting, recent, oldest)


def _overviews(
    region: str,
    skills: list[Skill],
    now: datetime,
    calendar: domain.RegionCalendar,
    settings: ReadSettings,
    waiting: list[tuple[str, int, int, datetime]],
    recent: dict[str, int],
    oldest: dict[str, list[tuple[Any, int, datetime]]],
) -> list[dict[str, Any]]:
    """Each queue's overview from what was read: counts, turns and its longest waiting."""
    region_open, opens_at = calendar.is_open(now), calendar.opens_at(now)
    out = []
    for skill in skills:
        counts = {u.name.lower(): 0 for u in Urgency}
        longest: datetime | None = None
        for of_skill, urgency, n, first in waiting:
            if of_skill == skill.value:
                counts[Urgency(urgency).name.lower()] = n
                longest = first if longest is None else min(longest, first)
        near, near_count, overdue = _near_limit(
            oldest.get(skill.value, []), now, calendar, settings
        )
        OVERDUE_CASES.labels(region, skill.value).set(overdue)
        LONGEST_WAIT.labels(region, skill.value).set(
            (now - longest).total_seconds() if longest else 0
        )
        out.append(
            {
                "region": region,
                "skill": skill,
                "waiting": sum(counts.values()),
                "by_urgency": counts,
                "longest_wait_seconds": (now - longest).total_seconds() if longest else None,
                "turns_last_window": recent.get(skill.value, 0),
                "window_seconds": settings.throughput_window.total_seconds(),
                "region_open": region_open,
                "opens_at": opens_at,
                "near_guarantee_limit": near,
                "near_guarantee_limit_count": near_count,
                "overdue_count": overdue,
                "near_limit_scanned": settings.near_limit_scan,
            }
        )
    return out


def _near_limit(
    oldest: list[tuple[Any, int, datetime]],
    now: datetime,
    calendar: domain.RegionCalendar,
    settings: ReadSettings,
) -> tuple[list[dict[str, Any]], int, int]:
    """Of a queue's longest-waiting cases (``oldest``, longest first), the first near or
    past the guarantee's limit (as many as are shown), and how many are near it and past."""
    # Due times grow with waiting time, so the oldest cases are the ones at risk.
    near_count, overdue = domain.limits_reached(
        calendar, [since for _, _, since in oldest], now, settings.guarantee_warning
    )
    shown = oldest[: min(near_count, settings.near_limit_shown)]
    statuses = domain.guarantees(
        calendar, [since for _, _, since in shown], now, settings.guarantee_warning
    )
    near = [
        {
            "case_id": case_id,
            "urgency": Urgency(urgency),
            "waiting_since": since,
            "contact_due": status.contact_due,
            "assessment_due": status.assessment_due,
            "overdue": status.overdue,
        }
        for (case_id, urgency, since), status in zip(shown, statuses, strict=True)
    ]
    return near, near_count, overdue


async def worklist(
    counting: AsyncConnection,
    listing: AsyncConnection,
    region: str,
    skills: Iterable[Skill],
    now: datetime,
    regions: domain.Regions,
    settings: ReadSettings,
    first: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``overviews`` with each queue's first ``first`` waiting cases in the order staff are
    handed them (urgency, time waited, care-guarantee deadlines, whether a notification
    could not reach the patient), and the patients a notification missed.

    The counts of a long queue are the slowest read: they run on ``counting`` while
    everything else is read on ``listing``. Both are autocommit connections: the
    reads need not agree to the instant (a count may be a moment apart from the list)."""
    asked = list(skills)
    every = [s.value for s in asked]

    async def listed() -> tuple[Any, ...]:
        missed = await adapters.unreached_in_region(listing, region)
        recent = await adapters.turns_by_skill_since(
            listing, region, now - settings.throughput_window
        )
        oldest = await adapters.longest_waiting(listing, region, every, settings.near_limit_scan)
        rows = await adapters.first_waiting(listing, region, every, first)
        return missed, recent, oldest, rows

    try:
        async with asyncio.TaskGroup() as both:
            counted = both.create_task(adapters.waiting_by_skill_and_urgency(counting, region))
            read = both.create_task(listed())
    except BaseExceptionGroup as failed:
        # A read failing is the request failing, told by the error itself (a database
        # that is away is a 503), not by the group around it.
        raise failed.exceptions[0] from None
    missed, recent, oldest, rows = read.result()
    calendar = regions.calendar(region)
    seen = _overviews(region, asked, now, calendar, settings, counted.result(), recent, oldest)
    unreached = {r["case_id"] for r in missed}
    statuses = domain.guarantees(
        calendar, [since for _, _, _, since in rows], now, settings.guarantee_warning
    )
    listed_by_skill: dict[str, list[dict[str, Any]]] = {}
    for (case_id, skill, urgency, since), status in zip(rows, statuses, strict=True):
        listed_by_skill.setdefault(skill, []).append(
            {
                "case_id": case_id,
                "urgency": Urgency(urgency),
                "waiting_since": since,
                "waited_seconds": max(0.0, (now - since).total_seconds()),
                "contact_due": status.contact_due,
                "assessment_due": status.assessment_due,
                "near_limit": status.near,
                "overdue": status.overdue,
                "unreached": case_id in unreached,
            }
        )
    for view in seen:
        view["first_waiting"] = listed_by_skill.get(view["skill"].value, [])
    return seen, missed
