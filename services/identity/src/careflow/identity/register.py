"""The population register adapter, shaped like Skatteverket's Navet.

``PopulationRegister`` is what identity asks. ``SeedRegister`` answers from a
seed file of fictitious test persons, for development, tests and staging only
(settings refuse it in production). ``HttpRegister`` asks the region's register
service (Navet, or the integration platform in front of it) over mutual TLS.
``StaffCatalogue`` (HSA) and ``SeedStaffCatalogue`` do the same for staff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from careflow.identity.domain import Person, StaffMember

SEED_FILE = Path(__file__).with_name("seed") / "persons.json"
STAFF_SEED_FILE = Path(__file__).with_name("seed") / "staff.json"


class PopulationRegister(Protocol):
    async def lookup(self, pin: str) -> Person | None:
        """The person with this 12-digit number, or None when the register does not know them."""
        ...


class SeedRegister:
    """Answers from a JSON seed file (``persons``: pin, names, region, markers, guardianships)."""

    def __init__(self, path: Path = SEED_FILE) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self._people = {
            p["pin"]: Person(
                pin=p["pin"],
                given_name=p["given_name"],
                family_name=p["family_name"],
                region=p.get("region"),
                protected_identity=bool(p.get("protected_identity", False)),
                guardian_of=tuple(p.get("guardian_of", ())),
            )
            for p in data["persons"]
        }

    async def lookup(self, pin: str) -> Person | None:
        return self._people.get(pin)

    def all(self) -> list[Person]:
        """Every seeded person (for tests and the development login picker)."""
        return list(self._people.values())


class StaffCatalogue(Protocol):
    async def by_pin(self, pin: str) -> StaffMember | None:
        """The professional with this 12-digit number, or None when the catalogue lacks them."""
        ...


class SeedStaffCatalogue:
    """Staff from a JSON seed file; a production adapter asks the region's HSA catalogue."""

    def __init__(self, path: Path = STAFF_SEED_FILE) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self._by_pin = {
            s["pin"]: StaffMember(
                s["hsa_id"], s["pin"], s["name"], s["title"], s["region"], tuple(s["care_units"])
            )
            for s in data["staff"]
        }

    async def by_pin(self, pin: str) -> StaffMember | None:
        return self._by_pin.get(pin)
