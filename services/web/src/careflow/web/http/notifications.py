"""The notification settings page, the web app manifest and the service worker.

The service worker lives at the site's root (its scope is every page) and is served
like every page: no-store, so a new version reaches browsers at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse

from careflow.kit.domain import Invalid
from careflow.kit.problems import problems
from careflow.web import notifications
from careflow.web.http.common import (
    PAGE_RESPONSES,
    load_page,
    page_of,
    redirect,
    render,
    signed_in,
    web_of,
)
from careflow.web.i18n import translator

STATIC = Path(__file__).parent.parent / "static"
CHANNELS = ("sms", "email", "push")


def manifest(language: str) -> dict[str, Any]:
    """The web app manifest: the site installs as an app that opens at the start page."""
    t = translator(language)
    return {
        "name": t("site.name"),
        "short_name": t("site.name"),
        "lang": language,
        "start_url": "/start",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#003a70",
        "icons": [
            {"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }


def router() -> APIRouter:
    api = APIRouter(dependencies=[Depends(load_page)], responses=PAGE_RESPONSES)

    @api.get("/manifest.webmanifest")
    async def web_manifest(request: Request) -> Response:
        return JSONResponse(
            manifest(page_of(request).language), media_type="application/manifest+json"
        )

    @api.get("/sw.js")
    async def service_worker() -> Response:
        return Response((STATIC / "sw.js").read_text(), media_type="text/javascript")

    @api.get("/notifications")
    async def settings(request: Request, saved: bool = False) -> Response:
        session = signed_in(request, "patient")
        web = web_of(request)
        held = await notifications.preferences(web, session)
        key = await notifications.push_key(web, session)
        return render(
            request, "notifications.html", prefs=held, push_key=key, saved=saved, error=None
        )

    @api.post("/notifications", responses=problems(403, 422))
    async def save(
        request: Request,
        channels: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
        phone: Annotated[str, Form(max_length=32)] = "",
        email: Annotated[str, Form(max_length=254)] = "",
    ) -> Response:
        session = signed_in(request, "patient")
        web = web_of(request)
        chosen = [c for c in CHANNELS if c in channels]
        try:
            await notifications.save(web, session, chosen, phone, email, page_of(request).language)
        except Invalid as refused:
            asked = {"channels": chosen, "phone": phone, "email": email}
            key = await notifications.push_key(web, session)
            return render(
                request,
                "notifications.html",
                422,
                prefs=asked,
                push_key=key,
                saved=False,
                error=refused.reason,
            )
        return redirect("/notifications?saved=true")

    @api.post("/notifications/push", responses=problems(403, 422))
    async def subscribe(request: Request) -> Response:
        """The page's script hands over ``PushSubscription.toJSON()``; notify checks it."""
        session = signed_in(request, "patient")
        body = await request.json()
        subscription = {
            "endpoint": str(body.get("endpoint", "")),
            "keys": dict(body.get("keys") or {}),
        }
        await notifications.subscribe(web_of(request), session, subscription)
        return JSONResponse({"subscribed": True})

    return api
