"""The care guarantee (vårdgaranti): same-day contact within opening hours, and a medical
assessment within three days; which waiting cases are close to those limits or past them.

Pure: no I/O, the time passed in.
"""

from __future__ import annotations

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
    contact = calendar.contact_due(waiting_since)
    assessment = waiting_since + ASSESSMENT_WITHIN
    first = min(contact, assessment)
    return GuaranteeStatus(
        contact_due=contact,
        assessment_due=assessment,
        near=first - now <= warn_within,
        overdue=now >= first,
    )
