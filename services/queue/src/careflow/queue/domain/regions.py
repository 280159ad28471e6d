"""Regions: when each region's staff answer (opening hours, holidays, exceptions) and
which care units serve its queues.

Pure: no I/O; the configuration arrives already parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
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
