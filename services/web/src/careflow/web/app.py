"""The web front end's composition root."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import WebSocketRoute

from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment
from careflow.web import service
from careflow.web.adapters.backends import Backends
from careflow.web.adapters.sessions import PatientCases, SessionStore
from careflow.web.http import (
    audit,
    common,
    conversation,
    guardian,
    live,
    login,
    notifications,
    patient,
    records,
    staff,
)
from careflow.web.settings import WebSettings

HERE = Path(__file__).parent


def build(
    settings: WebSettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The web service: its runtime (PostgreSQL only, no Kafka) and HTTP app."""
    settings = settings or WebSettings()
    # One line per upstream call (the live socket polls every second) is noise, not signal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runtime = ServiceRuntime(
        settings, HERE / "migrations", clock=clock, publishes=False, restricted_role=True
    )
    backends = Backends(settings)
    web = service.Web(
        settings,
        SessionStore(runtime.db),
        PatientCases(runtime.db),
        backends,
        runtime.verifier,
        runtime.clock,
    )

    async def nothing() -> None:
        return None

    runtime.background("backends", nothing, backends.close)
    app = runtime.create_app(
        title="careflow web",
        description="Pages for patients and care staff; the browser never holds a token.",
    )
    app.state.web = web
    # Pages live at the site's root: people type and share these addresses.
    routers = (login, patient, staff, conversation, guardian, audit, notifications, records)
    for router in (module.router() for module in routers):
        app.include_router(router)
    # A plain Starlette route: the app-wide request dependencies do not apply to sockets.
    app.router.routes.append(WebSocketRoute("/live", live.live))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    common.install(app, settings.secure_cookies)
    # Checking every template file's time on every render costs each page a few stat calls;
    # only a developer editing templates needs it.
    common.templates.env.auto_reload = settings.environment is Environment.DEV
    return runtime, app
