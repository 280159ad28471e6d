"""Regions: when each region's staff answer (opening hours, holidays, exceptions) and
which care units serve its queues.

Pure: no I/O; the configuration arrives already parsed, and the public holidays of a
country arrive as a mapping (date -> name) from whoever reads the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from careflow.kit.domain import Invalid

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
class DayHours:
    """One region's day as a patient sees it before starting."""

    region: str
    date: date
    hours: Hours | None
    closed_because: str | None
    open_now: bool
    next_opening: datetime | None


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
    #: Public holidays (date -> name) on which the region is closed; empty: open on holidays.
    public_holidays: Mapping[date, str] = field(default_factory=dict)

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
        if self.closed_because(day) is not None:
            return None
        return self.weekly.get(day.weekday())

    def closed_because(self, day: date) -> str | None:
        """Why the region is closed all day on ``day`` (a holiday's name), or None."""
        if day in self.exceptions:
            return None
        if day in self.closed:
            return self.closed[day]
        return self.public_holidays.get(day)

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

    def next_opening(self, now: datetime) -> datetime | None:
        """When staff next begin to answer, after ``now`` (within two weeks; None: never)."""
        day = now.astimezone(self.zone).date()
        for offset in range(15):
            span = self._span(day + timedelta(days=offset))
            if span is not None and span[0] > now:
                return span[0]
        return None

    def today(self, now: datetime) -> DayHours:
        """The local day of ``now``: its hours, why it is closed, whether open right now."""
        day = now.astimezone(self.zone).date()
        return DayHours(
            region=self.name,
            date=day,
            hours=self.hours_on(day),
            closed_because=self.closed_because(day),
            open_now=self.is_open(now),
            next_opening=self.next_opening(now),
        )

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


#: A country's public holidays (date -> name), by its ISO 3166 code.
HolidaysOf = Callable[[str], Mapping[date, str]]


def _no_holidays(country: str) -> Mapping[date, str]:
    return {}


def calendar_from_config(
    name: str,
    config: Mapping[str, object],
    base: RegionCalendar | None,
    holidays_of: HolidaysOf = _no_holidays,
) -> RegionCalendar:
    """Build a region's calendar from its configuration, on top of the default one.

    ``public_holidays`` names the country whose public holidays close the region
    (``"SE"``); an empty string keeps it open on holidays.
    """
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
    public_holidays = base.public_holidays if base else {}
    country = config.get("public_holidays")
    if isinstance(country, str):
        public_holidays = holidays_of(country) if country else {}
    elif country is not None:
        raise Invalid(f"{name}: public_holidays must be a country code such as 'SE', or ''")
    return RegionCalendar(name, timezone, weekly, closed, exceptions, tuple(units), public_holidays)


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

    def all(self) -> list[RegionCalendar]:
        """Every configured region, by name."""
        return sorted(self.by_name.values(), key=lambda c: c.name)


def regions_from_config(
    config: Mapping[str, object], holidays_of: HolidaysOf = _no_holidays
) -> Regions:
    """Regions from the parsed configuration file (``[default]`` and ``[regions.<name>]``);
    ``holidays_of`` gives a country's public holidays."""
    raw_default = config.get("default", {})
    default = calendar_from_config(
        "default", raw_default if isinstance(raw_default, Mapping) else {}, None, holidays_of
    )
    raw_regions = config.get("regions", {})
    by_name: dict[str, RegionCalendar] = {}
    if isinstance(raw_regions, Mapping):
        for name, body in raw_regions.items():
            body_map = body if isinstance(body, Mapping) else {}
            by_name[str(name).casefold()] = calendar_from_config(
                str(name), body_map, default, holidays_of
            )
    return Regions(default, by_name)
