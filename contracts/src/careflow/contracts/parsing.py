"""Read one event off the wire: decode, look up its model, upcast, validate.

The one way in for every consumer, so a malformed, unknown or too-new message
always ends as a ``ContractError`` with a reason, never as a stray exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from .envelope import Event
from .errors import ContractError, UnknownEventType
from .registry import EVENT_TYPES, model_for
from .upcasting import upcast


def parse_event(raw: bytes | str | Mapping[str, Any]) -> Event:
    """Read one event from its wire form, upcasting older schema versions.

    Raises ``ContractError`` (with a human-readable ``reason``) for bad JSON, an
    unknown event type or a message that fails validation.
    """
    if isinstance(raw, Mapping):
        data: Any = dict(raw)
    else:
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ContractError("not valid JSON: nested too deeply") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
            raise ContractError(
                f"not valid JSON: {exc}", f"not valid JSON: {type(exc).__name__} at {position}"
            ) from None
    if not isinstance(data, dict):
        raise ContractError("an event must be a JSON object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise ContractError("missing or non-string 'event_type'")
    try:
        model = model_for(event_type)
    except UnknownEventType as exc:
        # The name is the sender's text: anything, a personal identity number included.
        raise UnknownEventType(exc.reason, "unknown event type") from None
    if "event_id" not in data:
        # A default would invent a new id per read and defeat de-duplication.
        raise ContractError("missing 'event_id'")
    data = upcast(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ContractError(
            f"{event_type} failed validation ({exc.error_count()} errors); "
            f"first at {where}: {first['msg']}",
            _safe_validation_reason(event_type, exc),
        ) from None


def _safe_validation_reason(event_type: str, exc: ValidationError, most: int = 5) -> str:
    """Where validation failed and how (error types), never what was sent.

    A message (pydantic's ``msg``) may quote the input, and a location may be a key the
    sender invented (an extra field, a dictionary key): only the contracts' own field
    names and list positions are named; any other part of a location shows as ``?``.
    """
    known = _field_names()
    parts = []
    for error in exc.errors()[:most]:
        where = ".".join(str(p) if isinstance(p, int) or p in known else "?" for p in error["loc"])
        parts.append(f"{where or '(root)'} ({error['type']})")
    more = f", and {exc.error_count() - most} more" if exc.error_count() > most else ""
    return f"{event_type} failed validation: {', '.join(parts)}{more}"


@cache
def _field_names() -> frozenset[str]:
    """Every field name of every event model and of the models nested in them."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for name, field in annotation.model_fields.items():
                names.update({name, field.alias or name})
                walk(field.annotation)
        for arg in get_args(annotation):
            walk(arg)

    for model in EVENT_TYPES.values():
        walk(model)
    return frozenset(names)
