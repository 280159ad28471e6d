"""The patient's care journey beyond the first triage: answer again when worse while
waiting, choose another region before starting, and complain about a contact.

Commands the pages call, like ``service``: each takes the person's session and calls the
services that own the rule (triage, queue, chat) with the session's token.
"""

from __future__ import annotations

import uuid
from typing import Any

from careflow.kit.domain import Conflict, NotFound
from careflow.web import domain
from careflow.web.adapters.backends import Unavailable
from careflow.web.domain import Session
from careflow.web.service import Web, call, own_case, step

#: The session's key for a region the patient chose other than their own.
CHOSEN_REGION = "chosen_region"
#: The session's key for the last complaint filed, shown once on its receipt page.
LAST_COMPLAINT = "last_complaint"


async def retriage(web: Web, session: Session, case_id: uuid.UUID, language: str) -> str | None:
    """Start the case's questionnaire again (triage's re-triage): None when started, else
    the message key saying why triage refused it (contact has begun, the case is closed)."""
    current = await step(web, session, case_id, language)
    questionnaire_id = (current.get("questionnaire") or {}).get("id")
    if not questionnaire_id:
        raise NotFound("the case has no questionnaire")
    try:
        await call(
            web,
            session,
            "triage",
            "POST",
            f"/cases/{case_id}/triage",
            json={"questionnaire_id": questionnaire_id, "language": language},
        )
    except Conflict as refused:
        return domain.retriage_refusal_key(refused.reason)
    return None


async def regions(web: Web) -> list[dict[str, Any]]:
    """Every region with today's hours (queue) and whether it takes patients from other
    regions (triage); both lists are public. Empty when either cannot tell."""
    try:
        hours: list[dict[str, Any]] = await web.backends.json("queue", "GET", "/regions", None)
        rules: list[dict[str, Any]] = await web.backends.json("triage", "GET", "/regions", None)
    except (NotFound, Unavailable):
        return []
    open_to_others = {r["region"]: bool(r["patients_from_other_regions"]) for r in rules}
    return [{**day, "open_to_others": open_to_others.get(day["region"], False)} for day in hours]


def home_region(session: Session) -> str:
    """The region the patient is registered in (from their token)."""
    who = session.data.get("who") or {}
    return str(who.get("region", ""))


def chosen_region(session: Session) -> str | None:
    """The other region the patient chose, or None for their own."""
    chosen = session.data.get(CHOSEN_REGION)
    return chosen if isinstance(chosen, str) and chosen else None


def choosable(found: list[dict[str, Any]], home: str) -> list[str]:
    """The regions a patient of ``home`` may choose: their own and those open to others."""
    return [r["region"] for r in found if r["region"] == home or r["open_to_others"]]


async def choose_region(web: Web, session: Session, region: str) -> bool:
    """Seek care in ``region`` from now on (or the patient's own again); False when that
    region does not take patients from other regions (triage enforces it too)."""
    home = home_region(session)
    if region == home:
        await web.sessions.update_data(session, **{CHOSEN_REGION: None})
        return True
    if region not in choosable(await regions(web), home):
        return False
    await web.sessions.update_data(session, **{CHOSEN_REGION: region})
    return True


async def complain(
    web: Web, session: Session, case_id: uuid.UUID, category: str, text: str
) -> dict[str, Any]:
    """File a complaint about the case's contact with chat; kept in the session for the
    receipt page (the complaint's id and time, never its text)."""
    await own_case(web, session, case_id)
    filed: dict[str, Any] = await call(
        web,
        session,
        "chat",
        "POST",
        f"/cases/{case_id}/complaints",
        json={"category": category, "text": text},
    )
    receipt = {
        "case_id": str(case_id),
        "complaint_id": filed["complaint_id"],
        "category": filed["category"],
        "filed_at": filed["filed_at"],
    }
    await web.sessions.update_data(session, **{LAST_COMPLAINT: receipt})
    return receipt
