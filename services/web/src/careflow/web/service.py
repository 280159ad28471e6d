"""The web front end's commands: every page and the live socket call these.

Each takes the person's session, calls the other services with the session's token
(refreshing it once when it has expired) and returns plain data for a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx

from careflow.kit.auth import InvalidToken, Principal, TokenVerifier
from careflow.kit.clock import Clock
from careflow.kit.domain import DomainError, Forbidden, NotFound
from careflow.web import domain
from careflow.web.adapters.backends import Backends, Unauthenticated, Unavailable
from careflow.web.adapters.sessions import PatientCases, SessionStore
from careflow.web.domain import Session
from careflow.web.settings import WebSettings


@dataclass
class Web:
    """What the commands need, composed once in ``app.build``."""

    settings: WebSettings
    sessions: SessionStore
    cases: PatientCases
    backends: Backends
    verifier: TokenVerifier
    clock: Clock

    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.session_idle_minutes)


# --- sessions -------------------------------------------------------------------------------


async def current_session(web: Web, secret: str | None) -> Session | None:
    """The live session the cookie names, its expiry moved on; None when there is none."""
    if not secret:
        return None
    session = await web.sessions.find(secret)
    now = web.clock.now()
    if session is None:
        return None
    if domain.expired(session, now):
        await web.sessions.end(session)
        return None
    moved = domain.extended(session, now, web.idle)
    if moved is not None:
        await web.sessions.extend(session, moved)
    return session


async def new_session(web: Web) -> tuple[str, Session]:
    now = web.clock.now()
    return await web.sessions.create(now + web.idle, now)


def who(session: Session) -> Principal:
    """Who is logged in, as identity's token said at login."""
    if not session.logged_in or "who" not in session.data:
        raise Unauthenticated()
    return Principal.model_validate(session.data["who"])


def cared_for(session: Session) -> str:
    """Whose cases the pages show: the child a guardian acts for, else the person logged in."""
    person = who(session)
    return person.acting_for or person.subject_id


async def respond(
    web: Web, session: Session, service: str, method: str, path: str, **kw: Any
) -> httpx.Response:
    """Call a service as the session's person; an expired token is refreshed once."""
    if session.access_token is None:
        raise Unauthenticated()
    try:
        return await web.backends.call(service, method, path, session.access_token, **kw)
    except Unauthenticated:
        if not session.refresh_token:
            raise
        fresh = await web.backends.refresh(session.refresh_token)
        await web.sessions.set_tokens(session, fresh["access_token"], fresh.get("refresh_token"))
        return await web.backends.call(service, method, path, fresh["access_token"], **kw)


async def call(web: Web, session: Session, service: str, method: str, path: str, **kw: Any) -> Any:
    """``respond``'s JSON (None for 204)."""
    response = await respond(web, session, service, method, path, **kw)
    return None if response.status_code == 204 else response.json()


async def log_out(web: Web, session: Session) -> None:
    # A guardian acting for a child holds their own refresh token too.
    for refresh_token in (session.refresh_token, session.data.get("guardian_refresh")):
        if isinstance(refresh_token, str) and refresh_token:
            # The session ends here whatever identity says.
            with contextlib.suppress(Exception):
                await web.backends.revoke(refresh_token)
    await web.sessions.end(session)


# --- e-ID login ------------------------------------------------------------------------------


#: The roles each e-ID realm's logins may carry, and where each role starts.
REALM_ROLES = {"patient": ("patient",), "staff": ("staff", "auditor")}
HOME = {"patient": "/start", "staff": "/staff", "auditor": "/audit"}


@dataclass(frozen=True)
class LoginProgress:
    status: str  # pending, complete or failed
    message_key: str | None = None
    qr_data: str | None = None
    #: Set once complete: the new session's cookie secret and where to go.
    secret: str | None = None
    next: str | None = None


async def start_login(web: Web, session: Session, realm: str, client: str | None) -> None:
    order, login_secret = await web.backends.start_order(realm, client)
    await web.sessions.update_data(
        session,
        login={
            "realm": realm,
            "order_ref": order["order_ref"],
            "secret": login_secret,
            "auto_start_token": order["auto_start_token"],
            "qr_data": order["qr_data"],
        },
    )


def pending_login(session: Session) -> dict[str, Any]:
    login = session.data.get("login")
    if not isinstance(login, dict):
        raise NotFound("no login in progress: start again")
    return login


