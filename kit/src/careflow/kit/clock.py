"""Time and identifiers, injected: domains never read the clock or draw ids themselves.

Each service's composition root makes one ``Clock`` (the system clock in a
process, a ``FixedClock`` in a test) and hands it to its commands, which pass
``now`` and fresh ids into the pure domain functions. That keeps every rule
repeatable: the same command at the same instant decides the same events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

#: Swedish care runs on Swedish dates (a birthday, a public holiday, "today").
SWEDEN = ZoneInfo("Europe/Stockholm")

#: The namespace of careflow's deterministic ids (``natural_id``).
NAMESPACE = uuid.UUID("6f1c7c0e-2b4a-5e7f-9a41-0c2f3e8d5b17")


class Clock(Protocol):
    """Where a service reads the time and draws new ids."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def new_id(self) -> uuid.UUID:
        """A fresh random id (for an event or an entity without a natural key)."""
        ...


class SystemClock:
    """The real clock and random ids: what a running service uses."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(UTC)

    def new_id(self) -> uuid.UUID:
        """A random (version 4) id."""
        return uuid.uuid4()


class FixedClock:
    """A clock that moves only when told, with predictable ids (for tests and replays)."""

    def __init__(self, at: datetime, seed: str = "fixed") -> None:
        if at.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._now = at.astimezone(UTC)
        self._seed = seed
        self._drawn = 0

    def now(self) -> datetime:
        """The time the clock was set to, plus every ``advance``."""
        return self._now

    def advance(self, by: timedelta) -> None:
        """Move the clock forward."""
        self._now += by

    def new_id(self) -> uuid.UUID:
        """The next id of a repeatable sequence (the same seed gives the same ids)."""
        self._drawn += 1
        return natural_id("fixed-clock", self._seed, str(self._drawn))


def today_in_sweden(clock: Clock) -> date:
    """The calendar date in Sweden at the clock's current instant."""
    return clock.now().astimezone(SWEDEN).date()


def natural_id(*parts: str) -> uuid.UUID:
    """A deterministic (version 5) id for something with a natural key.

    Deciding the same thing twice (a redelivered event, a retried command) then
    gives the same event id, which the inbox and the unique event id absorb.
    """
    return uuid.uuid5(NAMESPACE, "/".join(parts))
