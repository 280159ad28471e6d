"""Identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.identity import http
from careflow.identity.settings import IdentitySettings
from careflow.kit.runtime import ServiceRuntime


def build(settings: IdentitySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    app = runtime.create_app(
        http.router(settings),
        title="careflow identity",
        description="Who is calling: tokens every service trusts.",
    )
    return runtime, app
