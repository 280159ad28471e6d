"""The kit's pure parts: settings, token checks, log redaction, dead-letter records."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import structlog
from pydantic import ValidationError

from careflow.kit.auth import InvalidToken, Principal, issue_token, verify_token
from careflow.kit.kafka import dead_letter_record
from careflow.kit.logging import _redact, case_context
from careflow.kit.settings import DEV_TOKEN_SECRET, ServiceSettings

pytestmark = [pytest.mark.foundation, pytest.mark.unit]

STRONG = "x" * 40


def test_settings_refuse_development_secrets_outside_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="TOKEN_SECRET still has its development default"):
        ServiceSettings()
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", STRONG)
    with pytest.raises(ValidationError, match="development password"):
        ServiceSettings()
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://cf:s3cret@db:5432/careflow")
    with pytest.raises(ValidationError, match="TLS with a verified server"):
        ServiceSettings()
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql+asyncpg://cf:s3cret@db:5432/careflow?ssl=verify-full"
    )
    with pytest.raises(ValidationError, match="PLAINTEXT in production"):
        ServiceSettings()
    monkeypatch.setenv("CAREFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    settings = ServiceSettings()
    assert settings.database_url.endswith("@db:5432/careflow?ssl=verify-full")


def test_settings_accept_dev_defaults_in_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "dev")
    assert ServiceSettings().token_secret.get_secret_value() == DEV_TOKEN_SECRET


def test_tokens_round_trip_and_refuse_forgery_and_expiry() -> None:
    who = Principal(subject_id="p-1", role="patient", region="Uppsala")
    assert verify_token(STRONG, issue_token(STRONG, who)) == who
    with pytest.raises(InvalidToken):
        verify_token("y" * 40, issue_token(STRONG, who))
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(STRONG, issue_token(STRONG, who, ttl=timedelta(seconds=-1)))
    with pytest.raises(InvalidToken):
        verify_token(STRONG, "not.a.token")


def test_personal_data_never_reaches_a_log_line() -> None:
    line = _redact(
        None,
        "info",
        {
            "event": "x",
            "personal_identity_number": "191212121212",
            "text": "I feel sick",
            "case_id": "c1",
        },
    )
    assert line["personal_identity_number"] == "[redacted]" and line["text"] == "[redacted]"
    assert line["case_id"] == "c1"


def test_case_context_binds_case_and_correlation_ids() -> None:
    with case_context("case-1", "corr-1"):
        bound = structlog.contextvars.get_contextvars()
        assert bound["case_id"] == "case-1" and bound["correlation_id"] == "corr-1"
    assert "case_id" not in structlog.contextvars.get_contextvars()


def test_dead_letter_keeps_the_original_bytes_and_origin() -> None:
    raw = dead_letter_record(
        consumer="queue.x",
        reason="not valid JSON",
        topic="t",
        partition=2,
        offset=41,
        key=b"k",
        value=b"\xff\x00bad",
    )
    record = json.loads(raw)
    assert record["origin"] == {"topic": "t", "partition": 2, "offset": 41}
    assert bytes.fromhex(record["original"]["value"]) == b"\xff\x00bad"


def test_kafka_security_follows_the_settings_given() -> None:
    from careflow.kit.kafka import client_options, make_producer

    plain = ServiceSettings(service_name="queue", kafka_bootstrap_servers="k1:9092")
    assert client_options(plain) == {"bootstrap_servers": "k1:9092"}
    secured = ServiceSettings(
        service_name="chat",
        kafka_bootstrap_servers="k2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="chat",
        kafka_sasl_password="pw",
    )
    options = client_options(secured)
    assert options["bootstrap_servers"] == "k2:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "chat" and options["sasl_plain_password"] == "pw"
    assert options["ssl_context"] is not None
    tls_only = client_options(ServiceSettings(kafka_security_protocol="SSL"))
    assert tls_only["security_protocol"] == "SSL" and "sasl_mechanism" not in tls_only
    # Bare servers (tests, benchmarks): no security at all.
    assert client_options("localhost:9092") == {"bootstrap_servers": "localhost:9092"}
    # Two services in one process keep their own connections: nothing is process-wide.
    queue, chat = make_producer(plain, "queue"), make_producer(secured, "chat")
    assert queue.options == {"bootstrap_servers": "k1:9092"}
    assert chat.options["sasl_plain_username"] == "chat"
    assert client_options(plain) == {"bootstrap_servers": "k1:9092"}


def test_settings_migrate_as_the_owner_and_name_the_runtime_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = "postgresql+asyncpg://owner:s3cret@db:5432/careflow?ssl=verify-full"
    runtime = "postgresql+asyncpg://journal_rt:s3cret@db:5432/careflow?ssl=verify-full"
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "test")
    monkeypatch.setenv("DATABASE_URL", runtime)
    settings = ServiceSettings()
    assert settings.migrates_at_start and settings.migration_url == runtime
    assert settings.runtime_role is None  # one role: nothing to grant
    monkeypatch.setenv("CAREFLOW_MIGRATION_DATABASE_URL", owner)
    settings = ServiceSettings()
    assert (settings.migration_url, settings.runtime_role) == (owner, "journal_rt")
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", STRONG)
    monkeypatch.setenv("CAREFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    assert not ServiceSettings().migrates_at_start  # the migration job migrates
    monkeypatch.setenv(
        "CAREFLOW_MIGRATION_DATABASE_URL", "postgresql+asyncpg://careflow:careflow@db/careflow"
    )
    with pytest.raises(ValidationError, match="MIGRATION_DATABASE_URL uses the development"):
        ServiceSettings()


@pytest.mark.security
@pytest.mark.parametrize(
    "query",
    ["", "?ssl=disable", "?ssl=prefer", "?ssl=require", "?sslmode=verify-full&ssl=allow"],
)
def test_low_production_refuses_a_database_connection_without_verified_tls(
    monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """Low finding of issue 13: outside dev and test the database connection must be TLS to
    a server whose certificate is verified; anything less is refused at start."""
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", STRONG)
    monkeypatch.setenv("CAREFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("DATABASE_URL", f"postgresql+asyncpg://cf:s3cret@db:5432/careflow{query}")
    with pytest.raises(ValidationError, match="TLS with a verified server"):
        ServiceSettings()
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql+asyncpg://cf:s3cret@db:5432/careflow?ssl=verify-full"
    )
    assert ServiceSettings().database_url.endswith("?ssl=verify-full")
