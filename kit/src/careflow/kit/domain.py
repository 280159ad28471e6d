"""What domain modules may raise when a command is refused (pure: no I/O here).

The HTTP layer maps them to 4xx responses that carry the reason.
"""

from __future__ import annotations


class DomainError(Exception):
    """A command the rules refuse; ``reason`` is safe to show to the caller."""

    status_code = 422

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(DomainError):
    """The case (or thing) does not exist for this caller."""

    status_code = 404


class Forbidden(DomainError):
    """The caller may not do this to this case."""

    status_code = 403


class Conflict(DomainError):
    """The case is not in a state that allows this (closed, already claimed, ...)."""

    status_code = 409


class Invalid(DomainError):
    """The command itself is malformed or out of range."""

    status_code = 422
