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
