"""Journal's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.contracts import topic_for_service
from careflow.journal import consumers, http
from careflow.journal.settings import JournalSettings
from careflow.kit.runtime import ServiceRuntime


def build(settings: JournalSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or JournalSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume(
        "projector",
        [topic_for_service(s) for s in ("triage", "queue", "chat")],
        consumers.HANDLERS,
    )
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api,
        title="careflow journal",
        description="The append-only, hash-chained record of every contact.",
    )
    return runtime, app
