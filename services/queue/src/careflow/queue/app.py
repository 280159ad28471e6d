"""Queue's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.contracts import topic_for_service
from careflow.kit.runtime import ServiceRuntime
from careflow.queue import consumers, http
from careflow.queue.settings import QueueSettings


def build(settings: QueueSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or QueueSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume("triaged-cases", [topic_for_service("triage")], consumers.HANDLERS)
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api,
        title="careflow queue",
        description="The most urgent are helped first; staff claim turns.",
    )
    return runtime, app
