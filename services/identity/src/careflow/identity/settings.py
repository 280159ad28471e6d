"""Identity's settings (environment variables prefixed CAREFLOW_)."""

import base64
import binascii
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
    #: The PUBLIC halves of earlier signing keys, still published in the JWKS while their
    #: tokens may be alive (rotation): "kid=x" pairs, comma separated, ``x`` as the JWKS
    #: showed it (base64url). A retired key never signs again, so its seed is not kept.
    token_retired_public_keys: str = ""
    #: Refused when set: it held retired private seeds (use token_retired_public_keys).
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
    #: Who answers "who is this number": "seed" (fictitious persons; dev, test and staging
    #: only) or "http" (the region's register over mutual TLS, ``register_http``).
    population_register: Literal["seed", "http"] = "seed"
    population_register_url: str | None = None
    #: Identity's client certificate and key (PEM) the register authenticates it by.
    population_register_certfile: str | None = None
    population_register_keyfile: str | None = None
    #: The CA the register's server certificate must chain to (default: the system's).
    population_register_cafile: str | None = None
    population_register_timeout_seconds: float = 5.0
    access_token_minutes: int = 10
    refresh_token_hours: int = 12

    def retired_jwks(self) -> list[dict[str, str]]:
        """The retired keys' public JWKs (``InsecureSettings`` if one is malformed)."""
        keys = []
        for pair in filter(None, (p.strip() for p in self.token_retired_public_keys.split(","))):
            kid, _, x = pair.partition("=")
            try:
                raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            except (binascii.Error, ValueError):
                raw = b""
            if not kid or len(raw) != 32:
                raise InsecureSettings(
                    "CAREFLOW_TOKEN_RETIRED_PUBLIC_KEYS: each entry is kid=<32-byte Ed25519"
                    " public key, base64url>"
                )
            keys.append(
                {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
            )
        return keys

    @model_validator(mode="after")
    def _no_retired_private_seeds(self) -> Self:
        # Everywhere, dev included: a seed kept past its rotation can still mint tokens.
        if self.token_previous_signing_keys.get_secret_value():
            raise InsecureSettings(
                "CAREFLOW_TOKEN_PREVIOUS_SIGNING_KEYS held retired private seeds and is refused:"
                " publish retired keys by their public half (CAREFLOW_TOKEN_RETIRED_PUBLIC_KEYS)"
            )
        self.retired_jwks()
        return self

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

    @model_validator(mode="after")
    def _a_real_register_in_production(self) -> Self:
        if self.population_register == "http":
            missing = [
                name
                for name, value in (
                    ("URL", self.population_register_url),
                    ("CERTFILE", self.population_register_certfile),
                    ("KEYFILE", self.population_register_keyfile),
                )
                if not value
            ]
            if missing:
                raise InsecureSettings(
                    "CAREFLOW_POPULATION_REGISTER=http needs CAREFLOW_POPULATION_REGISTER_"
                    + ", _".join(missing)
                )
            if not str(self.population_register_url).lower().startswith("https://"):
                raise InsecureSettings("CAREFLOW_POPULATION_REGISTER_URL must use https")
        elif self.environment is Environment.PRODUCTION:
            # The seed register's persons are fictitious: in production every login would
            # either fail or, worse, be matched against made-up people.
            raise InsecureSettings(
                "identity refuses production until a population register adapter is configured:"
                " set CAREFLOW_POPULATION_REGISTER=http with CAREFLOW_POPULATION_REGISTER_URL,"
                " _CERTFILE and _KEYFILE (the seed register is for dev, test and staging)"
            )
        return self
