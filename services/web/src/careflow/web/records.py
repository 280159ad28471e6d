"""Staff's and auditors' record-keeping: a professional's unsigned notes and signing one,
the region's complaints, the auditor's monthly sample check and the access-log search
across every service that logs reads.

Every call goes to the owning service with the person's own token; the services decide
who may read what and log each read. The access-log search fans out: the journal answers
for itself and names a patient's cases; queue, chat and notify each answer the kit's
search (``/access-log``) for their own reads, and each row says which service logged it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from careflow.kit.domain import Invalid
from careflow.web.domain import Session
from careflow.web.service import Web, call, respond

#: The services whose reads the kit's access-log search serves (the journal has its own).
LOGGING_SERVICES = ("queue", "chat", "notify")


async def unsigned_notes(web: Web, session: Session) -> list[dict[str, Any]]:
    """The notes the staff member wrote and has not signed, oldest first, overdue flagged."""
    notes: list[dict[str, Any]] = await call(web, session, "journal", "GET", "/me/unsigned-notes")
    return notes


async def sign(web: Web, session: Session, case_id: uuid.UUID, note_id: uuid.UUID) -> None:
    """Sign one's own note (the journal records the signer and the time)."""
    await call(web, session, "journal", "POST", f"/cases/{case_id}/entries/{note_id}/signature")


async def complaints(web: Web, session: Session) -> list[dict[str, Any]]:
    """The complaints about contacts in the staff member's region, newest first."""
    found: list[dict[str, Any]] = await call(web, session, "chat", "GET", "/complaints")
    return found


@dataclass(frozen=True)
class SampleRequest:
    """Which monthly sample: a care unit's reads in a month, drawn with a seed."""

    care_unit: str
    month: str
    seed: str
    size: int = 20

    @property
    def params(self) -> dict[str, Any]:
        return {
            "care_unit": self.care_unit,
            "month": self.month,
            "seed": self.seed,
            "size": self.size,
        }


async def sample_csv(web: Web, session: Session, wanted: SampleRequest) -> str:
    """The sample as the journal exports it: CSV with a conclusion column."""
    response = await respond(web, session, "journal", "GET", "/audit/samples", params=wanted.params)
    return response.text


def sample_rows(text: str) -> list[dict[str, str]]:
    """The CSV's rows as the page shows them."""
    return list(csv.DictReader(io.StringIO(text)))


async def conclude(
    web: Web, session: Session, wanted: SampleRequest, access_id: int, conclusion: str
) -> None:
    """Record the reviewer's conclusion on one read of the sample."""
    if not conclusion.strip():
        raise Invalid("write a conclusion")
    body = {**wanted.params, "access_id": access_id, "conclusion": conclusion.strip()}
    await call(web, session, "journal", "POST", "/audit/samples/conclusions", json=body)


@dataclass(frozen=True)
class ReadSearch:
    """An auditor's search of every service's access log; at least one criterion."""

    pin: str = ""
    reader: str = ""
    care_unit: str = ""
    since: str = ""
    until: str = ""

    def __post_init__(self) -> None:
        if not any(v.strip() for v in (self.pin, self.reader, self.care_unit)) and not (
            self.since or self.until
        ):
            raise Invalid("search by identity number, reader, care unit or period")

    @property
    def number(self) -> str:
        return self.pin.replace("-", "").strip()

    def common(self) -> dict[str, Any]:
        """The criteria every service's search takes (not the identity number)."""
        given = (
            ("reader", self.reader.strip()),
            ("care_unit", self.care_unit.strip()),
            ("since", self.since),
            ("until", self.until),
        )
        return {k: v for k, v in given if v}


def _row(service: str, r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "service": service, "what": r.get("what") or r.get("action", "")}


async def search_reads(web: Web, session: Session, wanted: ReadSearch) -> list[dict[str, Any]]:
    """Every logged read matching the search, in every service, newest first.

    A patient's cases come from the journal (which alone knows identity numbers); the other
    services are asked for their reads of those cases. Without an identity number each
    service is asked for the reads matching the other criteria.
    """
    common = wanted.common()
    journal_params = dict(common)
    case_ids: list[str] = []
    if wanted.number:
        journal_params["personal_identity_number"] = wanted.number
        cases = await call(
            web,
            session,
            "journal",
            "GET",
            "/audit/cases",
            params={"personal_identity_number": wanted.number},
        )
        case_ids = [str(c["case_id"]) for c in cases]
    journal = await call(web, session, "journal", "GET", "/audit/accesses", params=journal_params)
    rows = [_row("journal", r) for r in journal]
    if wanted.number and not case_ids:
        return rows
    params: dict[str, Any] = {**common, **({"case_id": case_ids} if case_ids else {})}
    answers = await asyncio.gather(
        *(call(web, session, s, "GET", "/access-log", params=params) for s in LOGGING_SERVICES)
    )
    for service, found in zip(LOGGING_SERVICES, answers, strict=True):
        rows += [_row(service, r) for r in found]
    rows.sort(key=lambda r: datetime.fromisoformat(str(r["at"])), reverse=True)
    return rows
