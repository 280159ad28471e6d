"""What goes wrong reading a message off the wire: the contracts' two exceptions."""

from __future__ import annotations


class ContractError(ValueError):
    """A message that is not a valid careflow event; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEventType(ContractError):
    """The message names an event type this version of the contracts does not know."""
