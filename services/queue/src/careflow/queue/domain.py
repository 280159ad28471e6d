"""Queue rules: who waits where, in which order, and whose turn it is.

Pure: no I/O, the time passed in. The aggregate is one case's place in the
queue. Order in a queue: most urgent first, always; within one urgency, who
has waited longest (the case id breaks exact ties, so the order is total).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseQueued,
    Event,
    Professional,
    QueueRef,
    Skill,
    TriageCompleted,
    TurnReached,
    Urgency,
)
from careflow.contracts.queue_events import (
    CaseRequeued,
    CaseTransferred,
    CaseWithdrawn,
    WithdrawalReason,
)
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound

PRODUCER = "queue"
SYSTEM = Actor(id="queue", role=ActorRole.SYSTEM)
MAX_REASON_CHARS = 500


class Status(StrEnum):
    NOT_QUEUED = "not_queued"
    WAITING = "waiting"
    IN_CONTACT = "in_contact"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class QueuedCase:
    """One case's place in the queue."""

    case_id: UUID | None = None
    status: Status = Status.NOT_QUEUED
    queue: QueueRef | None = None
    urgency: Urgency | None = None
    waiting_since: datetime | None = None
    triage_revision: int = 0
    correlation_id: UUID | None = None
    holder: Professional | None = None
    turn_reached_at: datetime | None = None
    last_event_id: UUID | None = None


def priority(
    urgency: Urgency, waiting_since: datetime, case_id: UUID | None = None
) -> tuple[int, datetime, str]:
    """The sort key of a waiting case: smaller is helped first."""
    return (int(urgency), waiting_since, str(case_id) if case_id else "")


def evolve(state: QueuedCase, event: Event) -> QueuedCase:
    """Apply one recorded event."""
    if isinstance(event, CaseQueued):
        return QueuedCase(
            case_id=event.case_id,
            status=Status.WAITING,
            queue=event.queue,
            urgency=event.urgency,
            waiting_since=event.waiting_since,
            triage_revision=event.triage_revision,
            correlation_id=state.correlation_id or event.correlation_id,
            last_event_id=event.event_id,
        )
    if isinstance(event, TurnReached):
        return replace(
            state,
            status=Status.IN_CONTACT,
            holder=event.professional,
            turn_reached_at=event.occurred_at,
            last_event_id=event.event_id,
        )
    if isinstance(event, CaseRequeued | CaseTransferred):
        return replace(
            state,
            status=Status.WAITING,
            queue=event.queue,
            urgency=event.urgency,
            waiting_since=event.waiting_since,
            holder=None,
            turn_reached_at=None,
            last_event_id=event.event_id,
        )
    if isinstance(event, CaseWithdrawn):
        return replace(
            state,
            status=Status.WITHDRAWN,
            holder=None,
            turn_reached_at=None,
            last_event_id=event.event_id,
        )
    return state


# --- staff --------------------------------------------------------------------------------

#: Which queues a professional serves, from the title on their token (for now: one skill a
#: title; a real deployment reads the staff catalogue, e.g. HSA).
TITLE_SKILLS: Mapping[str, frozenset[Skill]] = {
    "nurse": frozenset({Skill.NURSE}),
    "sjuksköterska": frozenset({Skill.NURSE}),
    "distriktssköterska": frozenset({Skill.NURSE}),
    "doctor": frozenset({Skill.DOCTOR}),
    "läkare": frozenset({Skill.DOCTOR}),
    "psychologist": frozenset({Skill.PSYCHOLOGIST}),
    "psykolog": frozenset({Skill.PSYCHOLOGIST}),
    "administrator": frozenset({Skill.ADMINISTRATIVE}),
    "administratör": frozenset({Skill.ADMINISTRATIVE}),
    "youth clinic nurse": frozenset({Skill.YOUTH_CLINIC, Skill.NURSE}),
    "midwife": frozenset({Skill.YOUTH_CLINIC}),
    "barnmorska": frozenset({Skill.YOUTH_CLINIC}),
    "child health nurse": frozenset({Skill.CHILD_HEALTH_CARE, Skill.NURSE}),
    "bvc-sjuksköterska": frozenset({Skill.CHILD_HEALTH_CARE, Skill.NURSE}),
}


