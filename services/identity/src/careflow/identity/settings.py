"""Identity's settings (environment variables prefixed CAREFLOW_)."""

from typing import Literal, Self

from pydantic import SecretStr, model_validator

from careflow.kit.settings import Environment, InsecureSettings, ServiceSettings

DEV_SIGNING_SEED = "dev-only-signing-seed-change-me-in-production"
DEV_PSEUDONYM_KEY = "dev-only-pseudonym-key-change-me-in-production"


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8001
    #: Secret text the current Ed25519 signing key is derived from, and its key id.
    token_signing_seed: SecretStr = SecretStr(DEV_SIGNING_SEED)
    token_signing_kid: str = "dev-1"
    #: Earlier keys still published in the JWKS while their tokens may be alive
    #: (rotation): "kid=seed" pairs, comma separated.
    token_previous_signing_keys: SecretStr = SecretStr("")
    #: The key of pseudonymous subject ids (a keyed hash of the personal identity number).
    #: Identity's alone: no other service holds it, so none can turn a number into a
    #: subject id (or test guesses against one). Not CAREFLOW_TOKEN_SECRET, which all hold.
    pseudonym_key: SecretStr = SecretStr(DEV_PSEUDONYM_KEY)
    #: "test" (development only) or "oidc" (the region's e-ID broker).
    eid_provider: Literal["test", "oidc"] = "test"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_redirect_uri: str | None = None
    oidc_pin_claim: str = "personal_identity_number"
    #: The proxies (CIDRs, e.g. the Ingress controller's pod network) whose
    #: X-Forwarded-For identity believes; from anyone else the header is ignored.
    trusted_proxies: list[str] = []
    access_token_minutes: int = 10
    refresh_token_hours: int = 12

    @model_validator(mode="after")
    def _no_dev_signing_key_outside_dev(self) -> Self:
        if self.environment in (Environment.DEV, Environment.TEST):
            return self
        if self.eid_provider == "test":
            raise InsecureSettings(f"the test e-ID provider is refused in {self.environment}")
        if self.token_signing_seed.get_secret_value() == DEV_SIGNING_SEED:
            raise InsecureSettings(
                f"CAREFLOW_TOKEN_SIGNING_SEED still has its development default in "
                f"{self.environment}"
            )
        key = self.pseudonym_key.get_secret_value()
        if key == DEV_PSEUDONYM_KEY:
            raise InsecureSettings(
                f"CAREFLOW_PSEUDONYM_KEY still has its development default in {self.environment}"
            )
        if len(key) < 32 or key == self.token_secret.get_secret_value():
            raise InsecureSettings(
                "CAREFLOW_PSEUDONYM_KEY must be at least 32 characters and not the token secret"
            )
        return self
