"""Chat's composition root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import WebSocketRoute

from careflow.chat import attachments, consumers, http, live
from careflow.chat.settings import ChatSettings
from careflow.contracts import topic_for_service
from careflow.kit.runtime import ServiceRuntime


def build(settings: ChatSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or ChatSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume(
        "conversations",
        [topic_for_service("triage"), topic_for_service("queue")],
        consumers.HANDLERS,
    )
    store = attachments.store_for(settings)
    api = http.router(runtime.db, settings.token_secret.get_secret_value(), settings, store)
    app = runtime.create_app(
        api, title="careflow chat", description="The care contact: chat, closing, reading it later."
    )
    hub = live.LiveHub(settings.database_url)
    # A plain Starlette route: the app-wide request dependencies expect HTTP requests.
    app.router.routes.append(
        WebSocketRoute(
            f"/{settings.service_name}/cases/{{case_id}}/live",
            live.endpoint(runtime.db, hub, settings),
        )
    )
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            await store.start()
            try:
                await hub.start()
                try:
                    yield
                finally:
                    await hub.stop()
            finally:
                await store.close()

    app.router.lifespan_context = lifespan
    app.state.live_hub = hub
    app.state.blob_store = store
    return runtime, app
