"""The care guarantee (vårdgaranti): same-day contact within opening hours, and a medical
assessment within three days; which waiting cases are close to those limits or past them.

Pure: no I/O, the time passed in.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from careflow.queue.domain.regions import RegionCalendar

#: A medical assessment by a licensed professional within 3 days (vårdgaranti 0-3-90-90).
ASSESSMENT_WITHIN = timedelta(days=3)


@dataclass(frozen=True)
class GuaranteeStatus:
    """Where a waiting case stands against the care guarantee."""

    contact_due: datetime
    assessment_due: datetime
    near: bool
    overdue: bool


def guarantee(
    calendar: RegionCalendar, waiting_since: datetime, now: datetime, warn_within: timedelta
) -> GuaranteeStatus:
    """The care-guarantee limits of a waiting case, and whether they are close or past."""
    return _status(calendar.contact_due(waiting_since), waiting_since, now, warn_within)


def _status(
    contact: datetime, waiting_since: datetime, now: datetime, warn_within: timedelta
) -> GuaranteeStatus:
    """A case's standing, its contact deadline known: the first limit decides."""
    assessment = waiting_since + ASSESSMENT_WITHIN
    first = min(contact, assessment)
    return GuaranteeStatus(
        contact_due=contact,
        assessment_due=assessment,
        near=first - now <= warn_within,
        overdue=now >= first,
    )


def guarantees(
    calendar: RegionCalendar,
    waiting_since: Sequence[datetime],
    now: datetime,
    warn_within: timedelta,
) -> list[GuaranteeStatus]:
    """``guarantee`` of many waiting cases at once, the same case by case.

    A worklist names dozens of cases, most placed within the same opening period: a case
    placed before the close another case is due by is due by that same close, so each
    opening period is looked up once rather than once per case.
    """
    out: dict[int, GuaranteeStatus] = {}
    known: tuple[datetime, datetime] | None = None  # (placed at, due by): holds until due
    for i in sorted(range(len(waiting_since)), key=waiting_since.__getitem__):
        since = waiting_since[i]
        if known is not None and known[0] <= since < known[1]:
            contact = known[1]
        else:
            span = calendar.next_open_span(since)
            contact = span[1] if span is not None else calendar.contact_due(since)
            known = (since, span[1]) if span is not None else None
        out[i] = _status(contact, since, now, warn_within)
    return [out[i] for i in range(len(waiting_since))]


def limits_reached(
    calendar: RegionCalendar,
    oldest_first: Sequence[datetime],
    now: datetime,
    warn_within: timedelta,
) -> tuple[int, int]:
    """Of cases waiting since ``oldest_first`` (sorted, oldest first), how many are near a
    limit and how many past it: as ``guarantee`` counts them, without working out each.

    A case placed later is never due earlier, so both are a prefix of the list and found
    by bisection: a worklist scanning hundreds of cases looks up a dozen deadlines.
    """

    def first_limit(since: datetime) -> datetime:
        status = guarantee(calendar, since, now, warn_within)
        return min(status.contact_due, status.assessment_due)

    near = bisect.bisect_right(oldest_first, now + warn_within, key=first_limit)
    overdue = bisect.bisect_right(oldest_first, now, key=first_limit)
    return near, overdue


@dataclass(frozen=True)
class AssessmentStatus:
    """A case against the 3-day assessment limit, from first contact to the assessment.

    The assessment is the contact's close, or, when the contact booked a visit, the visit:
    a booking beyond the limit breaks the guarantee even though the chat itself was quick.
    """

    first_contact_at: datetime
    assessment_due: datetime
    assessed_at: datetime | None
    met: bool
    near: bool
    overdue: bool
    booking_beyond_limit: bool


def assessment_status(
    first_contact_at: datetime,
    assessed_at: datetime | None,
    booked: bool,
    now: datetime,
    warn_within: timedelta,
) -> AssessmentStatus:
    """Where a case stands against the assessment limit; ``near`` is the alert to staff."""
    due = first_contact_at + ASSESSMENT_WITHIN
    if assessed_at is not None:
        late = assessed_at > due
        return AssessmentStatus(
            first_contact_at=first_contact_at,
            assessment_due=due,
            assessed_at=assessed_at,
            met=not late,
            near=False,
            overdue=late,
            booking_beyond_limit=booked and late,
        )
    return AssessmentStatus(
        first_contact_at=first_contact_at,
        assessment_due=due,
        assessed_at=None,
        met=False,
        near=due - now <= warn_within,
        overdue=now >= due,
        booking_beyond_limit=False,
    )
