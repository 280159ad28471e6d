"""Identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.identity import consumers, http, service
from careflow.identity.eid import EidProvider, TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.clock import Clock
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment


def eid_provider(settings: IdentitySettings) -> EidProvider:
    """The e-ID provider the settings name: the region's OIDC broker, or the test app."""
    if settings.eid_provider != "oidc":
        return TestEidProvider()  # settings refuse this outside dev and test
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
        raise RuntimeError("CAREFLOW_OIDC_ISSUER, _CLIENT_ID and _REDIRECT_URI are needed")
    return OidcEidProvider(
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret.get_secret_value(),
        settings.oidc_redirect_uri,
        pin_claim=settings.oidc_pin_claim,
    )


def build(
    settings: IdentitySettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The identity service: its runtime and HTTP app (``clock``: a test's fixed clock)."""
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    eid = eid_provider(settings)
    if settings.environment is Environment.PRODUCTION:
        # The seed register is fictitious: production needs the Navet adapter, not built yet.
        raise RuntimeError("identity has no production population register adapter yet")
    identity = service.Identity(
        settings,
        SeedRegister(),
        SeedStaffCatalogue(),
        eid,
        runtime.clock,
        runtime.db,
    )
    runtime.consume("patients", consumers.handlers(identity))
    app = runtime.create_app(
        http.router(identity),
        title="careflow identity",
        description="Who is calling: tokens every service trusts.",
    )
    # Identity verifies its own tokens with the keys it holds: asking its own JWKS endpoint
    # over HTTP from inside a request would wait on itself.
    runtime.verifier.use_jwks(service.jwks(identity))
    return runtime, app
