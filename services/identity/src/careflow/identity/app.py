"""Identity's composition root."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from careflow.identity import http
from careflow.identity.eid import TestEidProvider
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment


def build(settings: IdentitySettings | None = None) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or IdentitySettings()
    runtime = ServiceRuntime(settings, Path(__file__).with_name("migrations"))
    eid: TestEidProvider | OidcEidProvider
    if settings.eid_provider == "oidc":
        if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_redirect_uri):
            raise RuntimeError("CAREFLOW_OIDC_ISSUER, _CLIENT_ID and _REDIRECT_URI are needed")
        eid = OidcEidProvider(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value(),
            settings.oidc_redirect_uri,
            pin_claim=settings.oidc_pin_claim,
        )
    else:
        eid = TestEidProvider()  # settings refuse this outside dev and test
    if settings.environment is Environment.PRODUCTION:
        # The seed register is fictitious: production needs the Navet adapter, not built yet.
        raise RuntimeError("identity has no production population register adapter yet")
    app = runtime.create_app(
        http.router(settings, SeedRegister(), SeedStaffCatalogue(), eid, runtime.db),
        title="careflow identity",
        description="Who is calling: tokens every service trusts.",
    )
    # Identity verifies its own tokens with the keys it holds: asking its own JWKS endpoint
    # over HTTP from inside a request would wait on itself.
    runtime.verifier.use_jwks({"keys": [k.public_jwk() for k in http.published_keys(settings)]})
    return runtime, app
