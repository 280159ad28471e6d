"""Read one event off the wire: decode, look up its model, upcast, validate.

The one way in for every consumer, so a malformed, unknown or too-new message
always ends as a ``ContractError`` with a reason, never as a stray exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .envelope import Event
from .errors import ContractError
from .registry import model_for
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
            raise ContractError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError("an event must be a JSON object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str):
        raise ContractError("missing or non-string 'event_type'")
    model = model_for(event_type)
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
            f"first at {where}: {first['msg']}"
        ) from None
