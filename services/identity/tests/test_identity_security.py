"""Attack tests for identity (issue 13): each performs the attack through identity's HTTP API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from careflow.identity import http, service
from careflow.identity.eid import TestEidProvider
from careflow.identity.register import SEED_FILE, SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.clock import Clock, FixedClock
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade
from careflow.kit.runtime import ServiceRuntime

pytestmark = [pytest.mark.identity, pytest.mark.security]

MIGRATIONS = Path(service.__file__).with_name("migrations")
#: The Ingress controller's network, which identity is told to trust.
PROXIES = ["10.0.0.0/8"]
PROXY = ("10.1.2.3", 40000)


def _adult() -> str:
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return str(
        next(p["pin"] for p in data["persons"] if p["note"] == "adult, region runs the service")
    )


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def _app(settings: IdentitySettings, db: Database | None, clock: Clock | None = None) -> FastAPI:
    return _identity_app(settings, db, clock)[0]


def _identity_app(
    settings: IdentitySettings, db: Database | None, clock: Clock | None = None
) -> tuple[FastAPI, service.Identity]:
    runtime = ServiceRuntime(settings, clock=clock)
    identity = service.Identity(
        settings,
        SeedRegister(),
        SeedStaffCatalogue(),
        TestEidProvider(),
        runtime.clock,
        db,
    )
    app = runtime.create_app(http.router(identity), title="t")
    app.router.lifespan_context = _no_lifespan
    runtime.verifier.use_jwks(service.jwks(identity))
    return app, identity


@pytest.fixture
def apps(infra, unique) -> Iterator[Callable[..., FastAPI]]:  # type: ignore[no-untyped-def]
    """Identity apps on one fresh schema (as replicas would share it)."""
    schema = f"identity_sec_{unique}"
    upgrade(MIGRATIONS, infra.database_url, schema)
    databases: list[Database] = []

    def make(clock: Clock | None = None) -> FastAPI:
        settings = IdentitySettings(database_url=infra.database_url, trusted_proxies=PROXIES)
        databases.append(Database(infra.database_url, schema))
        return _app(settings, databases[-1], clock)

    yield make


@pytest.fixture
def recording(infra, unique) -> Iterator[tuple[TestClient, service.Identity]]:  # type: ignore[no-untyped-def]
    """One identity app recording on a fresh schema, and its composed parts."""
    schema = f"identity_sec_r_{unique}"
    upgrade(MIGRATIONS, infra.database_url, schema)
    settings = IdentitySettings(database_url=infra.database_url)
    app, identity = _identity_app(settings, Database(infra.database_url, schema))
    with TestClient(app) as client:
        yield client, identity


def _e_id_login(browser: TestClient, pin: str, realm: str = "patient") -> dict:  # type: ignore[type-arg]
    order = browser.post("/identity/eid/orders", json={"realm": realm}).json()
    ref = order["order_ref"]
    browser.post(f"/identity/eid/test-app/{ref}/approve", json={"personal_identity_number": pin})
    result: dict = browser.post(f"/identity/eid/orders/{ref}/collect").json()  # type: ignore[type-arg]
    assert result["login"], result
    return result["login"]  # type: ignore[no-any-return]


# --- finding 1 -----------------------------------------------------------------------------


@pytest.mark.unit
def test_finding_1_an_attacker_who_learns_the_order_ref_cannot_collect_the_login() -> None:
    app = _app(IdentitySettings(), None)
    with TestClient(app) as victim, TestClient(app) as attacker:
        order = victim.post("/identity/eid/orders", json={}).json()
        ref = order["order_ref"]
        approved = victim.post(
            f"/identity/eid/test-app/{ref}/approve", json={"personal_identity_number": _adult()}
        )
        assert approved.status_code == 204
        # The attacker learned the order reference (a shared screen, a log, a referrer).
        stolen = attacker.post(f"/identity/eid/orders/{ref}/collect")
        assert stolen.status_code == 403, stolen.text
        assert "login" not in stolen.json() or not stolen.json().get("login")
        assert "careflow_login" in victim.cookies  # the login secret: a cookie, not in a URL
        assert victim.cookies["careflow_login"] not in json.dumps(order)
        attacker.cookies.set("careflow_login", "guessed-" + "x" * 40, path="/identity")
        assert attacker.post(f"/identity/eid/orders/{ref}/collect").status_code == 403
        assert attacker.post(f"/identity/eid/orders/{ref}/cancel").status_code == 403
        # The browser that started the login still gets its tokens.
        mine = victim.post(f"/identity/eid/orders/{ref}/collect")
        assert mine.status_code == 200 and mine.json()["login"]["access_token"]


# --- finding 2 -----------------------------------------------------------------------------


@pytest.mark.integration
def test_finding_2_login_rate_limits_key_on_the_real_client_and_are_shared_by_replicas(
    apps: Callable[..., FastAPI],
) -> None:
    def start(c: TestClient, forwarded_for: str | None = None, pin: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        body = {"personal_identity_number": pin} if pin else {}
        return c.post("/identity/eid/orders", json=body, headers=headers).status_code

    with ExitStack() as stack:
        # Each client its own app (an app's database belongs to its client's event loop).
        via_proxy = stack.enter_context(TestClient(apps(), client=PROXY))
        # One client behind the Ingress exhausts its limit ...
        codes = [start(via_proxy, "203.0.113.5") for _ in range(20 + 1)]
        assert codes[-1] == 429 and set(codes[:-1]) == {201}
        # ... another client behind the same Ingress is not blocked by it.
        assert start(via_proxy, "203.0.113.6") == 201
        # A client forging X-Forwarded-For in front of the proxy is still itself.
        assert start(via_proxy, "203.0.113.7, 203.0.113.5") == 429
        # From an untrusted peer X-Forwarded-For is ignored: a new forged address each time
        # does not reset the limit.
        direct = stack.enter_context(TestClient(apps(), client=("198.51.100.7", 5000)))
        spoofed = [start(direct, f"192.0.2.{i}") for i in range(20 + 1)]
        assert spoofed[-1] == 429
        # Two replicas on one database share the per-person limit.
        at_one = stack.enter_context(TestClient(apps(), client=("198.51.100.8", 5000)))
        at_two = stack.enter_context(TestClient(apps(), client=("198.51.100.9", 5000)))
        pin = _adult()
        shared = [start(at_one if i % 2 else at_two, pin=pin) for i in range(6)]
        assert shared == [201] * 5 + [429]


@pytest.mark.integration
def test_finding_2_the_per_person_limit_opens_again_after_a_minute_on_the_injected_clock(
    apps: Callable[..., FastAPI],
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with TestClient(apps(clock)) as browser:

        def start() -> int:
            body = {"personal_identity_number": _adult()}
            return browser.post("/identity/eid/orders", json=body).status_code

        assert [start() for _ in range(6)] == [201] * 5 + [429]
        clock.advance(timedelta(seconds=61))
        assert start() == 201


@pytest.mark.integration
def test_finding_2_pending_orders_expire_and_are_then_forgotten(
    apps: Callable[..., FastAPI],
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    with TestClient(apps(clock)) as browser:
        order = browser.post("/identity/eid/orders", json={}).json()
        ref = order["order_ref"]
        clock.advance(timedelta(seconds=181))
        expired = browser.post(f"/identity/eid/orders/{ref}/collect").json()
        assert expired["status"] == "failed" and expired["hint_code"] == "expiredTransaction"
        clock.advance(timedelta(seconds=60))
        gone = browser.post(f"/identity/eid/orders/{ref}/collect")
        assert gone.status_code == 404 and "expired" in gone.json()["detail"]
        approve = browser.post(
            f"/identity/eid/test-app/{ref}/approve", json={"personal_identity_number": _adult()}
        )
        assert approve.status_code == 404


# --- finding 10 ----------------------------------------------------------------------------


@pytest.mark.integration
def test_finding_10_a_reused_refresh_token_ends_its_family_and_refresh_rechecks_the_person(
    recording: tuple[TestClient, service.Identity],
) -> None:
    client, identity = recording

    def refresh(token: str) -> tuple[int, str | None]:
        answer = client.post("/identity/tokens/refresh", json={"refresh_token": token})
        return answer.status_code, answer.json().get("refresh_token")

    # A stolen refresh token: the thief refreshes first, then the person (or the other way).
    stolen = _e_id_login(client, _adult())["refresh_token"]
    status, thiefs = refresh(stolen)
    assert status == 200 and thiefs
    reused, _ = refresh(stolen)  # the person's copy: reuse
    assert reused != 200
    status, _ = refresh(thiefs)  # ... and the thief's newer token is dead with the family
    assert status == 401
    assert reused == 401

    # A member of staff removed from the catalogue cannot keep refreshing.
    nurse_pin = "197505179882"
    staff_token = _e_id_login(client, nurse_pin, realm="staff")["refresh_token"]
    status, staff_token = refresh(staff_token)
    assert status == 200 and staff_token
    identity.staff._by_pin.pop(nurse_pin)  # type: ignore[attr-defined]
    status, _ = refresh(staff_token)
    assert status == 401

    # A guardian who is no longer the child's guardian cannot keep acting for the child.
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    child = next(p["pin"] for p in data["persons"] if p["note"] == "child aged 6: guardian may act")
    guardian = next(
        p
        for p in data["persons"]
        if child in p.get("guardian_of", ()) and p["region"] == "Västmanland"
    )
    own = _e_id_login(client, guardian["pin"])
    acting = client.post(
        "/identity/acting-for",
        json={"child_personal_identity_number": child},
        headers={"Authorization": f"Bearer {own['access_token']}"},
    )
    assert acting.status_code == 200, acting.text
    status, child_token = refresh(acting.json()["refresh_token"])
    assert status == 200 and child_token
    register = identity.register._people  # type: ignore[attr-defined]
    register[guardian["pin"]] = replace(register[guardian["pin"]], guardian_of=())
    status, _ = refresh(child_token)
    assert status == 401


# --- finding 16 ----------------------------------------------------------------------------


@pytest.mark.unit
def test_finding_16_a_service_holding_the_token_secret_cannot_compute_subject_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from careflow.identity.domain import subject_id

    settings = IdentitySettings()
    with TestClient(_app(settings, None)) as browser:
        order = browser.post("/identity/eid/orders", json={}).json()
        ref = order["order_ref"]
        browser.post(
            f"/identity/eid/test-app/{ref}/approve", json={"personal_identity_number": _adult()}
        )
        login = browser.post(f"/identity/eid/orders/{ref}/collect").json()["login"]
    # Every service holds CAREFLOW_TOKEN_SECRET: with it, a number must not give the id away.
    shared = settings.token_secret.get_secret_value().encode()
    assert login["subject_id"] != subject_id(_adult(), shared)
    # Outside development, identity refuses to run on the development pseudonym key.
    monkeypatch.setenv("CAREFLOW_ENVIRONMENT", "staging")
    monkeypatch.setenv("CAREFLOW_TOKEN_SECRET", "t" * 40)
    monkeypatch.setenv("CAREFLOW_EID_PROVIDER", "oidc")
    monkeypatch.setenv("CAREFLOW_TOKEN_SIGNING_SEED", "a-real-secret-seed-from-the-vault")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://id:pw@db/careflow?ssl=verify-full")
    with pytest.raises(ValidationError, match="PSEUDONYM_KEY"):
        IdentitySettings()


async def test_low_retired_signing_keys_are_kept_as_public_keys_only() -> None:
    """Low finding of issue 13: a retired key's private seed is not kept in the environment.

    The setting that held retired seeds is refused; a retired key is published from its
    public half alone, and tokens it signed before the rotation still verify.
    """
    from pydantic import ValidationError

    from careflow.identity import app as identity_app
    from careflow.kit.auth import Principal, SigningKey, TokenVerifier

    old = SigningKey.from_seed("2026-10", b"the-retired-seed-that-must-go-away")
    with pytest.raises(ValidationError, match="retired private seeds"):
        IdentitySettings(token_previous_signing_keys="2026-10=the-retired-seed-that-must-go-away")
    with pytest.raises(ValidationError, match="RETIRED_PUBLIC_KEYS"):
        IdentitySettings(token_retired_public_keys="2026-10=not-a-key")

    settings = IdentitySettings(
        token_signing_seed="the-current-seed-from-the-vault",
        token_signing_kid="2026-11",
        token_retired_public_keys=f"2026-10={old.public_jwk()['x']}",
    )
    _, app = identity_app.build(settings)
    # No lifespan: the key set needs neither Kafka nor the database.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
        published = (await client.get("/identity/.well-known/jwks.json")).json()["keys"]
    assert [k["kid"] for k in published] == ["2026-11", "2026-10"]
    assert all(set(k) == {"kty", "crv", "x", "kid", "alg", "use"} for k in published)
    # A token the retired key signed before the rotation still verifies against the JWKS.
    who = Principal(subject_id="SE-1", role="staff", region="Uppsala")
    verifier = TokenVerifier("unused-shared-secret", allow_hs256=False)
    verifier.use_jwks({"keys": published})
    assert verifier.verify(old.sign(who, timedelta(minutes=5))).subject_id == "SE-1"
