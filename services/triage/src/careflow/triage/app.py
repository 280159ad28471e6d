"""Triage's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.kit.runtime import ServiceRuntime
from careflow.triage import http
from careflow.triage.settings import TriageSettings


def build(settings: TriageSettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or TriageSettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    api = http.router(runtime.db, settings.token_secret.get_secret_value())
    app = runtime.create_app(
        api, title="careflow triage", description="Open a case and triage the patient's symptoms."
    )
    return runtime, app
