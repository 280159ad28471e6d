"""Identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.identity import http
from careflow.identity.eid import TestEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment


def build(settings: IdentitySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    if settings.environment is Environment.PRODUCTION:
        # The test e-ID and the seed register exist for development only; a production
        # deployment wires the region's e-ID broker (OIDC) and register adapters here.
        raise RuntimeError("identity has no production e-ID provider configured")
    app = runtime.create_app(
        http.router(settings, SeedRegister(), SeedStaffCatalogue(), TestEidProvider(), runtime.db),
        title="careflow identity",
        description="Who is calling: tokens every service trusts.",
    )
    return runtime, app
