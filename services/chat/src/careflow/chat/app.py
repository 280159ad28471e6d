"""Chat's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from careflow.chat import adapters, blobs, consumers, http, http_complaints, live
from careflow.chat.settings import ChatSettings
from careflow.kit.access_log import access_log_router
from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime


def build(
    settings: ChatSettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """Chat's runtime and app; ``clock`` defaults to the system clock."""
    settings = settings or ChatSettings()
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    runtime.consume("conversations", consumers.HANDLERS)
    store = blobs.store_for(settings, runtime.db)
    api = http.router(runtime.db, runtime.clock, settings, store)
    app = runtime.create_app(
        api,
        http_complaints.router(runtime.db, runtime.clock),
        access_log_router(runtime.db, adapters.access_log, runtime.clock),
        title="careflow chat",
        description="The care contact: chat, closing, reading it later.",
    )
    hub = live.LiveHub(settings.database_url)
    # A plain Starlette route: the app-wide request dependencies expect HTTP requests.
    app.router.routes.append(
        WebSocketRoute(
            f"/{settings.service_name}/cases/{{case_id}}/live",
            live.endpoint(runtime.db, runtime.clock, hub, settings),
        )
    )
    runtime.background("attachments", store.start, store.close)
    runtime.background("live", hub.start, hub.stop)
    app.state.live_hub = hub
    app.state.blob_store = store
    return runtime, app
