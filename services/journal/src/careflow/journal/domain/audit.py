"""An auditor's search of the record: what it needs, and what the access log says of it.

Auditors search their own region only; every search that finds a case is written to that
patient's access log (the patient sees who searched them out), and every search is
logged as an event without the number searched for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from careflow.kit.domain import Forbidden, Invalid

#: The access log's action for a case an auditor's search found.
SEARCH_ACTION = "audit_search"
#: The access log's action for an auditor reading a patient's access log.
ACCESS_LOG_ACTION = "audit_access_log"
#: At most this many cases per search: narrow it down rather than page through a region.
SEARCH_LIMIT = 100


@dataclass(frozen=True)
class Search:
    """What an auditor searches for: any of a patient, a professional, a day."""

    pin: str | None
    professional: str | None
    on: date | None

    @property
    def criteria(self) -> str:
        """The kinds of criteria used, for the access log and the logs (never the values)."""
        return named_by(
            "search",
            (("identity_number", self.pin), ("professional", self.professional), ("date", self.on)),
        )


def require_auditor(role: str) -> None:
    """Only auditors search the record (staff reach cases through their care relations)."""
    if role != "auditor":
        raise Forbidden("only auditors search the record")


def named_by(what: str, criteria: tuple[tuple[str, object], ...]) -> str:
    """``what`` and the kinds of criteria given, never their values (for logs)."""
    return f"{what} by " + ", ".join(name for name, value in criteria if value is not None)


def identity_number(pin: str | None) -> str | None:
    """A searched-for personal identity number: 12 digits, a hyphen allowed; None when
    none is given."""
    number = pin.replace("-", "").strip() if pin else None
    if number is not None and (len(number) != 12 or not number.isdigit()):
        raise Invalid("a personal identity number has 12 digits (YYYYMMDDNNNN)")
    return number or None


def search_of(pin: str | None, professional: str | None, on: date | None) -> Search:
    """A search with at least one criterion; a number is 12 digits (a hyphen allowed)."""
    number = identity_number(pin)
    name = professional.strip() if professional else None
    if not (number or name or on):
        raise Invalid("search by identity number, professional or date")
    return Search(number, name or None, on)
