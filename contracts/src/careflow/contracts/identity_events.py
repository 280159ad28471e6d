"""Events owned by identity."""

from __future__ import annotations

from .envelope import Event

#: The events this module defines, collected by the registry.
EVENTS: tuple[type[Event], ...] = ()
