"""Chat's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.chat import consumers, http
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
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api, title="careflow chat", description="The care contact: chat, closing, reading it later."
    )
    return runtime, app
