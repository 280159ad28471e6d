"""Who reads a case's entries, and on what ground; the access log records the ground.

A care provider is a region (the vårdgivare; its care units write the entries),
so every entry of a case belongs to the provider of the case's region.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from careflow.journal.domain.consent import CaseConsents
from careflow.kit.domain import Invalid, NotFound

T = TypeVar("T")

#: Why a reader saw what they saw; the access log records it with every read.
OWN_PROVIDER, CONSENT, EMERGENCY, WITHHELD, BLOCKED = (
    "own_provider",
    "consent",
    "emergency",
    "withheld",
    "blocked",
)
#: The grounds on which another provider's reader is shown nothing.
HIDDEN = frozenset({WITHHELD, BLOCKED})
#: The purpose a read states when the caller gives none.
DEFAULT_PURPOSE = "care"
#: An emergency read must say why, in at least this many characters.
EMERGENCY_REASON_MIN = 10


def access_basis(
    entry_provider: str, reader_provider: str, consents: CaseConsents, emergency: bool
) -> str:
    """On what ground a reader of ``reader_provider`` sees entries ``entry_provider`` wrote.

    The writing provider always reads its own entries. Another provider never reads
    blocked entries, not even in an emergency (a block binds every other provider).
    Otherwise consent lets it read; emergency access (stated reason, see
    ``require_stated_reason``) overrides a missing consent; without either the entries
    are withheld. With consent no emergency access is needed, so none is marked.
    """
    if entry_provider == reader_provider:
        return OWN_PROVIDER
    if consents.blocked:
        return BLOCKED
    if reader_provider in consents.providers:
        return CONSENT
    if emergency:
        return EMERGENCY
    return WITHHELD


def require_stated_reason(basis: str, purpose: str) -> None:
    """Emergency access needs its reason stated; refused, the read happens (and logs) nothing."""
    if basis == EMERGENCY and (
        len(purpose.strip()) < EMERGENCY_REASON_MIN or purpose == DEFAULT_PURPOSE
    ):
        raise Invalid("emergency access needs the reason stated (10 characters or more)")


def visible(basis: str, entries: Sequence[T]) -> list[T]:
    """The entries a reader on ``basis`` is shown: all of them, or none."""
    return [] if basis in HIDDEN else list(entries)


def require_whole_view(basis: str) -> None:
    """Views that show every entry's content at once (verify, timeline, FHIR) have nothing
    to withhold entry by entry: without a ground to read, the case looks unknown."""
    if basis in HIDDEN:
        raise NotFound("no journal for this case")


def require_writing_provider(basis: str) -> None:
    """Only the provider that wrote the entries corrects them; to anyone else the case
    looks unknown."""
    if basis != OWN_PROVIDER:
        raise NotFound("no journal for this case")
