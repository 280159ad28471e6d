"""Upcasters: turn an older schema version of an event into the current one.

When an event gets a breaking change its ``schema_version`` goes up, and an
upcaster from the old version is registered here, so consumers only ever see
the current model while old messages stay readable on the topics forever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ContractError
from .registry import model_for

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

#: (event_type, from_version) -> function returning the same event at from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that lifts ``event_type`` from ``from_version`` by one version."""

    def register(fn: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = fn
        return fn

    return register


def current_version(event_type: str) -> int:
    """The schema version the current model of ``event_type`` has."""
    default = model_for(event_type).model_fields["schema_version"].default
    assert isinstance(default, int)
    return default


def upcast(data: dict[str, Any]) -> dict[str, Any]:
    """Lift a decoded event dict to the current schema version of its type."""
    event_type = str(data["event_type"])
    target = current_version(event_type)
    version = data.get("schema_version")
    if type(version) is not int or version < 1:
        raise ContractError(
            f"{event_type}: invalid schema_version {version!r}",
            f"{event_type}: invalid schema_version",
        )
    if version > target:
        raise ContractError(
            f"{event_type} schema_version {version} is newer than this consumer knows ({target})"
        )
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise ContractError(f"{event_type}: no upcaster from schema_version {version}")
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data


@upcaster("CaseOpened", 1)
def _case_opened_without_the_number(data: dict[str, Any]) -> dict[str, Any]:
    # Version 2 names the patient by subject id only; the journal learns the number
    # from identity's restricted topic.
    data.pop("personal_identity_number", None)
    return data


@upcaster("NotificationFailed", 1)
def _notification_failed_knows_the_app(data: dict[str, Any]) -> dict[str, Any]:
    # Version 2 only widened the channel and the reasons: a version 1 event is a valid one.
    return data


@upcaster("NotificationFailed", 2)
def _notification_failed_knows_an_unknown_outcome(data: dict[str, Any]) -> dict[str, Any]:
    # Version 3 only added a reason (outcome_unknown): a version 2 event is a valid one.
    return data
