"""Finding 11 (issue 13): the JWKS fetch must not block the event loop, storm identity, or
log everyone out while identity is away; production refuses it over plain http.

The attacks go through the real interface: an HTTP route guarded by ``require``, whose
verifier fetches identity's JWKS from a real (local) HTTP server.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from careflow.kit.auth import Principal, SigningKey, TokenVerifier, require
from careflow.kit.settings import ServiceSettings

pytestmark = pytest.mark.security

WHO = Principal(subject_id="p-jwks", role="patient", region="Uppsala")
KEY = SigningKey.from_seed("k-1", b"jwks-test-seed")


class FakeIdentity:
    """Identity's JWKS endpoint on a real socket: it can be slow, failing or gone."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": [KEY.public_jwk()]}
        self.delay = 0.0
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                time.sleep(owner.delay)
                body = json.dumps(owner.jwks).encode()
                self.send_response(owner.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/identity/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    server = FakeIdentity()
    try:
        yield server
    finally:
        server.stop()


def guarded_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.token_verifier = verifier

    @app.get("/me")
    async def me(caller: Annotated[Principal, Depends(require("patient"))]) -> dict[str, str]:
        return {"subject_id": caller.subject_id}

    return app


@pytest.fixture
async def client_for() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(verifier: TokenVerifier) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=guarded_app(verifier))
        client = httpx.AsyncClient(transport=transport, base_url="http://service")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.integration
async def test_finding_11_a_slow_jwks_server_does_not_block_the_event_loop(
    identity: FakeIdentity, client_for: Any
) -> None:
    token = KEY.sign(WHO, timedelta(minutes=5))
    # Warm up once (first-use imports of the HTTP stack), as a service's start-up prefetch does.
    warm = client_for(TokenVerifier("s" * 40, allow_hs256=False, jwks_url=identity.url))
    assert (await warm.get("/me", headers=bearer(token))).status_code == 200
    identity.delay = 1.5
    client = client_for(TokenVerifier("s" * 40, allow_hs256=False, jwks_url=identity.url))
    ticks: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.05)
    try:
        r = await client.get("/me", headers=bearer(token))
        ticks.append(time.monotonic())  # a stall up to the answer counts too
    finally:
        done.set()
        await beating
    assert r.status_code == 200, r.text
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    # The other coroutine kept running all through the 1.5 s fetch.
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.2f} s"


@pytest.mark.integration
async def test_finding_11_a_forged_kid_flood_while_identity_fails_costs_one_fetch(
    identity: FakeIdentity, client_for: Any
) -> None:
    identity.status = 503
    client = client_for(TokenVerifier("s" * 40, allow_hs256=False, jwks_url=identity.url))
    forged = [
        SigningKey.from_seed(f"forged-{i}", uuid.uuid4().bytes).sign(WHO, timedelta(minutes=5))
        for i in range(60)
    ]
    answers = await asyncio.gather(*(client.get("/me", headers=bearer(t)) for t in forged))
    assert {a.status_code for a in answers} == {401}
    # And a second wave, one by one, within the backoff window.
    for token in forged[:20]:
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
    # One attempt, then one per backoff window (1 s, 2 s, 4 s, ...), not one per token.
    assert identity.hits <= 3, f"{identity.hits} JWKS fetches for 80 forged tokens"


@pytest.mark.integration
async def test_finding_11_identity_down_cached_keys_still_verify(
    identity: FakeIdentity, client_for: Any
) -> None:
    verifier = TokenVerifier(
        "s" * 40,
        allow_hs256=False,
        jwks_url=identity.url,
        cache_seconds=0.2,
        refetch_seconds=0.1,
        failure_backoff_seconds=0.2,
    )
    client = client_for(verifier)
    token = KEY.sign(WHO, timedelta(minutes=5))
    assert (await client.get("/me", headers=bearer(token))).status_code == 200
    identity.stop()
    await asyncio.sleep(0.3)  # the cache is stale now, and identity is gone
    for _ in range(20):
        r = await client.get("/me", headers=bearer(token))
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.02)
    # Failed fetches back off: far fewer attempts than requests.
    assert verifier.fetches <= 6


@pytest.mark.integration
async def test_finding_11_keys_from_a_mounted_file_reloaded_when_it_changes(
    tmp_path: Path, client_for: Any
) -> None:
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [KEY.public_jwk()]}))
    verifier = TokenVerifier(
        "s" * 40, allow_hs256=False, jwks_file=jwks_file, file_check_seconds=0.1
    )
    await verifier.prefetch()
    client = client_for(verifier)
    old = KEY.sign(WHO, timedelta(minutes=5))
    assert (await client.get("/me", headers=bearer(old))).status_code == 200

    # Rotation: the ConfigMap now holds only the new key.
    new_key = SigningKey.from_seed("k-2", b"jwks-test-seed-2")
    jwks_file.write_text(json.dumps({"keys": [new_key.public_jwk()]}))
    await asyncio.sleep(0.15)
    new = new_key.sign(WHO, timedelta(minutes=5))
    assert (await client.get("/me", headers=bearer(new))).status_code == 200
    # The retired key (a leak, say) no longer verifies.
    assert (await client.get("/me", headers=bearer(old))).status_code == 401
    assert verifier.fetches == 2


@pytest.mark.unit
def test_finding_11_production_refuses_a_jwks_url_over_plain_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "production")
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", "x" * 40)
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql+asyncpg://cf:s3cret@db:5432/careflow?ssl=verify-full"
    )
    monkeypatch.setenv("CAREFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CAREFLOW_JWKS_URL", "http://careflow-identity/identity/jwks.json")
    with pytest.raises(ValidationError, match="JWKS_URL must use https"):
        ServiceSettings()
    monkeypatch.setenv("CAREFLOW_JWKS_URL", "https://careflow-identity/identity/jwks.json")
    assert ServiceSettings().jwks_url is not None
    with pytest.raises(ValueError, match="https"):
        TokenVerifier("x" * 40, allow_hs256=False, jwks_url="http://x/j", require_https=True)
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "test")
    monkeypatch.setenv("CAREFLOW_JWKS_URL", "http://127.0.0.1:8000/identity/jwks.json")
    assert ServiceSettings().jwks_url is not None
