"""Identity's settings (environment variables prefixed CAREFLOW_)."""

from typing import Self

from pydantic import SecretStr, model_validator

from careflow.kit.settings import Environment, InsecureSettings, ServiceSettings

DEV_SIGNING_SEED = "dev-only-signing-seed-change-me-in-production"


class IdentitySettings(ServiceSettings):
    service_name: str = "identity"
    http_port: int = 8001
    #: Secret text the current Ed25519 signing key is derived from, and its key id.
    token_signing_seed: SecretStr = SecretStr(DEV_SIGNING_SEED)
    token_signing_kid: str = "dev-1"
    #: Earlier keys still published in the JWKS while their tokens may be alive
    #: (rotation): "kid=seed" pairs, comma separated.
    token_previous_signing_keys: SecretStr = SecretStr("")
    access_token_minutes: int = 10
    refresh_token_hours: int = 12

    @model_validator(mode="after")
    def _no_dev_signing_key_outside_dev(self) -> Self:
        if self.environment in (Environment.DEV, Environment.TEST):
            return self
        if self.token_signing_seed.get_secret_value() == DEV_SIGNING_SEED:
            raise InsecureSettings(
                f"CAREFLOW_TOKEN_SIGNING_SEED still has its development default in "
                f"{self.environment}"
            )
        return self
