"""Identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.identity import consumers, http, service
from careflow.identity.eid import EidProvider, TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import PopulationRegister, SeedRegister, SeedStaffCatalogue
from careflow.identity.register_http import HttpRegister
from careflow.identity.settings import IdentitySettings
from careflow.kit.clock import Clock
from careflow.kit.logging import get_logger
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment

log = get_logger(__name__)


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


def population_register(settings: IdentitySettings) -> PopulationRegister:
    """The register the settings name; the seed one never in production (settings refuse it,
    and this holds even for settings built without their validators)."""
    if settings.population_register == "http":
        assert settings.population_register_url and settings.population_register_certfile
        assert settings.population_register_keyfile
        return HttpRegister(
            settings.population_register_url,
            settings.population_register_certfile,
            settings.population_register_keyfile,
            settings.population_register_cafile,
            settings.population_register_timeout_seconds,
        )
    if settings.environment is Environment.PRODUCTION:
        raise RuntimeError("identity refuses production with the seed population register")
    if settings.environment is Environment.STAGING:
        log.warning(
            "population_register_seed",
            detail="staging runs with the seed register: fictitious persons only",
        )
    return SeedRegister()


def build(
    settings: IdentitySettings | None = None, clock: Clock | None = None
) -> tuple[ServiceRuntime, FastAPI]:
    """The identity service: its runtime and HTTP app (``clock``: a test's fixed clock)."""
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(
        settings, Path(__file__).with_name("migrations"), clock=clock, restricted_role=True
    )
    eid = eid_provider(settings)
    identity = service.Identity(
        settings,
        population_register(settings),
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
