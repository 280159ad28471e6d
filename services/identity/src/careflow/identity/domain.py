"""Identity rules of the walking skeleton: who a token names.

Pure: no I/O. Patients are named by an opaque subject id derived from their
personal identity number with a keyed hash, so no other service (and no log
line) needs the number to tell patients apart. The full e-ID login and the
rules for guardians and minors come with the identity issue.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from careflow.kit.domain import Invalid

_PIN = re.compile(r"^(19|20)\d{10}$")


def normalise_pin(value: str) -> str:
    """A 12-digit personal identity number (YYYYMMDDNNNC) with a valid check digit."""
    digits = value.replace("-", "").replace("+", "").strip()
    if not _PIN.match(digits):
        raise Invalid("a personal identity number has 12 digits: YYYYMMDDNNNC")
    if not _luhn_ok(digits[2:]):
        raise Invalid("the personal identity number's check digit is wrong")
    return digits


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def subject_id(pin: str, key: bytes) -> str:
    """The opaque, stable subject id of a person."""
    return "p-" + hmac.new(key, pin.encode(), hashlib.sha256).hexdigest()[:24]
