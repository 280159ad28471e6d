"""What domain modules may raise when a command is refused (pure: no I/O here).

The HTTP layer maps them to 4xx responses that carry the reason.
"""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A command the rules refuse; ``reason`` is safe to show to the caller.

    ``said``: the same in plain words for a patient, in every language (language code ->
    text); the HTTP layer answers in the one the request's ``Accept-Language`` prefers.
    """

    status_code = 422
    #: Names the kind of refusal in the problem details' ``type``.
    slug = "refused"

    def __init__(self, reason: str, said: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.said = said


class NotFound(DomainError):
    """The case (or thing) does not exist for this caller."""

    status_code = 404
    slug = "not-found"


class Forbidden(DomainError):
    """The caller may not do this to this case."""

    status_code = 403
    slug = "forbidden"


class Conflict(DomainError):
    """The case is not in a state that allows this (closed, already claimed, ...)."""

    status_code = 409
    slug = "conflict"


class Invalid(DomainError):
    """The command itself is malformed or out of range."""

    status_code = 422
    slug = "invalid"


class TooManyRequests(DomainError):
    """The caller tried too often; the answer says when to try again."""

    status_code = 429
    slug = "too-many-requests"

    def __init__(
        self, reason: str, retry_after_seconds: int = 60, said: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason, said)
        self.retry_after_seconds = retry_after_seconds
