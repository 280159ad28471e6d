"""Notify's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.contracts import topic_for_service
from careflow.kit.runtime import ServiceRuntime
from careflow.notify import consumers, http
from careflow.notify.settings import NotifySettings


def build(settings: NotifySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or NotifySettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    runtime.consume(
        "turns", [topic_for_service("triage"), topic_for_service("queue")], consumers.HANDLERS
    )
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api, title="careflow notify", description="Tell the patient when it is their turn."
    )
    return runtime, app
