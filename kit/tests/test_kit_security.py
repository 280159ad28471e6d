"""Attacks on the kit's shared plumbing (issue 13): each test performs one that must fail."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import structlog

from careflow.kit.auth import InvalidToken, Principal, SigningKey, TokenVerifier
from careflow.kit.logging import configure_logging, get_logger

pytestmark = pytest.mark.security

WHO = Principal(subject_id="p-sec", role="patient", region="Uppsala")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.unit
def test_finding_5_a_bearer_token_never_reaches_a_log_line(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("security-test", json=True)
    token = SigningKey.from_seed("k1", b"seed").sign(WHO, timedelta(minutes=5))
    # What uvicorn writes for a WebSocket opened with ?token=..., and an error quoting a token.
    logging.getLogger("uvicorn.error").warning(
        '127.0.0.1:5 - "WebSocket /chat/cases/1/live?token=%s" [accepted]', token
    )
    get_logger("t").warning("token_refused", error=f"cannot decode {token}")
    get_logger("t").info("header", raw=f"Authorization: Bearer {token}")
    out = capsys.readouterr().err
    assert "live?token=[redacted]" in out
    assert token not in out and token.split(".")[1] not in out


@pytest.mark.unit
def test_a_signed_token_of_another_type_is_not_an_access_token() -> None:
    key = SigningKey.from_seed("k1", b"seed")
    verifier = TokenVerifier("s" * 40, allow_hs256=False, jwks={"keys": [key.public_jwk()]})
    now = datetime.now(UTC)
    id_token = jwt.encode(
        {
            "iss": "careflow-identity",
            "aud": "careflow",
            "sub": WHO.subject_id,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
            "cf": WHO.model_dump(exclude={"subject_id"}),
        },
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": "k1", "typ": "JWT"},
    )
    with pytest.raises(InvalidToken, match="typ"):
        verifier.verify(id_token)
    assert verifier.verify(key.sign(WHO, timedelta(minutes=5))) == WHO