def skills_for_title(title: str | None) -> frozenset[Skill]:
    """The skills a title qualifies for; none for an unknown title."""
    return TITLE_SKILLS.get((title or "").strip().lower(), frozenset())


@dataclass(frozen=True)
class Staff:
    """A member of care staff acting on the queue: who, where, and which queues they serve."""

    professional: Professional
    region: str
    skills: frozenset[Skill]

    @property
    def actor(self) -> Actor:
        return Actor(id=self.professional.staff_id, role=ActorRole.STAFF)


def choose_skills(staff: Staff, requested: Iterable[Skill] | None) -> frozenset[Skill]:
    """The skills a claim draws from: the requested ones, which must all be the staff's own."""
    wanted = frozenset(requested) if requested is not None else staff.skills
    if not staff.skills:
        raise Forbidden(
            f"the title {staff.professional.title!r} serves no queue "
            "(known titles: nurse, doctor, psychologist, administrator)"
        )
    if not wanted:
        raise Invalid("name at least one skill")
    outside = wanted - staff.skills
    if outside:
        names = ", ".join(sorted(s.value for s in outside))
        raise Forbidden(f"you do not serve the {names} queue: your skills are " + _names(staff))
    return wanted


def check_region(staff: Staff, region: str | None) -> str:
    """The region a claim draws from: one's own; another region's queue is refused."""
    if region is not None and region != staff.region:
        raise Forbidden(f"you work in region {staff.region!r}, not {region!r}")
    return staff.region


def _names(staff: Staff) -> str:
    return ", ".join(sorted(s.value for s in staff.skills)) or "none"


