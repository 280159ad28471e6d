"""A patient's notification settings: the commands of the settings page.

notify keeps the preferences (SMS, e-mail, browser push) and checks them; this page
only carries them there with the patient's own token.
"""

from __future__ import annotations

from typing import Any

from careflow.kit.domain import NotFound
from careflow.web.domain import Session
from careflow.web.service import Web, call


async def preferences(web: Web, session: Session) -> dict[str, Any]:
    found: dict[str, Any] = await call(web, session, "notify", "GET", "/preferences")
    return found


async def push_key(web: Web, session: Session) -> str | None:
    """The key the browser subscribes with; None while notify has Web Push off."""
    try:
        found = await call(web, session, "notify", "GET", "/push/public-key")
    except NotFound:
        return None
    return str(found["public_key"])


async def save(
    web: Web, session: Session, channels: list[str], phone: str, email: str, language: str
) -> dict[str, Any]:
    """Replace the SMS and e-mail choices; a browser subscription already given stays
    (and push with it) unless the patient turned push off."""
    held = await preferences(web, session)
    subscription = held.get("push_subscription") if "push" in channels else None
    body = {
        "language": language,
        "channels": [c for c in channels if c != "push" or subscription],
        "phone": phone.strip() or None,
        "email": email.strip() or None,
        "push_subscription": subscription,
    }
    saved: dict[str, Any] = await call(web, session, "notify", "PUT", "/preferences", json=body)
    return saved


async def subscribe(web: Web, session: Session, subscription: dict[str, Any]) -> None:
    """Hand the browser's push subscription to notify: push joins the chosen channels."""
    held = await preferences(web, session)
    channels = sorted({*held.get("channels", []), "push"})
    body = {**held, "channels": channels, "push_subscription": subscription}
    await call(web, session, "notify", "PUT", "/preferences", json=body)
