"""Swedish identity numbers and the pseudonymous subject ids derived from them.

Personal identity numbers are validated with python-stdnum and kept as 12
digits (YYYYMMDDNNNC). Patients are named everywhere else by an opaque subject
id derived with a keyed hash, so no other service (and no log line) needs the
number to tell patients apart.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

from careflow.identity.domain.guidance import GUIDANCE_SAID
from careflow.kit.domain import Forbidden, Invalid

COORDINATION_GUIDANCE = (
    "1177 direkt needs a Swedish personal identity number. With a coordination number, "
    "call 1177 or contact your vårdcentral."
)


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


def normalise_pin(value: str, today: date) -> str:
    """The 12 digits of a valid personal identity number (coordination numbers refused)."""
    number = parse_identity_number(value, today)
    if number.kind is NumberKind.COORDINATION:
        raise Forbidden(COORDINATION_GUIDANCE, GUIDANCE_SAID["coordination_number"])
    return number.digits


def subject_id(pin: str, key: bytes) -> str:
    """The opaque, stable subject id of a person."""
    return "p-" + hmac.new(key, pin.encode(), hashlib.sha256).hexdigest()[:24]
