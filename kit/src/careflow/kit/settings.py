"""Service settings from environment variables (pydantic-settings).

Every service subclasses ``ServiceSettings``. Outside ``dev`` and ``test`` a
service refuses to start while any secret still has its development default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self
from urllib.parse import parse_qs, urlsplit

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_TOKEN_SECRET = "dev-only-token-secret-change-me-in-production"
#: The database TLS modes (asyncpg's ``ssl``) that verify the server's certificate; outside
#: dev and test nothing less is accepted. The CA comes from ``PGSSLROOTCERT``.
VERIFYING_DB_TLS = ("verify-full", "verify-ca")


class Environment(StrEnum):
    """Where a service runs; production forbids development defaults."""

    DEV = "dev"
    TEST = "test"
    STAGING = "staging"
    PRODUCTION = "production"


class InsecureSettings(ValueError):
    """A development default was left in place outside development."""


class ServiceSettings(BaseSettings):
    """Settings every careflow service shares. Environment variables use the prefix CAREFLOW_.

    ``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` are also read without the prefix,
    so one pair of variables points every tool and service at external infrastructure.
    """

    model_config = SettingsConfigDict(env_prefix="CAREFLOW_", extra="ignore")

    environment: Environment = Environment.DEV
    service_name: str = "careflow"
    database_url: str = Field(
        default="postgresql+asyncpg://careflow:careflow@127.0.0.1:15432/careflow",
        validation_alias=AliasChoices("CAREFLOW_DATABASE_URL", "DATABASE_URL"),
    )
    migration_database_url: str | None = Field(
        default=None,
        description=(
            "The schema owner's URL, for migrations only (the migration job, or the start in "
            "dev and test); DATABASE_URL then names the restricted role the service runs as."
        ),
    )
    db_runtime_role: str | None = Field(
        default=None,
        description=(
            "The login role migrations grant the service's runtime rights to; default: "
            "DATABASE_URL's user when CAREFLOW_MIGRATION_DATABASE_URL is set."
        ),
    )
    migrate_at_start: bool | None = Field(
        default=None,
        description="Migrate before serving; default: in dev and test only (elsewhere the "
        "migration job does, as the schema owner).",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices(
            "CAREFLOW_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="SASL_SSL in production; SASL_PLAINTEXT only in dev and test.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str | None = Field(
        default=None,
        description="PEM file of the CA that signed the brokers' certificates (e.g. Strimzi's "
        "cluster CA); without it the system's trusted CAs. Certificates and host names are "
        "always verified.",
    )
    kafka_ssl_certfile: str | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS, with its key file."
    )
    kafka_ssl_keyfile: str | None = None
    kafka_ssl_key_password: SecretStr | None = None
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    jwks_url: str | None = Field(
        default=None,
        description="Identity's JWKS, to verify EdDSA access tokens (https outside dev and test).",
    )
    jwks_file: str | None = Field(
        default=None,
        description="Identity's JWKS as a file (mounted from a ConfigMap or Secret), read again"
        " when it changes; used instead of jwks_url.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None, description="JSON logs; default: JSON unless stderr is a terminal."
    )
    db_pool_size: int = 10
    relay_batch_size: int = 500
    relay_idle_poll_seconds: float = 0.05
    consumer_batch_size: int = 500
    consumer_retry_backoff_seconds: float = 1.0
    create_topics: bool = Field(
        default=True, description="Create missing topics at start (off where Strimzi owns them)."
    )
    kafka_start_wait_seconds: float = Field(
        default=300.0,
        description="At start, wait this long for an absent Kafka (with backoff) before exiting.",
    )
    shutdown_grace_seconds: float = 20.0
    api_docs: bool | None = Field(
        default=None,
        description="Serve /<service>/docs and /openapi.json; default: in dev and test only.",
    )
    record_responses: str | None = Field(
        default=None,
        description="Append (method, route, status) of every HTTP answer to this file (tests).",
    )

    @model_validator(mode="after")
    def _no_dev_secrets_outside_dev(self) -> Self:
        if self.environment in (Environment.DEV, Environment.TEST):
            return self
        if self.token_secret.get_secret_value() == DEV_TOKEN_SECRET:
            raise InsecureSettings(
                f"CAREFLOW_TOKEN_SECRET still has its development default in {self.environment}"
            )
        if len(self.token_secret.get_secret_value()) < 32:
            raise InsecureSettings("CAREFLOW_TOKEN_SECRET must be at least 32 characters")
        if self.jwks_url and not self.jwks_url.lower().startswith("https://"):
            # Over plain http anyone on the path can hand the services their own signing key.
            raise InsecureSettings(
                f"CAREFLOW_JWKS_URL must use https in {self.environment}"
                " (or mount the JWKS as a file: CAREFLOW_JWKS_FILE)"
            )
        urls = (
            ("DATABASE_URL", self.database_url),
            ("CAREFLOW_MIGRATION_DATABASE_URL", self.migration_database_url or ""),
        )
        for name, url in urls:
            if "careflow:careflow@" in url:
                raise InsecureSettings(
                    f"{name} uses the development password in {self.environment}"
                )
            tls = parse_qs(urlsplit(url).query).get("ssl", [""])[-1]
            if url and tls not in VERIFYING_DB_TLS:
                # Health data and passwords cross this connection: encrypted, to a verified
                # server.
                raise InsecureSettings(
                    f"{name} must require TLS with a verified server in {self.environment}:"
                    " add ?ssl=verify-full (the CA from PGSSLROOTCERT)"
                )
        return self

    @model_validator(mode="after")
    def _kafka_encrypted_outside_dev(self) -> Self:
        # Credentials and files are checked where a Kafka client is made (kit.kafka), so a
        # migration job, which shares this configuration but never talks to Kafka, needs none.
        protocol = self.kafka_security_protocol
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if not protocol.endswith("SSL") and any(tls_files):
            # A CA file with a plaintext protocol looks secure and is not: say so.
            raise InsecureSettings(
                f"CAREFLOW_KAFKA_SSL_* files are set but CAREFLOW_KAFKA_SECURITY_PROTOCOL is "
                f"{protocol}: use SSL or SASL_SSL"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise InsecureSettings("CAREFLOW_KAFKA_SSL_KEYFILE needs CAREFLOW_KAFKA_SSL_CERTFILE")
        if self.environment in (Environment.DEV, Environment.TEST):
            return self
        if protocol == "SASL_PLAINTEXT":
            raise InsecureSettings(
                f"CAREFLOW_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT sends the Kafka password and "
                f"every event unencrypted; use SASL_SSL in {self.environment}"
            )
        if self.environment is Environment.PRODUCTION:
            if protocol == "PLAINTEXT":
                raise InsecureSettings(
                    "CAREFLOW_KAFKA_SECURITY_PROTOCOL=PLAINTEXT in production: use SASL_SSL "
                    "(with CAREFLOW_KAFKA_SSL_CAFILE) so events are encrypted and the broker "
                    "verified"
                )
            if protocol == "SSL" and not self.kafka_ssl_certfile:
                raise InsecureSettings(
                    "CAREFLOW_KAFKA_SECURITY_PROTOCOL=SSL without a client certificate does not "
                    "authenticate the service in production: use SASL_SSL or set "
                    "CAREFLOW_KAFKA_SSL_CERTFILE"
                )
        return self

    @property
    def migrates_at_start(self) -> bool:
        """Whether the service migrates its schema itself before serving (dev and test)."""
        if self.migrate_at_start is not None:
            return self.migrate_at_start
        return self.environment in (Environment.DEV, Environment.TEST)

    @property
    def migration_url(self) -> str:
        """Where migrations connect: the owner's URL, or DATABASE_URL where there is no other."""
        return self.migration_database_url or self.database_url

    @property
    def runtime_role(self) -> str | None:
        """The login role that runs the service, when it differs from the migrating owner."""
        if self.db_runtime_role:
            return self.db_runtime_role
        if self.migration_database_url is None:
            return None
        user = urlsplit(self.database_url).username
        return user if user and user != urlsplit(self.migration_database_url).username else None

    @property
    def serves_api_docs(self) -> bool:
        """Whether the API's documents are served: they map every route for an attacker, so
        by default only in dev and test."""
        if self.api_docs is not None:
            return self.api_docs
        return self.environment in (Environment.DEV, Environment.TEST)

    @property
    def db_schema(self) -> str:
        """Each service owns one PostgreSQL schema, named after it."""
        return self.service_name
