"""A guardian acts for their child: the commands of the "act for my child" pages.

The child's tokens replace the guardian's in the session (the browser holds neither);
the guardian's own refresh token waits in the session until they act as themselves again.
"""

from __future__ import annotations

import contextlib
from typing import Any

from careflow.kit.auth import InvalidToken
from careflow.kit.domain import Forbidden, NotFound
from careflow.web.domain import Session
from careflow.web.service import Web, call, who


async def children(web: Web, session: Session) -> list[dict[str, Any]]:
    """The children the guardian may act for today (aged 1-12), from the register."""
    found: list[dict[str, Any]] = await call(
        web, session, "identity", "GET", "/acting-for/children"
    )
    return found


def acting_for(session: Session) -> str | None:
    """The given name of the child the session acts for, or None."""
    if who(session).acting_for is None:
        return None
    name = session.data.get("acting_name")
    return name if isinstance(name, str) else ""


async def act_for(web: Web, session: Session, choice: int) -> None:
    """Start acting for the guardian's ``choice``-th child (the page's list, in order)."""
    if who(session).acting_for is not None:
        raise Forbidden("stop acting for the child first")
    listed = await children(web, session)
    if not 0 <= choice < len(listed):
        raise NotFound("no such child")
    child = listed[choice]
    tokens = await call(
        web,
        session,
        "identity",
        "POST",
        "/acting-for",
        json={"child_personal_identity_number": child["personal_identity_number"]},
    )
    await _become(web, session, tokens, guardian_refresh=session.refresh_token)
    await web.sessions.update_data(session, acting_name=child["given_name"])


async def act_as_myself(web: Web, session: Session) -> None:
    """Stop acting for the child: the guardian's own tokens again."""
    own = session.data.get("guardian_refresh")
    if who(session).acting_for is None or not isinstance(own, str):
        return
    tokens = await web.backends.refresh(own)
    if session.refresh_token:
        # The child's tokens end here whatever identity says.
        with contextlib.suppress(Exception):
            await web.backends.revoke(session.refresh_token)
    await _become(web, session, tokens, guardian_refresh=None)
    await web.sessions.update_data(session, acting_name=None)


async def _become(
    web: Web, session: Session, tokens: dict[str, Any], guardian_refresh: str | None
) -> None:
    try:
        principal = await web.verifier.authenticate(tokens["access_token"])
    except InvalidToken as exc:
        raise Forbidden("the token could not be verified") from exc
    await web.sessions.set_tokens(session, tokens["access_token"], tokens.get("refresh_token"))
    await web.sessions.update_data(
        session, who=principal.model_dump(), guardian_refresh=guardian_refresh
    )
