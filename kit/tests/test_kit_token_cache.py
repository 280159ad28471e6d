"""Verified tokens are remembered (issue 17): a request with a token already checked skips
the JWT parsing and the Ed25519 check, yet expiry and key withdrawal still hold."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest

from careflow.kit import auth
from careflow.kit.auth import InvalidToken, Principal, SigningKey, TokenVerifier

pytestmark = [pytest.mark.performance, pytest.mark.unit]

WHO = Principal(subject_id="p-cache", role="patient", region="Uppsala")
KEY = SigningKey.from_seed("k-cache", b"token-cache-seed")
OTHER = SigningKey.from_seed("k-other", b"token-cache-other")


def _verifier() -> TokenVerifier:
    return TokenVerifier("s" * 40, allow_hs256=False, jwks={"keys": [KEY.public_jwk()]})


def test_a_token_verified_once_is_not_decoded_again() -> None:
    verifier, token = _verifier(), KEY.sign(WHO, timedelta(minutes=5))
    with mock.patch.object(auth, "_decode_with_expiry", wraps=auth._decode_with_expiry) as dec:
        for _ in range(5):
            assert verifier.verify(token) == WHO
    assert dec.call_count == 1


def test_a_remembered_token_still_expires() -> None:
    verifier, token = _verifier(), KEY.sign(WHO, timedelta(seconds=1))
    assert verifier.verify(token) == WHO
    time.sleep(1.2)
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_a_withdrawn_key_stops_its_remembered_tokens_at_once() -> None:
    verifier, token = _verifier(), KEY.sign(WHO, timedelta(minutes=5))
    assert verifier.verify(token) == WHO
    verifier.use_jwks({"keys": [OTHER.public_jwk()]})
    with pytest.raises(InvalidToken, match="unknown signing key"):
        verifier.verify(token)


def test_a_forged_token_is_never_remembered_as_valid() -> None:
    verifier, token = _verifier(), KEY.sign(WHO, timedelta(minutes=5))
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verifier.verify(forged)
    assert verifier.verify(token) == WHO


def test_the_memory_is_bounded() -> None:
    verifier = _verifier()
    verifier.verified_cache_size = 3
    tokens = [
        KEY.sign(WHO.model_copy(update={"subject_id": f"p-{i}"}), timedelta(minutes=5))
        for i in range(5)
    ]
    for t in tokens:
        verifier.verify(t)
    assert len(verifier._verified) == 3
    assert verifier.verify(tokens[0]).subject_id == "p-0"


def test_expired_tokens_leave_the_memory_as_new_ones_arrive() -> None:
    """Under steady load the memory holds about one token lifetime of logins, not 10,000:
    a soak run saw a service's memory grow while expired tokens waited to be pushed out."""
    verifier = _verifier()
    for n in range(3):
        verifier.verify(
            KEY.sign(WHO.model_copy(update={"subject_id": f"p{n}"}), timedelta(seconds=1))
        )
    time.sleep(1.2)
    fresh = KEY.sign(WHO, timedelta(minutes=5))
    assert verifier.verify(fresh) == WHO
    assert list(verifier._verified) == [fresh]