async def follow_login(web: Web, session: Session) -> LoginProgress:
    """Collect the order once; on completion the person gets a fresh, logged-in session."""
    login = pending_login(session)
    collected = await web.backends.collect(login["order_ref"], login["secret"])
    status = collected["status"]
    if status == "pending":
        return LoginProgress("pending", "eid.pending", qr_data=login["qr_data"])
    if status == "failed":
        await web.sessions.update_data(session, login=None)
        return LoginProgress("failed", domain.hint_key(collected.get("hint_code")))
    refused = collected.get("refused")
    if refused or not collected.get("login"):
        await web.sessions.update_data(session, login=None)
        return LoginProgress("failed", domain.refusal_key((refused or {}).get("code")))
    tokens = collected["login"]
    try:
        principal = await web.verifier.authenticate(tokens["access_token"])
    except InvalidToken as exc:
        raise Forbidden("the login could not be verified") from exc
    # Auditors log in in the staff realm; their tokens say "auditor".
    if principal.role not in REALM_ROLES.get(login["realm"], ()):
        return LoginProgress("failed", "refused.other")
    now = web.clock.now()
    secret, fresh = await web.sessions.log_in(
        session,
        principal.role,
        principal.subject_id,
        tokens["access_token"],
        tokens.get("refresh_token"),
        now + web.idle,
        now,
    )
    await web.sessions.update_data(fresh, who=principal.model_dump())
    return LoginProgress("complete", secret=secret, next=HOME[principal.role])


async def cancel_login(web: Web, session: Session) -> None:
    login = pending_login(session)
    await web.backends.cancel(login["order_ref"], login["secret"])
    await web.sessions.update_data(session, login=None)


async def approve_in_test_app(web: Web, order_ref: str, pin: str) -> None:
    if not web.settings.test_eid:
        raise NotFound("no test e-ID here")
    await web.backends.approve_in_test_app(order_ref, pin.replace("-", "").strip())


# --- patients --------------------------------------------------------------------------------


async def region_today(web: Web, region: str) -> dict[str, Any] | None:
    """The region's opening hours today and next opening (queue's public list, no token);
    None when queue cannot tell, so the start page still works without them."""
    try:
        found: dict[str, Any] = await web.backends.json(
            "queue", "GET", f"/regions/{quote(region, safe='')}", None
        )
    except (NotFound, Unavailable):
        return None
    return found


