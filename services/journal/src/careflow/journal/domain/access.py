"""Who reads a case's entries, and on what ground; the access log records the ground.

A care provider is a region (the vårdgivare); its care units write the entries.
Inside the provider, staff read a case only within a **care relation**: their care
unit handled the case, or they are one of its professionals (Patientdatalagen
4 kap. 1 §). Without one, a licensed clinician of the case's own region may open it
in an emergency, with the reason stated and the access log marking it. Auditors
read their own region's record (every read logged: that is their job) and never use
emergency access. Another provider reads only with the patient's consent. A block
(spärr) placed by the patient hides each care unit's entries from every other unit
and every other provider, and no emergency lifts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from careflow.contracts import Event, Professional
from careflow.journal.domain.consent import CaseConsents
from careflow.kit.domain import Forbidden, Invalid, NotFound

T = TypeVar("T")

#: Why a reader saw what they saw; the access log records it with every read.
CARE_RELATION, AUDIT, CONSENT, EMERGENCY, WITHHELD, BLOCKED = (
    "care_relation",
    "audit",
    "consent",
    "emergency",
    "withheld",
    "blocked",
)
#: The ground of an operator's read from the command line (the Kafka topics or the database).
OPERATOR = "operator"
#: An operator's read states its purpose in at least this many characters.
OPERATOR_PURPOSE_MIN = 10
#: The ground of reads logged before care relations were required (any staff of the region).
OWN_PROVIDER = "own_provider"
#: The grounds on which a reader is shown nothing.
HIDDEN = frozenset({WITHHELD, BLOCKED})
#: The purpose a read states when the caller gives none.
DEFAULT_PURPOSE = "care"
#: An emergency read must say why, in at least this many characters.
EMERGENCY_REASON_MIN = 10
#: Titles of licensed clinicians (legitimerad yrkesutövare) who may open a record in an
#: emergency, as the staff catalogue's ``title`` claim names them (English or Swedish).
LICENSED_CLINICAL_TITLES = frozenset(
    {
        "doctor",
        "physician",
        "läkare",
        "nurse",
        "sjuksköterska",
        "registered nurse",
        "midwife",
        "barnmorska",
        "psychologist",
        "psykolog",
        "physiotherapist",
        "fysioterapeut",
        "dentist",
        "tandläkare",
        "pharmacist",
        "farmaceut",
        "apotekare",
    }
)


@dataclass(frozen=True)
class CareRelation:
    """Who has a care relation with a case: the care units and the professionals (staff
    ids) its events named (turn taken, messages, video, closing note, corrections)."""

    care_units: frozenset[str] = frozenset()
    professionals: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Reader:
    """Who reads: their role, provider (region), care unit and title, from their token."""

    subject_id: str
    role: str
    region: str
    title: str | None = None
    care_unit: str | None = None


def relations_named(events: Iterable[Event]) -> list[tuple[UUID, str, str, UUID]]:
    """The care relations events name: ``(case, staff id, care unit, event)`` for every
    event that carries the professional acting in the case (the turn taken, messages,
    video, the closing note, corrections)."""
    found = []
    for e in events:
        professional = getattr(e, "professional", None)
        if isinstance(professional, Professional):
            found.append((e.case_id, professional.staff_id, professional.care_unit, e.event_id))
    return found


def has_care_relation(reader: Reader, relation: CareRelation) -> bool:
    """The reader's care unit handled the case, or the reader is one of its professionals."""
    return reader.subject_id in relation.professionals or (
        reader.care_unit is not None and reader.care_unit in relation.care_units
    )


def is_licensed_clinician(title: str | None) -> bool:
    """A licensed clinical title (never an auditor's or an administrator's)."""
    return (title or "").strip().casefold() in LICENSED_CLINICAL_TITLES


def require_emergency_allowed(reader: Reader, case_provider: str) -> None:
    """Emergency access: licensed clinicians only, and only to their own region's record."""
    if reader.role != "staff" or not is_licensed_clinician(reader.title):
        raise Forbidden("emergency access is for licensed clinical staff only")
    if reader.region != case_provider:
        raise Forbidden("emergency access reaches only your own care provider's (region's) record")


def access_basis(
    case_provider: str,
    relation: CareRelation,
    reader: Reader,
    consents: CaseConsents,
    emergency: bool,
) -> str:
    """On what ground ``reader`` reads a case of ``case_provider`` (its region).

    - An emergency request is refused outright unless the reader may make one
      (``require_emergency_allowed``).
    - Auditors read their own region's cases (``audit``); nothing elsewhere.
    - Staff of the case's region read within a care relation; without one, in an
      emergency (``emergency``), otherwise nothing (``withheld``).
    - Staff of another provider: nothing while the patient blocks the case; with the
      patient's consent for their provider, the case (``consent``); otherwise nothing.
    """
    if emergency:
        require_emergency_allowed(reader, case_provider)
    if reader.role == "auditor":
        return AUDIT if reader.region == case_provider else WITHHELD
    if reader.region == case_provider:
        if has_care_relation(reader, relation):
            return CARE_RELATION
        return EMERGENCY if emergency else WITHHELD
    if consents.blocked:
        return BLOCKED
    if reader.region in consents.providers:
        return CONSENT
    return WITHHELD


def require_stated_reason(basis: str, purpose: str) -> None:
    """Emergency access needs its reason stated; refused, the read happens (and logs) nothing."""
    if basis == EMERGENCY and (
        len(purpose.strip()) < EMERGENCY_REASON_MIN or purpose == DEFAULT_PURPOSE
    ):
        raise Invalid("emergency access needs the reason stated (10 characters or more)")


def require_operator(operator: str | None, purpose: str | None) -> tuple[str, str]:
    """An operator reads a case's health data from the command line only named and with a
    stated purpose, both logged; refused, nothing is read."""
    who, why = (operator or "").strip(), (purpose or "").strip()
    if not who:
        raise Invalid("name the operator reading (--operator or CAREFLOW_OPERATOR): it is logged")
    if len(why) < OPERATOR_PURPOSE_MIN:
        raise Invalid(
            f"state the purpose of the read (--purpose, {OPERATOR_PURPOSE_MIN} characters or "
            "more): it is logged"
        )
    return who, why


def visible(
    basis: str,
    reader: Reader,
    relation: CareRelation,
    consents: CaseConsents,
    entries: Sequence[T],
    unit_of: Callable[[T], str | None],
) -> list[T]:
    """The entries a reader on ``basis`` is shown.

    Hidden grounds see none; auditors, and everyone while there is no block, see all.
    Under a block each care unit sees only the entries it wrote, plus those no unit
    wrote (the patient's triage answers) if it is one of the case's units: the block
    holds between care units inside the provider, in an emergency too.
    """
    if basis in HIDDEN:
        return []
    if basis == AUDIT or not consents.blocked:
        return list(entries)
    own = reader.care_unit
    return [
        e
        for e in entries
        if ((unit := unit_of(e)) is not None and unit == own)
        or (unit is None and own is not None and own in relation.care_units)
    ]


def require_whole_view(basis: str, withheld: int = 0) -> None:
    """Views that show every entry's content at once (verify, timeline, FHIR) have nothing
    to withhold entry by entry: without a ground to read all of it, the case looks unknown."""
    if basis in HIDDEN or withheld:
        raise NotFound("no journal for this case")


def require_care_relation(basis: str) -> None:
    """Only staff within the case's care relation correct its entries; to anyone else the
    case looks unknown."""
    if basis != CARE_RELATION:
        raise NotFound("no journal for this case")
