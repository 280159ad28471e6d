"""Journal's settings (environment variables prefixed CAREFLOW_)."""

from __future__ import annotations

import hashlib
from typing import Self

from pydantic import SecretStr, model_validator

from careflow.kit.settings import Environment, InsecureSettings, ServiceSettings

#: Development only: every dev and test journal signs with this key (refused elsewhere).
DEV_SIGNING_KEY = hashlib.sha256(b"careflow-dev-journal-signing-key").hexdigest()


class JournalSettings(ServiceSettings):
    service_name: str = "journal"
    http_port: int = 8005
    #: Ed25519 private key seed, 32 bytes as hex (CAREFLOW_JOURNAL_SIGNING_KEY).
    journal_signing_key: SecretStr = SecretStr(DEV_SIGNING_KEY)
    #: Where signed checkpoints are exported as files (outside the database).
    journal_checkpoint_dir: str = ".infra/journal-checkpoints"
    #: Seconds between checkpoints (only when the record grew); 0 turns them off.
    journal_checkpoint_interval_seconds: float = 10.0
    #: A documentation note unsigned for this long is flagged to its author.
    journal_unsigned_flag_after_seconds: float = 24 * 3600.0
    #: The database schema (tests and rebuilds use their own).
    journal_schema: str = "journal"
    #: The topics the projector reads; empty: those SUBSCRIPTIONS names for the journal.
    journal_source_topics: list[str] = []
    #: The projector's consumer group (and inbox name) suffix.
    journal_projector_name: str = "projector"

    @property
    def db_schema(self) -> str:
        return self.journal_schema

    @model_validator(mode="after")
    def _no_dev_signing_key_outside_dev(self) -> Self:
        if self.environment not in (Environment.DEV, Environment.TEST) and (
            self.journal_signing_key.get_secret_value() == DEV_SIGNING_KEY
        ):
            raise InsecureSettings(
                f"CAREFLOW_JOURNAL_SIGNING_KEY still has its development default in "
                f"{self.environment}"
            )
        return self
