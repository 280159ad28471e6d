"""What goes wrong reading a message off the wire: the contracts' two exceptions."""

from __future__ import annotations


class ContractError(ValueError):
    """A message that is not a valid careflow event; ``reason`` says why.

    ``reason`` is for a developer at a terminal and may quote the message. ``safe_reason``
    never does: a fixed text, the event type when it is a known one, and for validation
    errors the field locations and error types only. Logs and dead letters carry it, since
    a message may hold a personal identity number anywhere.
    """

    def __init__(self, reason: str, safe_reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.safe_reason = reason if safe_reason is None else safe_reason


class UnknownEventType(ContractError):
    """The message names an event type this version of the contracts does not know."""