async def questionnaires(web: Web, session: Session, language: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await call(
        web, session, "triage", "GET", "/questionnaires", params={"language": language}
    )
    return found


async def open_case(
    web: Web, session: Session, questionnaire_id: str, language: str, region: str | None = None
) -> str:
    """Open a case and start its questionnaire; ``region``: another region the patient chose
    (triage refuses one that takes no patients from other regions)."""
    opened = await call(
        web,
        session,
        "triage",
        "POST",
        "/cases",
        json={"questionnaire_id": questionnaire_id, "language": language, "region": region},
    )
    case_id = uuid.UUID(opened["case_id"])
    await web.cases.add(cared_for(session), case_id, questionnaire_id, web.clock.now())
    return str(case_id)


async def own_case(web: Web, session: Session, case_id: uuid.UUID) -> None:
    """Only the patient's own cases: anyone else's answers as if it did not exist."""
    if not await web.cases.owns(cared_for(session), case_id):
        raise NotFound("no such case")


async def step(web: Web, session: Session, case_id: uuid.UUID, language: str) -> dict[str, Any]:
    await own_case(web, session, case_id)
    found: dict[str, Any] = await call(
        web, session, "triage", "GET", f"/cases/{case_id}/triage", params={"language": language}
    )
    return found


async def answer(
    web: Web, session: Session, case_id: uuid.UUID, question_id: str, value: Any
) -> None:
    await own_case(web, session, case_id)
    await call(
        web,
        session,
        "triage",
        "POST",
        f"/cases/{case_id}/triage/answers",
        json={"question_id": question_id, "value": value},
    )


async def back(web: Web, session: Session, case_id: uuid.UUID) -> None:
    await own_case(web, session, case_id)
    await call(web, session, "triage", "POST", f"/cases/{case_id}/triage/back")


async def place(web: Web, session: Session, case_id: uuid.UUID) -> dict[str, Any] | None:
    """The case's place in the queue; None until queue has seen it."""
    try:
        found: dict[str, Any] = await call(web, session, "queue", "GET", f"/cases/{case_id}")
        return found
    except NotFound:
        return None


async def withdraw(web: Web, session: Session, case_id: uuid.UUID) -> None:
    await own_case(web, session, case_id)
    await call(web, session, "queue", "POST", f"/cases/{case_id}/withdraw")


async def conversation(web: Web, session: Session, case_id: uuid.UUID) -> dict[str, Any] | None:
    """The contact's summary (professional, outcome, advice); None before the contact."""
    try:
        found: dict[str, Any] = await call(web, session, "chat", "GET", f"/cases/{case_id}")
        return found
    except NotFound:
        return None


async def mark_turn_seen(web: Web, session: Session, case_id: uuid.UUID) -> bool:
    """Tell notify the patient saw "your turn" on the page, so they are not counted among
    the unreached. False while notify has no such notification yet (it follows the turn a
    moment later) or cannot be asked: the caller tries again on its next round."""
    try:
        found = await call(web, session, "notify", "GET", f"/cases/{case_id}/notifications")
        turns = [n for n in found or [] if n.get("kind") == "your_turn"]
        for n in turns:
            path = f"/cases/{case_id}/notifications/{n['notification_id']}/seen"
            await call(web, session, "notify", "POST", path)
    except (DomainError, Unavailable):
        return False
    return bool(turns)


async def messages(
    web: Web, session: Session, case_id: uuid.UUID, after: int = 0
) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = await call(
            web, session, "chat", "GET", f"/cases/{case_id}/messages", params={"after": after}
        )
        return found
    except NotFound:
        return []


async def send(web: Web, session: Session, case_id: uuid.UUID, text: str, key: str) -> None:
    if session.role == "patient":
        await own_case(web, session, case_id)
    await call(
        web,
        session,
        "chat",
        "POST",
        f"/cases/{case_id}/messages",
        json={"text": text},
        headers={"Idempotency-Key": key},
    )


async def rate(
    web: Web, session: Session, case_id: uuid.UUID, rating: int, comment: str | None
) -> None:
    await own_case(web, session, case_id)
    await call(
        web,
        session,
        "chat",
        "POST",
        f"/cases/{case_id}/rating",
        json={"rating": rating, "comment": comment or None},
    )


async def patient_case(
    web: Web, session: Session, case_id: uuid.UUID, language: str
) -> dict[str, Any]:
    """Everything the case page shows: triage, place in the queue, the contact."""
    triage = await step(web, session, case_id, language)
    return {
        "triage": triage,
        "place": await place(web, session, case_id),
        "contact": await conversation(web, session, case_id),
        "messages": await messages(web, session, case_id),
    }


async def my_cases(web: Web, session: Session, language: str) -> list[dict[str, Any]]:
    """Every case the patient opened here, open and closed, newest first."""
    found = []
    for row in await web.cases.of(cared_for(session)):
        case_id = row["case_id"]
        triage = await call(
            web, session, "triage", "GET", f"/cases/{case_id}/triage", params={"language": language}
        )
        contact = await conversation(web, session, case_id)
        where = await place(web, session, case_id) if contact is None else None
        found.append(
            {
                **row,
                "title": (triage.get("questionnaire") or {}).get("title", row["questionnaire_id"]),
                "outcome": triage.get("outcome"),
                "contact": contact,
                "place": where,
            }
        )
    return found


# --- staff -----------------------------------------------------------------------------------


def near_limit_summary(queues: list[dict[str, Any]]) -> dict[str, Any]:
    """How many cases are near the care-guarantee limit in all, beside the few queue names
    (``near_at_least``: a queue had more than it scanned, so the count is a floor)."""
    return {
        "near_total": sum(
            q.get("near_guarantee_limit_count", len(q["near_guarantee_limit"])) for q in queues
        ),
        "near_at_least": any(
            q.get("near_guarantee_limit_count", 0) >= q.get("near_limit_scanned", 1 << 62)
            for q in queues
        ),
    }


#: How long a case just claimed may take to reach the journal and chat (its events travel
#: through Kafka) before the staff page says it does not exist.
CASE_APPEARS_WITHIN_SECONDS = 10.0


async def take_next(web: Web, session: Session) -> str | None:
    """Claim the most urgent, longest-waiting case; None when nobody waits."""
    claimed = await call(web, session, "queue", "POST", "/claims", json={})
    return str(claimed["case_id"]) if claimed else None


async def staff_case(web: Web, session: Session, case_id: uuid.UUID) -> dict[str, Any]:
    """The case as staff work on it: the triage summary, the contact, the conversation."""
    if session.role != "staff":
        raise NotFound("no such case")
    # Journal and chat each decide whether this member of staff may see the case; both lag a
    # moment behind the claim (events travel asynchronously), so "not yet" is waited through
    # for a few seconds before it is taken for "never".
    deadline = asyncio.get_running_loop().time() + CASE_APPEARS_WITHIN_SECONDS
    while True:
        try:
            entries = await call(web, session, "journal", "GET", f"/cases/{case_id}/entries")
        except NotFound:
            entries = []
        contact = await conversation(web, session, case_id)
        if entries or contact is not None:
            break
        if asyncio.get_running_loop().time() >= deadline:
            raise NotFound("no such case")
        await asyncio.sleep(0.25)
    summaries = [e for e in entries if e["kind"] == "triage_summary"]
    return {
        "contact": contact,
        "triage": summaries[-1]["content"] if summaries else None,
        "messages": await messages(web, session, case_id),
    }


async def close(web: Web, session: Session, case_id: uuid.UUID, closing: dict[str, Any]) -> None:
    await call(web, session, "chat", "POST", f"/cases/{case_id}/close", json=closing)
