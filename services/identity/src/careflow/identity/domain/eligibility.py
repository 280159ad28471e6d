"""Who may use the service, and for whom they may act: the registers' answers and the rules.

Pure: today's date and what the population register and the staff catalogue
said are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal

from careflow.identity.domain.guidance import GUIDANCE_SAID
from careflow.identity.domain.numbers import COORDINATION_GUIDANCE, IdentityNumber, NumberKind
from careflow.kit.domain import Forbidden

#: The regions that run the service (1177 direkt), by the name the register uses.
REGIONS: frozenset[str] = frozenset(
    {
        "Dalarna",
        "Gotland",
        "Jönköpings län",
        "Kalmar län",
        "Kronoberg",
        "Skåne",
        "Uppsala",
        "Värmland",
        "Västerbotten",
        "Västernorrland",
        "Västmanland",
        "Örebro län",
    }
)

#: A guardian acts for a child from this age ...
CHILD_FROM_AGE = 1
#: ... until the day the child turns this age; from then the child logs in themselves.
SELF_FROM_AGE = 13


@dataclass(frozen=True)
class Person:
    """What the population register (Navet) says about a person."""

    pin: str
    given_name: str
    family_name: str
    region: str | None
    #: sekretessmarkering, skyddad folkbokföring or fingerade personuppgifter
    protected_identity: bool = False
    #: 12-digit numbers of the children this person is registered guardian of
    guardian_of: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class StaffMember:
    """What the staff catalogue (HSA) says about a professional."""

    hsa_id: str
    pin: str
    name: str
    title: str
    region: str
    care_units: tuple[str, ...]

    @property
    def role(self) -> Literal["staff", "auditor"]:
        """The role their tokens carry: auditors are in the catalogue too, but only ever read."""
        return "auditor" if self.title == "auditor" else "staff"


class Refusal(StrEnum):
    """Why someone may not use the service (each with guidance for the person)."""

    COORDINATION_NUMBER = "coordination_number"
    UNDER_ONE = "under_one"
    CHILD_MUST_BE_ACTED_FOR = "child_must_be_acted_for"
    PROTECTED_IDENTITY = "protected_identity"
    REGION_NOT_SERVED = "region_not_served"
    NOT_IN_REGISTER = "not_in_register"
    NOT_GUARDIAN = "not_guardian"
    CHILD_TOO_YOUNG = "child_too_young"
    CHILD_TOO_OLD = "child_too_old"
    PROTECTED_GUARDIANSHIP = "protected_guardianship"
    NOT_STAFF = "not_staff"


GUIDANCE: dict[Refusal, str] = {
    Refusal.COORDINATION_NUMBER: COORDINATION_GUIDANCE,
    Refusal.UNDER_ONE: "Children under one year are not helped here: call 1177.",
    Refusal.CHILD_MUST_BE_ACTED_FOR: (
        "Children under 13 are helped through a guardian: ask your guardian to log in."
    ),
    Refusal.PROTECTED_IDENTITY: (
        "With protected personal data, call 1177 or contact your vårdcentral directly."
    ),
    Refusal.REGION_NOT_SERVED: (
        "Your region does not offer this service. Call 1177 or visit 1177.se for your region."
    ),
    Refusal.NOT_IN_REGISTER: "We could not find you in the population register. Call 1177.",
    Refusal.NOT_GUARDIAN: "You are not registered as this child's guardian.",
    Refusal.CHILD_TOO_YOUNG: "Children under one year are not helped here: call 1177.",
    Refusal.CHILD_TOO_OLD: "From 13, children log in themselves with their own e-ID.",
    Refusal.PROTECTED_GUARDIANSHIP: (
        "Acting for a child is not possible when the child or the guardian has protected "
        "personal data. Call 1177 or contact your vårdcentral."
    ),
    Refusal.NOT_STAFF: "You are not in the staff catalogue.",
}


class NotAllowed(Forbidden):
    """A rule refuses the login or the acting; ``refusal`` says which, ``reason`` guides
    (and ``said``, in every language)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(GUIDANCE[refusal], GUIDANCE_SAID[refusal.value])
        self.refusal = refusal


def check_patient(number: IdentityNumber, person: Person | None, today: date) -> Person:
    """May this person log in as a patient for themselves? Returns them, or raises NotAllowed."""
    if number.kind is NumberKind.COORDINATION:
        raise NotAllowed(Refusal.COORDINATION_NUMBER)
    if person is None:
        raise NotAllowed(Refusal.NOT_IN_REGISTER)
    if person.protected_identity:
        raise NotAllowed(Refusal.PROTECTED_IDENTITY)
    age = number.age_on(today)
    if age < CHILD_FROM_AGE:
        raise NotAllowed(Refusal.UNDER_ONE)
    if age < SELF_FROM_AGE:
        raise NotAllowed(Refusal.CHILD_MUST_BE_ACTED_FOR)
    if person.region not in REGIONS:
        raise NotAllowed(Refusal.REGION_NOT_SERVED)
    return person


def check_acting_for(
    guardian: Person,
    child_number: IdentityNumber,
    child: Person | None,
    today: date,
) -> Person:
    """May ``guardian`` act for this child? Returns the child, or raises NotAllowed.

    From the child's first birthday until the day before the thirteenth, for a
    child the person is registered guardian of, and never when either of them
    has protected identity. The child's region must run the service.
    """
    if child_number.kind is NumberKind.COORDINATION:
        raise NotAllowed(Refusal.COORDINATION_NUMBER)
    if child is None or child.pin not in guardian.guardian_of:
        raise NotAllowed(Refusal.NOT_GUARDIAN)
    if guardian.protected_identity or child.protected_identity:
        raise NotAllowed(Refusal.PROTECTED_GUARDIANSHIP)
    age = child_number.age_on(today)
    if age < CHILD_FROM_AGE:
        raise NotAllowed(Refusal.CHILD_TOO_YOUNG)
    if age >= SELF_FROM_AGE:
        raise NotAllowed(Refusal.CHILD_TOO_OLD)
    if child.region not in REGIONS:
        raise NotAllowed(Refusal.REGION_NOT_SERVED)
    return child


def children_to_act_for(
    guardian: Person, children: Sequence[tuple[IdentityNumber, Person | None]], today: date
) -> list[Person]:
    """The guardian's children they may act for today (aged 1-12, no protected identity,
    in a region that runs the service), in the register's order: at 13 a child is gone."""
    allowed = []
    for number, child in children:
        try:
            allowed.append(check_acting_for(guardian, number, child, today))
        except NotAllowed:
            continue
    return allowed


def guidance(reason: str, language: str | None = None) -> str:
    """What to tell a person refused for ``reason`` (a ``Refusal`` value), in ``language``
    when one is asked for (sv, en, ar, so, fa, fi)."""
    try:
        refusal = Refusal(reason)
    except ValueError:
        refusal = None
    if language is not None:
        texts = GUIDANCE_SAID[refusal.value if refusal else "failed"]
        if texts.get(language):
            return texts[language]
    if refusal is None:
        return "The login did not complete. Start a new login."
    return GUIDANCE[refusal]


def check_staff_still(
    member: StaffMember | None, hsa_id: str, role: str, care_unit: str | None
) -> None:
    """Is the professional a token was issued to still who the catalogue says, in that care
    unit and with that role? Raises NotAllowed(NOT_STAFF) otherwise (on refresh)."""
    if (
        member is None
        or member.hsa_id != hsa_id
        or member.role != role
        or care_unit not in member.care_units
    ):
        raise NotAllowed(Refusal.NOT_STAFF)
