"""The web front end's commands for care staff beyond taking a case: the worklist in one
call to queue, putting a case back or handing it on, inviting a consultant, closing.

Like ``service``: each takes the session, calls the services with its token and returns
plain data for a page.
"""

from __future__ import annotations

import uuid
from datetime import tzinfo
from typing import Any

from careflow.web import closing, service
from careflow.web.domain import Session
from careflow.web.service import Web, call

#: How many waiting cases of each queue the worklist lists, in order (the rest are counted).
LISTED_PER_QUEUE = 30


async def worklist(web: Web, session: Session) -> dict[str, Any]:
    """Every queue of the region with its first waiting cases, and the patients a
    notification could not reach: one call to queue, whatever the queues' length."""
    found = await call(
        web, session, "queue", "GET", "/worklist", params={"first": LISTED_PER_QUEUE}
    )
    queues = found["queues"]
    return {
        "queues": queues,
        "unreached": found["unreached"],
        "listed_per_queue": LISTED_PER_QUEUE,
        **service.near_limit_summary(queues),
    }


async def requeue(web: Web, session: Session, case_id: uuid.UUID, reason: str) -> None:
    """Put a case the staff member took back in its queue; it keeps its place."""
    await call(web, session, "queue", "POST", f"/cases/{case_id}/requeue", json={"reason": reason})


async def transfer(
    web: Web,
    session: Session,
    case_id: uuid.UUID,
    reason: str,
    skill: str | None,
    region: str | None,
) -> None:
    """Hand a case to another skill's or region's queue; it keeps its waiting time."""
    body: dict[str, Any] = {"reason": reason}
    if skill:
        body["skill"] = skill
    if region:
        body["region"] = region
    await call(web, session, "queue", "POST", f"/cases/{case_id}/transfer", json=body)


async def invite(
    web: Web, session: Session, case_id: uuid.UUID, staff_id: str, reason: str
) -> None:
    """Invite a colleague (by staff id) to consult on the case's conversation."""
    await call(
        web,
        session,
        "chat",
        "POST",
        f"/cases/{case_id}/consultants",
        json={"consultant": {"staff_id": staff_id}, "reason": reason},
    )


async def close(
    web: Web, session: Session, case_id: uuid.UUID, form: dict[str, str], zone: tzinfo
) -> closing.Closing:
    """Close the contact when the form holds what its outcome needs; else say what is
    missing (nothing is sent)."""
    checked = closing.check_closing(form, web.clock.now(), zone)
    if checked.body is not None:
        await service.close(web, session, case_id, checked.body)
    return checked