def _reason(reason: str) -> str:
    cleaned = reason.strip()
    if not cleaned:
        raise Invalid("give a reason")
    if len(cleaned) > MAX_REASON_CHARS:
        raise Invalid(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return cleaned


def _waited(state: QueuedCase, now: datetime) -> float:
    assert state.waiting_since is not None
    return max(0.0, (now - state.waiting_since).total_seconds())


# --- decisions ----------------------------------------------------------------------------


def decide_place(state: QueuedCase, triage: TriageCompleted, now: datetime) -> list[Event]:
    """Place (or re-place) a triaged case. A case with no target queue is never queued.

    A re-triage keeps the patient's original waiting time and moves the case to its
    new place; a re-triage that sends the patient elsewhere (call 112, self care)
    takes a waiting case out of the queue. An older triage revision than the one
    applied is ignored, as is a re-triage once the contact has begun or ended.
    """
    if triage.revision <= state.triage_revision:
        return []
    if state.status in (Status.IN_CONTACT, Status.WITHDRAWN):
        return []
    if triage.target_queue is None:
        if state.status is not Status.WAITING or state.queue is None:
            return []
        return [
            CaseWithdrawn(
                case_id=triage.case_id,
                occurred_at=now,
                producer=PRODUCER,
                correlation_id=triage.correlation_id,
                causation_id=triage.event_id,
                actor=SYSTEM,
                queue=state.queue,
                reason=WithdrawalReason.NOT_FOR_QUEUE,
                waited_seconds=_waited(state, now),
            )
        ]
    return [
        CaseQueued(
            case_id=triage.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=triage.correlation_id,
            causation_id=triage.event_id,
            actor=SYSTEM,
            queue=triage.target_queue,
            urgency=triage.urgency,
            triage_revision=triage.revision,
            waiting_since=state.waiting_since or triage.occurred_at,
        )
    ]


def decide_claim(state: QueuedCase, professional: Professional, now: datetime) -> list[Event]:
    """A professional takes the case: it becomes the patient's turn."""
    if state.status is not Status.WAITING or state.case_id is None:
        raise Conflict("the case is not waiting in a queue")
    assert state.queue is not None
    return [
        TurnReached(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=Actor(id=professional.staff_id, role=ActorRole.STAFF),
            queue=state.queue,
            professional=professional,
            waited_seconds=_waited(state, now),
        )
    ]


def _require_visible(state: QueuedCase, staff: Staff) -> QueueRef:
    """The case's queue, if it is in the staff member's region; unknown otherwise."""
    if state.queue is None or state.queue.region != staff.region:
        raise NotFound("no such case in your region's queues")
    return state.queue


def decide_take(state: QueuedCase, staff: Staff, now: datetime) -> list[Event]:
    """Staff take one particular waiting case of their region and skills."""
    queue = _require_visible(state, staff)
    if queue.skill not in staff.skills:
        raise Forbidden(
            f"the case waits in the {queue.skill.value} queue: your skills are {_names(staff)}"
        )
    if state.status is Status.IN_CONTACT:
        raise Conflict("someone has already taken the case")
    return decide_claim(state, staff.professional, now)


def _require_holder(state: QueuedCase, staff: Staff) -> None:
    if state.status is not Status.IN_CONTACT:
        raise Conflict("the case has not been taken")
    if state.holder is None or state.holder.staff_id != staff.professional.staff_id:
        raise Forbidden("only the professional who took the case may do this")


def decide_requeue(
    state: QueuedCase,
    staff: Staff,
    reason: str,
    now: datetime,
    no_answer: bool = False,
    answer_within: timedelta | None = None,
) -> list[Event]:
    """The professional who took the case puts it back; the patient keeps their place.

    With ``no_answer`` the patient did not answer after their turn: allowed only once
    ``answer_within`` has passed since the turn was reached.
    """
    _require_visible(state, staff)
    _require_holder(state, staff)
    if no_answer:
        _check_no_answer(state, now, answer_within)
    assert state.case_id and state.queue and state.urgency and state.waiting_since
    return [
        CaseRequeued(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=staff.actor,
            queue=state.queue,
            urgency=state.urgency,
            waiting_since=state.waiting_since,
            reason=_reason(reason),
            no_answer=no_answer,
        )
    ]


def _check_no_answer(state: QueuedCase, now: datetime, answer_within: timedelta | None) -> None:
    assert state.turn_reached_at is not None
    if answer_within is not None and now - state.turn_reached_at < answer_within:
        left = answer_within - (now - state.turn_reached_at)
        raise Conflict(
            f"the patient still has {int(left.total_seconds())} s to answer "
            f"(they get {int(answer_within.total_seconds())} s after their turn)"
        )


def decide_transfer(
    state: QueuedCase, staff: Staff, to: QueueRef, reason: str, now: datetime
) -> list[Event]:
    """Move a case to another skill's or region's queue, keeping its waiting time.

    Staff of the case's region may transfer a waiting case; a case in contact only
    by the professional who took it.
    """
    queue = _require_visible(state, staff)
    if state.status is Status.IN_CONTACT:
        _require_holder(state, staff)
    elif state.status is not Status.WAITING:
        raise Conflict("the case is no longer in a queue")
    if to == queue:
        raise Invalid("the case already waits in that queue")
    assert state.case_id and state.urgency and state.waiting_since
    return [
        CaseTransferred(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=staff.actor,
            from_queue=queue,
            queue=to,
            urgency=state.urgency,
            waiting_since=state.waiting_since,
            reason=_reason(reason),
        )
    ]


def decide_withdraw(state: QueuedCase, patient: Actor, now: datetime) -> list[Event]:
    """The patient (or their guardian) withdraws a waiting case: it closes as withdrawn.

    Whether ``patient`` may act on the case is checked before (unknown cases and
    other people's look the same).
    """
    if state.status is Status.WITHDRAWN:
        raise Conflict("the case is already withdrawn")
    if state.status is Status.IN_CONTACT:
        raise Conflict("your contact has already begun: end it in the chat")
    if state.status is not Status.WAITING or state.queue is None or state.case_id is None:
        raise Conflict("the case is not waiting in a queue")
    return [
        CaseWithdrawn(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=patient,
            queue=state.queue,
            reason=WithdrawalReason.PATIENT_WITHDREW,
            waited_seconds=_waited(state, now),
        )
    ]


def decide_close_unanswered(
    state: QueuedCase, staff: Staff, now: datetime, answer_within: timedelta
) -> list[Event]:
    """The patient did not answer after their turn: the professional closes the case."""
    _require_visible(state, staff)
    _require_holder(state, staff)
    _check_no_answer(state, now, answer_within)
    assert state.case_id and state.queue
    return [
        CaseWithdrawn(
            case_id=state.case_id,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=state.correlation_id or state.case_id,
            causation_id=state.last_event_id,
            actor=staff.actor,
            queue=state.queue,
            reason=WithdrawalReason.NO_ANSWER,
            waited_seconds=_waited(state, now),
        )
    ]


# --- the waiting room: the order of a queue -----------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """One waiting case as a queue orders it."""

    case_id: UUID
    queue: QueueRef
    urgency: Urgency
    waiting_since: datetime

    @property
    def key(self) -> tuple[int, datetime, str]:
        return priority(self.urgency, self.waiting_since, self.case_id)


def project_waiting(room: Mapping[UUID, Waiting], event: Event) -> dict[UUID, Waiting]:
    """The waiting room after one event (the pure form of the ``waiting_cases`` table)."""
    out = dict(room)
    if isinstance(event, CaseQueued | CaseRequeued | CaseTransferred):
        out[event.case_id] = Waiting(event.case_id, event.queue, event.urgency, event.waiting_since)
    elif isinstance(event, TurnReached | CaseWithdrawn):
        out.pop(event.case_id, None)
    return out


def next_waiting(room: Iterable[Waiting], region: str, skills: Iterable[Skill]) -> Waiting | None:
    """The case to help next among ``skills`` in ``region``: most urgent, then oldest."""
    wanted = frozenset(skills)
    candidates = [w for w in room if w.queue.region == region and w.queue.skill in wanted]
    return min(candidates, key=lambda w: w.key, default=None)


def estimate_wait(
    position: int, claims_in_window: int, window: timedelta, until_open: timedelta
) -> float | None:
    """Seconds until the patient's turn, from the queue's recent throughput.

    ``position`` 1 is next. With no recent claims there is nothing to estimate from
    (None). While the region is closed, the wait starts when it opens.
    """
    if claims_in_window <= 0 or window <= timedelta(0):
        return None
    per_claim = window.total_seconds() / claims_in_window
    return until_open.total_seconds() + max(0, position - 1) * per_claim + per_claim / 2


# --- regions: opening hours and the care guarantee ----------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Hours:
    """One day's opening hours, local time."""

    opens: time
    closes: time


def parse_hours(text: str) -> Hours | None:
    """``"08:00-17:00"`` -> Hours; ``"closed"`` -> None."""
    text = text.strip().lower()
    if text == "closed":
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise Invalid(f"opening hours {text!r} are not 'HH:MM-HH:MM' or 'closed'") from None
    if end <= start:
        raise Invalid(f"opening hours {text!r} close before they open")
    return Hours(start, end)


@dataclass(frozen=True)
class RegionCalendar:
    """When one region's staff answer: weekly hours, closed days and exceptions."""

    name: str
    timezone: str = "Europe/Stockholm"
    weekly: Mapping[int, Hours] = field(default_factory=dict)  # 0 = Monday
    closed: Mapping[date, str] = field(default_factory=dict)
    exceptions: Mapping[date, Hours | None] = field(default_factory=dict)
    #: The care units whose staff serve this region's queues; empty: any unit of the region.
    care_units: tuple[str, ...] = ()

    def served_by(self, care_unit: str | None) -> bool:
        """May staff of ``care_unit`` work this region's queues?"""
        return not self.care_units or care_unit in self.care_units

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def hours_on(self, day: date) -> Hours | None:
        """The opening hours on a local date (None: closed all day)."""
        if day in self.exceptions:
            return self.exceptions[day]
        if day in self.closed:
            return None
        return self.weekly.get(day.weekday())

    def _span(self, day: date) -> tuple[datetime, datetime] | None:
        hours = self.hours_on(day)
        if hours is None:
            return None
        return (
            datetime.combine(day, hours.opens, self.zone),
            datetime.combine(day, hours.closes, self.zone),
        )

    def is_open(self, now: datetime) -> bool:
        """Whether staff answer at ``now``."""
        span = self._span(now.astimezone(self.zone).date())
        return span is not None and span[0] <= now < span[1]

    def next_open_span(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The current opening period, or the next one, within two weeks (None: none)."""
        day = now.astimezone(self.zone).date()
        for offset in range(15):
            span = self._span(day + timedelta(days=offset))
            if span is not None and span[1] > now:
                return span
        return None

    def opens_at(self, now: datetime) -> datetime | None:
        """When staff next answer: ``now`` while open, else the next opening."""
        span = self.next_open_span(now)
        if span is None:
            return None
        return max(span[0], now)

    def contact_due(self, waiting_since: datetime) -> datetime:
        """The care guarantee's same-day contact: by the close of the day's opening hours.

        A case that arrives after closing (or on a closed day) is due by the close of the
        next opening day.
        """
        span = self.next_open_span(waiting_since)
        if span is None:  # never open in the next two weeks: the calendar day's end
            local = waiting_since.astimezone(self.zone).date() + timedelta(days=1)
            return datetime.combine(local, time(0), self.zone)
        return span[1]


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


def calendar_from_config(
    name: str, config: Mapping[str, object], base: RegionCalendar | None
) -> RegionCalendar:
    """Build a region's calendar from its configuration, on top of the default one."""
    weekly = dict(base.weekly) if base else {}
    closed = dict(base.closed) if base else {}
    exceptions = dict(base.exceptions) if base else {}
    timezone = str(config.get("timezone", base.timezone if base else "Europe/Stockholm"))
    hours = config.get("hours")
    if isinstance(hours, Mapping):
        weekly = {}
        for day, text in hours.items():
            if day not in WEEKDAYS:
                raise Invalid(f"{name}: unknown weekday {day!r}")
            parsed = parse_hours(str(text))
            if parsed is not None:
                weekly[WEEKDAYS.index(day)] = parsed
    days = config.get("closed")
    if isinstance(days, Mapping):
        closed = {_date(name, d): str(why) for d, why in days.items()}
    extra = config.get("exceptions")
    if isinstance(extra, Mapping):
        exceptions = {_date(name, d): parse_hours(str(text)) for d, text in extra.items()}
    try:
        ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise Invalid(f"{name}: unknown time zone {timezone!r}") from None
    units = config.get("care_units", base.care_units if base else ())
    if not isinstance(units, list | tuple) or not all(isinstance(u, str) for u in units):
        raise Invalid(f"{name}: care_units must be a list of care unit names")
    return RegionCalendar(name, timezone, weekly, closed, exceptions, tuple(units))


def _date(name: str, value: object) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Regions:
    """Every region's calendar; regions not listed follow the default."""

    default: RegionCalendar
    by_name: Mapping[str, RegionCalendar]

    def calendar(self, region: str) -> RegionCalendar:
        """The calendar of ``region`` (names match case-insensitively)."""
        found = self.by_name.get(region.casefold())
        return found if found is not None else replace(self.default, name=region)

    def knows(self, region: str) -> bool:
        return region.casefold() in self.by_name


def regions_from_config(config: Mapping[str, object]) -> Regions:
    """Regions from the parsed configuration file (``[default]`` and ``[regions.<name>]``)."""
    raw_default = config.get("default", {})
    default = calendar_from_config(
        "default", raw_default if isinstance(raw_default, Mapping) else {}, None
    )
    raw_regions = config.get("regions", {})
    by_name: dict[str, RegionCalendar] = {}
    if isinstance(raw_regions, Mapping):
        for name, body in raw_regions.items():
            body_map = body if isinstance(body, Mapping) else {}
            by_name[str(name).casefold()] = calendar_from_config(str(name), body_map, default)
    return Regions(default, by_name)
