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
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092",
        validation_alias=AliasChoices(
            "CAREFLOW_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr = SecretStr("")
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    jwks_url: str | None = Field(
        default=None, description="Identity's JWKS, to verify EdDSA access tokens."
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
        if "careflow:careflow@" in self.database_url:
            raise InsecureSettings(
                f"DATABASE_URL uses the development password in {self.environment}"
            )
        tls = parse_qs(urlsplit(self.database_url).query).get("ssl", [""])[-1]
        if tls not in VERIFYING_DB_TLS:
            # Health data and passwords cross this connection: encrypted, to a verified server.
            raise InsecureSettings(
                f"DATABASE_URL must require TLS with a verified server in {self.environment}:"
                " add ?ssl=verify-full (the CA from PGSSLROOTCERT)"
            )
        return self

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
