"""The OIDC e-ID adapter against a real OpenID Connect provider (oidc-provider-mock)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread
from sqlalchemy import text

from careflow.identity import http, service
from careflow.identity.oidc import OidcEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade
from careflow.kit.runtime import ServiceRuntime

pytestmark = [pytest.mark.identity, pytest.mark.integration]

PIN = "191212121212"
#: An adult of Uppsala in the seed register, so the login goes through.
REGISTERED_ADULT = "197207099636"
REDIRECT = "http://127.0.0.1:1/identity/oidc/callback"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    users = [
        User(sub="tolvan", claims={"personal_identity_number": PIN, "name": "Tolvan"}),
        User(sub="nobody", claims={"name": "No Number"}),
        User(sub="uppsala", claims={"personal_identity_number": REGISTERED_ADULT, "name": "U"}),
    ]
    with run_server_in_thread(port=_free_port(), user_claims=users, require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def _provider(issuer: str) -> OidcEidProvider:
    return OidcEidProvider(
        issuer=issuer,
        client_id="careflow-identity",
        client_secret="s3cret-client",
        redirect_uri=REDIRECT,
    )


def _authorize(url: str, sub: str) -> dict[str, str]:
    """What the person's browser does at the broker: pick the identity and be redirected."""
    response = httpx.post(url, data={"sub": sub}, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    location = urlparse(response.headers["location"])
    assert location.path == "/identity/oidc/callback"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def test_a_login_through_the_broker_yields_the_personal_number(issuer: str) -> None:
    provider = _provider(issuer)
    order = await provider.start(None)
    query = parse_qs(urlparse(order.auto_start_token).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    callback = await asyncio.to_thread(_authorize, order.auto_start_token, "tolvan")
    assert callback["state"] == order.oidc_state
    assert callback["state"] != order.order_ref  # the state travels in URLs; the order ref not
    assert order.code_verifier and order.nonce
    assert await provider.person(callback["code"], order.code_verifier, order.nonce) == PIN


async def test_a_token_without_the_number_claim_is_refused(issuer: str) -> None:
    from careflow.kit.domain import Forbidden

    provider = _provider(issuer)
    order = await provider.start(None)
    callback = await asyncio.to_thread(_authorize, order.auto_start_token, "nobody")
    assert order.code_verifier and order.nonce
    with pytest.raises(Forbidden, match="personal_identity_number"):
        await provider.person(callback["code"], order.code_verifier, order.nonce)


async def test_a_token_for_another_nonce_is_refused(issuer: str) -> None:
    from careflow.kit.domain import Forbidden

    provider = _provider(issuer)
    order = await provider.start(None)
    callback = await asyncio.to_thread(_authorize, order.auto_start_token, "tolvan")
    assert order.code_verifier
    with pytest.raises(Forbidden):
        await provider.person(callback["code"], order.code_verifier, "another-nonce")


async def test_a_denied_login_comes_back_as_an_error(issuer: str) -> None:
    provider = _provider(issuer)
    order = await provider.start(None)
    response = await asyncio.to_thread(httpx.post, order.auto_start_token, data={"action": "deny"})
    location = parse_qs(urlparse(response.headers["location"]).query)
    assert location["error"] == ["access_denied"]


def _oidc_app(database_url: str, schema: str, issuer: str) -> FastAPI:
    settings = IdentitySettings(database_url=database_url)
    runtime = ServiceRuntime(settings)
    runtime.db = Database(database_url, schema)
    identity = service.Identity(
        settings, SeedRegister(), SeedStaffCatalogue(), _provider(issuer), runtime.clock, runtime.db
    )
    app = runtime.create_app(http.router(identity), title="t")
    app.router.lifespan_context = _no_lifespan
    return app


@pytest.fixture
def oidc_identity(infra, unique, issuer: str) -> Iterator[tuple[TestClient, Database, FastAPI]]:  # type: ignore[no-untyped-def]
    """Identity's API logging in through the OIDC broker, recording on a fresh schema; and a
    second app on the same schema (another replica, or another browser's event loop)."""
    schema = f"identity_oidc_{unique}"
    upgrade(Path(service.__file__).with_name("migrations"), infra.database_url, schema)
    app = _oidc_app(infra.database_url, schema, issuer)
    with TestClient(app) as client:
        yield (
            client,
            Database(infra.database_url, schema),
            _oidc_app(infra.database_url, schema, issuer),
        )


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def test_an_oidc_login_records_the_oidc_method(oidc_identity) -> None:  # type: ignore[no-untyped-def]
    client, db, _ = oidc_identity
    order = client.post("/identity/eid/orders", json={})
    assert order.status_code == 201, order.text
    order_ref = order.json()["order_ref"]
    callback = _authorize(order.json()["auto_start_token"], "uppsala")
    back = client.get("/identity/oidc/callback", params=callback)
    assert back.status_code == 204, back.text
    collected = client.post(f"/identity/eid/orders/{order_ref}/collect").json()
    assert collected["status"] == "complete" and collected["login"]["access_token"]

    async def audit() -> list[dict]:  # type: ignore[type-arg]
        try:
            async with db.transaction() as conn:
                rows = await conn.execute(text("SELECT payload FROM events ORDER BY position"))
                return [r[0] for r in rows]
        finally:
            await db.dispose()

    (succeeded,) = asyncio.run(audit())
    assert succeeded["event_type"] == "LoginSucceeded"
    assert succeeded["method"] == "oidc" and succeeded["realm"] == "patient"
    assert REGISTERED_ADULT not in json.dumps(succeeded)


@pytest.mark.security
def test_finding_1_an_attacker_who_learns_the_oidc_state_cannot_take_over_the_login(
    oidc_identity,  # type: ignore[no-untyped-def]
) -> None:
    victim, _, elsewhere = oidc_identity
    order = victim.post("/identity/eid/orders", json={}).json()
    callback = _authorize(order["auto_start_token"], "uppsala")
    # The state (and here even the code) leaked from the redirect URL: a referrer, a log.
    assert callback["state"] != order["order_ref"]
    with TestClient(elsewhere) as attacker:
        replayed = attacker.get("/identity/oidc/callback", params=callback)
        assert replayed.status_code == 403, replayed.text
        for ref in (callback["state"], order["order_ref"]):
            stolen = attacker.post(f"/identity/eid/orders/{ref}/collect")
            assert stolen.status_code in (403, 404), stolen.text
    # The browser that started the login finishes it.
    assert victim.get("/identity/oidc/callback", params=callback).status_code == 204
    collected = victim.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()
    assert collected["status"] == "complete" and collected["login"]["access_token"]
