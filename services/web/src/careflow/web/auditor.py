"""An auditor's commands: search the region's record, read a case's timeline, its
verification and its state at a moment, a patient's access log, the FHIR export.

Every call goes to the journal with the auditor's own token; the journal decides what
the auditor may read and logs each search and each read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from careflow.kit.domain import Invalid
from careflow.web.domain import Session
from careflow.web.service import Web, call

#: Why the auditor reads: the journal's access log records it with every read.
PURPOSE = "audit"


async def search(
    web: Web, session: Session, pin: str, professional: str, on: str
) -> list[dict[str, Any]]:
    """The auditor's region's cases matching the criteria given (at least one)."""
    params = {
        k: v
        for k, v in (
            ("personal_identity_number", pin.replace("-", "").strip()),
            ("professional", professional.strip()),
            ("on", on.strip()),
        )
        if v
    }
    if not params:
        raise Invalid("search by identity number, professional or date")
    found: list[dict[str, Any]] = await call(
        web, session, "journal", "GET", "/audit/cases", params=params
    )
    return found


async def case(
    web: Web, session: Session, case_id: uuid.UUID, at: datetime | None
) -> dict[str, Any]:
    """A case's journal entries (corrections as their own entries), the verification of
    its chains against the signed checkpoint, its timeline and, with ``at``, its state then."""
    params: dict[str, Any] = {"purpose": PURPOSE}
    entries = await call(web, session, "journal", "GET", f"/cases/{case_id}/entries", params=params)
    verified = await call(web, session, "journal", "GET", f"/cases/{case_id}/verify", params=params)
    if at is not None:
        params["at"] = at.isoformat()
    timeline = await call(
        web, session, "journal", "GET", f"/cases/{case_id}/timeline", params=params
    )
    corrected = {e["corrects_event_id"] for e in entries if e.get("corrects_event_id")}
    return {
        "entries": entries,
        "corrected": {str(c) for c in corrected},
        "verified": verified,
        "events": timeline.get("events", []),
        "state_at": timeline.get("state_at"),
    }


async def access_log(web: Web, session: Session, pin: str) -> list[dict[str, Any]]:
    """Who read this patient's record in the auditor's region."""
    found: list[dict[str, Any]] = await call(
        web,
        session,
        "journal",
        "GET",
        "/audit/access-log",
        params={"personal_identity_number": pin.replace("-", "").strip()},
    )
    return found


async def fhir(web: Web, session: Session, case_id: uuid.UUID) -> dict[str, Any]:
    """The case's FHIR R4 Bundle as the journal exports it (the export is logged there)."""
    bundle: dict[str, Any] = await call(
        web, session, "journal", "GET", f"/cases/{case_id}/fhir", params={"purpose": PURPOSE}
    )
    return bundle
