"""Identity rules: who may use the service, and for whom they may act.

Pure: no I/O; today's date and the register's answers are passed in.
Personal identity numbers are validated with python-stdnum and kept as 12
digits (YYYYMMDDNNNC). Patients are named everywhere else by an opaque
subject id derived with a keyed hash, so no other service (and no log line)
needs the number to tell patients apart.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

from careflow.kit.domain import Forbidden, Invalid

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


class NumberKind(StrEnum):
    PERSONAL = "personal_identity_number"
    COORDINATION = "coordination_number"


@dataclass(frozen=True)
class IdentityNumber:
    """A validated Swedish identity number, normalised to 12 digits."""

    digits: str
    kind: NumberKind
    birth_date: date
    sex: str  # "M" or "F", from the second-to-last digit

    def age_on(self, today: date) -> int:
        """Whole years on ``today``; a birthday counts from its own day."""
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - int(before_birthday)


def parse_identity_number(raw: str, today: date) -> IdentityNumber:
    """Parse a personal or coordination number in any common form.

    Accepts YYYYMMDDNNNC, YYYYMMDD-NNNC, YYMMDD-NNNC and YYMMDD+NNNC (the '+'
    marks someone 100 or older). Raises ``Invalid`` with the reason.
    """
    text = raw.strip().replace(" ", "")
    digits = text.replace("-", "").replace("+", "")
    if not digits.isdigit() or len(digits) not in (10, 12):
        raise Invalid("an identity number has 10 or 12 digits: YYYYMMDD-NNNC or YYMMDD-NNNC")
    if len(digits) == 10:
        digits = _with_century(digits, centenarian="+" in text, today=today)
    day = int(digits[6:8])
    kind = NumberKind.COORDINATION if day > 60 else NumberKind.PERSONAL
    if not luhn.is_valid(digits[2:]):
        raise Invalid("the identity number's check digit is wrong")
    birth_digits = (
        digits if kind is NumberKind.PERSONAL else f"{digits[:6]}{day - 60:02d}{digits[8:]}"
    )
    try:
        # The check digit was verified above on the number as issued (for a coordination
        # number it covers day + 60), so only the date is left to check here.
        born = personnummer.get_birth_date(f"{birth_digits[:8]}-{birth_digits[8:]}")
    except ValidationError:
        raise Invalid("the identity number does not hold a valid date of birth") from None
    if born > today:
        raise Invalid("the identity number's date of birth is in the future")
    return IdentityNumber(
        digits=digits,
        kind=kind,
        birth_date=born,
        sex="M" if int(digits[-2]) % 2 else "F",
    )


def _with_century(ten: str, centenarian: bool, today: date) -> str:
    year = int(ten[:2])
    century = today.year // 100
    if year > today.year % 100:
        century -= 1
    if centenarian:
        century -= 1
    return f"{century}{ten}"


def normalise_pin(value: str, today: date | None = None) -> str:
    """The 12 digits of a valid personal identity number (coordination numbers refused)."""
    number = parse_identity_number(value, today or date.today())
    if number.kind is NumberKind.COORDINATION:
        raise Forbidden(COORDINATION_GUIDANCE)
    return number.digits


def subject_id(pin: str, key: bytes) -> str:
    """The opaque, stable subject id of a person."""
    return "p-" + hmac.new(key, pin.encode(), hashlib.sha256).hexdigest()[:24]


# --- the population register's answer, and the rules ------------------------------------


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


COORDINATION_GUIDANCE = (
    "1177 direkt needs a Swedish personal identity number. With a coordination number, "
    "call 1177 or contact your vårdcentral."
)

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
}


class NotAllowed(Forbidden):
    """A rule refuses the login or the acting; ``refusal`` says which, ``reason`` guides."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(GUIDANCE[refusal])
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
