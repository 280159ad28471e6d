"""The closing form's rules, pure: what each outcome needs, and which field is missing.

Part of the web's domain (no I/O; the time and the care unit's time zone are passed in).
The same rules as chat's, checked before the form leaves the page so that a refusal names
the field instead of failing the whole form; chat still checks them itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

OUTCOMES = (
    "self_care_advice",
    "booked_appointment",
    "referral",
    "prescription_renewal",
    "redirected_to_emergency",
)

#: The fields each outcome needs filled in, beyond the documentation note every close needs.
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "self_care_advice": ("advice",),
    "booked_appointment": ("appointment_unit", "appointment_at"),
    "referral": ("referral_to",),
    "prescription_renewal": ("renewed_prescription",),
    "redirected_to_emergency": (),
}
#: The fields of each outcome's own fieldset (the others' are ignored when closing).
OWN_FIELDS: Mapping[str, tuple[str, ...]] = {
    "self_care_advice": (),
    "booked_appointment": ("appointment_unit", "appointment_at"),
    "referral": ("referral_to",),
    "prescription_renewal": ("renewed_prescription",),
    "redirected_to_emergency": ("emergency_unit",),
}
#: Every field the form carries, for re-rendering it with what was typed.
FIELDS = (
    "outcome",
    "advice",
    "documentation_note",
    "appointment_unit",
    "appointment_at",
    "referral_to",
    "renewed_prescription",
    "emergency_unit",
)
MAX_CHARS = {
    "advice": 8000,
    "documentation_note": 20000,
    "appointment_unit": 200,
    "referral_to": 200,
    "renewed_prescription": 500,
    "emergency_unit": 200,
}


@dataclass(frozen=True)
class Closing:
    """The form checked: chat's closing body, or what is wrong (field -> message key)."""

    body: dict[str, Any] | None
    errors: dict[str, str] = field(default_factory=dict)


def _local_time(typed: str, zone: tzinfo) -> datetime | None:
    """A time typed in the form; without a zone it is the care unit's own."""
    try:
        when = datetime.fromisoformat(typed)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=zone)


def check_closing(form: Mapping[str, str], now: datetime, zone: tzinfo) -> Closing:
    """Check the closing form for its outcome; the body carries only that outcome's fields."""
    typed = {name: (form.get(name) or "").strip() for name in FIELDS}
    outcome = typed["outcome"]
    if outcome not in OUTCOMES:
        return Closing(None, {"outcome": "close.err.outcome"})
    errors: dict[str, str] = {}
    for name in ("documentation_note", *REQUIRED[outcome]):
        if not typed[name]:
            errors[name] = "close.err.required"
    for name, most in MAX_CHARS.items():
        if len(typed[name]) > most:
            errors[name] = "close.err.too_long"
    starts_at = None
    if outcome == "booked_appointment" and typed["appointment_at"]:
        starts_at = _local_time(typed["appointment_at"], zone)
        if starts_at is None:
            errors["appointment_at"] = "close.err.not_a_time"
        elif starts_at <= now:
            errors["appointment_at"] = "close.err.in_past"
    if errors:
        return Closing(None, errors)
    body: dict[str, Any] = {
        "outcome": outcome,
        "advice": typed["advice"] or None,
        "documentation_note": typed["documentation_note"],
    }
    if starts_at is not None:
        body["appointment"] = {
            "care_unit": typed["appointment_unit"],
            "starts_at": starts_at.isoformat(),
        }
    for name in OWN_FIELDS[outcome]:
        if name not in ("appointment_unit", "appointment_at"):
            body[name] = typed[name] or None
    return Closing(body)
