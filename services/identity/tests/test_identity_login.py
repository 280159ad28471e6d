"""The e-ID login flow and acting for a child, through identity's HTTP API."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from careflow.identity import http, service
from careflow.identity.eid import TestEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.auth import TokenVerifier
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import DEV_TOKEN_SECRET

pytestmark = [pytest.mark.identity, pytest.mark.unit]

REGISTER = SeedRegister()


def pin_with(note: str) -> str:
    return next(p.pin for p in REGISTER.all() if _note(p.pin) == note)


def _note(pin: str) -> str:
    data = json.loads((REGISTER_FILE).read_text(encoding="utf-8"))
    return next(p["note"] for p in data["persons"] if p["pin"] == pin)


from careflow.identity.register import SEED_FILE as REGISTER_FILE  # noqa: E402


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = IdentitySettings()
    runtime = ServiceRuntime(settings)
    identity = service.Identity(
        settings, REGISTER, SeedStaffCatalogue(), TestEidProvider(), runtime.clock
    )
    app: FastAPI = runtime.create_app(http.router(identity), title="t")
    # No lifespan: the login flow needs neither Kafka nor the database.
    app.router.lifespan_context = _no_lifespan
    with TestClient(app) as c:
        # Verify the EdDSA access tokens with the keys identity publishes.
        runtime.verifier.use_jwks(c.get("/identity/.well-known/jwks.json").json())
        yield c


from contextlib import asynccontextmanager  # noqa: E402


@asynccontextmanager
async def _no_lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
    yield


def login(client: TestClient, pin: str, realm: str = "patient") -> dict:  # type: ignore[type-arg]
    order = client.post("/identity/eid/orders", json={"realm": realm}).json()
    assert order["qr_data"].startswith("bankid.")
    pending = client.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()
    assert pending["status"] == "pending" and pending["hint_code"] == "outstandingTransaction"
    approved = client.post(
        f"/identity/eid/test-app/{order['order_ref']}/approve",
        json={"personal_identity_number": pin},
    )
    assert approved.status_code == 204, approved.text
    done = client.post(f"/identity/eid/orders/{order['order_ref']}/collect")
    assert done.status_code == 200, done.text
    body: dict = done.json()  # type: ignore[type-arg]
    body["order_ref"] = order["order_ref"]
    return body


def test_an_adult_logs_in_with_e_id_and_gets_a_pseudonymous_token(client: TestClient) -> None:
    pin = pin_with("adult, region runs the service")
    result = login(client, pin)
    assert result["status"] == "complete" and result["refused"] is None
    token = result["login"]["access_token"]
    principal = verify(client, token)
    assert principal.role == "patient" and principal.subject_id.startswith("p-")
    assert pin not in principal.subject_id
    # A completed order is collected once; a replayed collect is refused.
    replay = client.post(f"/identity/eid/orders/{result['order_ref']}/collect")
    assert replay.status_code == 409


@pytest.mark.parametrize(
    ("note", "code"),
    [
        ("adult with protected identity", "protected_identity"),
        ("adult, region does not run the service", "region_not_served"),
        ("coordination number holder: refused", "coordination_number"),
        ("child aged 6: guardian may act", "child_must_be_acted_for"),
    ],
)
def test_refused_logins_say_why_and_give_no_token(client: TestClient, note: str, code: str) -> None:
    result = login(client, pin_with(note))
    assert result["login"] is None and result["refused"]["code"] == code
    assert result["refused"]["guidance"]


def test_a_guardian_acts_for_their_child_and_not_for_others(client: TestClient) -> None:
    guardian = next(p for p in REGISTER.all() if p.region == "Västmanland" and p.guardian_of)
    token = login(client, guardian.pin)["login"]["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    child = pin_with("child aged 6: guardian may act")
    acting = client.post(
        "/identity/acting-for", headers=auth, json={"child_personal_identity_number": child}
    )
    assert acting.status_code == 200, acting.text
    principal = verify(client, acting.json()["access_token"])
    assert principal.acting_for == acting.json()["subject_id"]
    # The token tells the child's age and sex, never the number.
    assert principal.age_years is not None and principal.age_years < 18
    assert principal.sex in ("female", "male")
    claims = jwt.decode(acting.json()["access_token"], options={"verify_signature": False})
    assert child not in json.dumps(claims)

    infant = client.post(
        "/identity/acting-for",
        headers=auth,
        json={
            "child_personal_identity_number": pin_with(
                "infant (under 1 in 2026): refused, call 1177"
            )
        },
    )
    assert infant.status_code == 403 and "1177" in infant.json()["detail"]
    stranger = client.post(
        "/identity/acting-for",
        headers=auth,
        json={"child_personal_identity_number": pin_with("child aged 5")},
    )
    assert (
        stranger.status_code == 403
        and "guardian" in infant.json()["detail"] + stranger.json()["detail"]
    )


def test_staff_log_in_in_their_own_realm(client: TestClient) -> None:
    result = login(client, "197505179882", realm="staff")
    principal = verify(client, result["login"]["access_token"])
    assert principal.role == "staff" and principal.title == "nurse"
    assert principal.region == "Västmanland" and principal.care_unit
    not_staff = login(client, pin_with("adult, region runs the service"), realm="staff")
    assert not_staff["refused"]["code"] == "not_staff"


def test_cancelled_order_fails_and_bad_numbers_get_422(client: TestClient) -> None:
    order = client.post("/identity/eid/orders", json={}).json()
    client.post(f"/identity/eid/orders/{order['order_ref']}/cancel")
    result = client.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()
    assert result["status"] == "failed" and result["hint_code"] == "userCancel"
    bad = client.post("/identity/eid/orders", json={"personal_identity_number": "19121212-1213"})
    assert bad.status_code == 422 and "check digit" in bad.json()["detail"]


def _b64(data: dict) -> str:  # type: ignore[type-arg]
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_refused(client: TestClient) -> None:
    token = login(client, pin_with("adult, region runs the service"))["login"]["access_token"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    tampered = f"{header}.{_b64({**claims, 'sub': 'p-someone-else'})}.{signature}"
    for forged in (none_alg, tampered, token + "x"):
        response = client.post(
            "/identity/acting-for",
            headers={"Authorization": f"Bearer {forged}"},
            json={"child_personal_identity_number": "191212121212"},
        )
        assert response.status_code == 401, forged


def test_access_tokens_are_eddsa_with_a_kid_and_an_audience(client: TestClient) -> None:
    token = login(client, pin_with("adult, region runs the service"))["login"]["access_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["kid"] == "dev-1"
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == "careflow" and "191212121212" not in json.dumps(claims["sub"])


def test_key_confusion_wrong_audience_and_expired_tokens_are_refused(client: TestClient) -> None:
    import jwt as pyjwt

    from careflow.identity.settings import DEV_SIGNING_SEED
    from careflow.kit.auth import InvalidToken, Principal, SigningKey

    key = SigningKey.from_seed("dev-1", DEV_SIGNING_SEED.encode())
    who = Principal(subject_id="p-x", role="patient", region="Uppsala")
    jwk = key.public_jwk()
    # HS256 signed with the PUBLIC key as the HMAC secret (the classic confusion attack).
    confused = pyjwt.encode(
        {
            "iss": "careflow-identity",
            "sub": "p-x",
            "exp": 9999999999,
            "cf": who.model_dump(exclude={"subject_id"}),
        },
        jwk["x"],
        algorithm="HS256",
        # Typed as an access token, so it is the algorithm that refuses it.
        headers={"kid": "dev-1", "typ": "at+jwt"},
    )
    development = TokenVerifier(DEV_TOKEN_SECRET, allow_hs256=True, jwks={"keys": [jwk]})
    with pytest.raises(InvalidToken):
        development.verify(confused)
    production = TokenVerifier(DEV_TOKEN_SECRET, allow_hs256=False, jwks={"keys": [jwk]})
    with pytest.raises(InvalidToken, match="not accepted"):
        production.verify(confused)
    wrong_audience = pyjwt.encode(
        {
            "iss": "careflow-identity",
            "aud": "elsewhere",
            "sub": "p-x",
            "exp": 9999999999,
            "cf": who.model_dump(exclude={"subject_id"}),
        },
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": "dev-1", "typ": "at+jwt"},
    )
    with pytest.raises(InvalidToken):
        production.verify(wrong_audience)
    from datetime import timedelta

    with pytest.raises(InvalidToken, match="expired"):
        production.verify(key.sign(who, timedelta(seconds=-5)))
    unknown_kid = SigningKey.from_seed("rogue", b"attacker").sign(who, timedelta(minutes=5))
    with pytest.raises(InvalidToken, match="unknown signing key"):
        production.verify(unknown_kid)
    assert production.verify(key.sign(who, timedelta(minutes=5))) == who


def verify(client: TestClient, token: str):  # type: ignore[no-untyped-def]
    """Check a token as any service would: with the keys identity publishes."""
    return client.app.state.token_verifier.verify(token)  # type: ignore[attr-defined]


@pytest.mark.architecture
def test_every_route_documents_the_problems_it_can_answer(client: TestClient) -> None:
    from careflow.kit.problems import documented_statuses

    documented = documented_statuses(client.app)  # type: ignore[arg-type]
    expected = {
        ("POST", "/identity/eid/orders"): {400, 422, 429, 503},
        ("POST", "/identity/eid/orders/{order_ref}/collect"): {403, 404, 409, 422},
        ("POST", "/identity/eid/orders/{order_ref}/cancel"): {403, 404, 422},
        ("GET", "/identity/oidc/callback"): {403, 404, 409, 422},
        ("POST", "/identity/eid/test-app/{order_ref}/approve"): {403, 404, 409, 422},
        ("POST", "/identity/acting-for"): {401, 403, 422},
        ("GET", "/identity/acting-for/children"): {401, 403},
        ("POST", "/identity/tokens/refresh"): {401, 404, 422},
        ("POST", "/identity/tokens/revoke"): {400, 422},
        ("POST", "/identity/dev/patient-tokens"): {403, 422},
        ("POST", "/identity/dev/staff-tokens"): {403, 422},
        ("GET", "/identity/.well-known/jwks.json"): {503},
    }
    for route, statuses in expected.items():
        assert statuses <= documented[route], (route, documented[route])


@pytest.mark.web
@pytest.mark.parametrize(
    ("today", "listed"),
    [
        # Ingrid Lindberg, Uppsala: guardian of Kerstin (born 2014-01-10) and Olof (2013-06-06).
        ("2026-06-05", {"201401109622", "201306069756"}),  # Olof is 12 for one more day
        ("2026-06-06", {"201401109622"}),  # Olof turns 13: he logs in himself now
        ("2027-01-10", set()),  # Kerstin turns 13 too
    ],
)
def test_a_guardian_sees_their_children_aged_1_to_12_and_at_13_the_child_is_gone(
    today: str, listed: set[str]
) -> None:
    from datetime import UTC, datetime

    from careflow.kit.clock import FixedClock

    clock = FixedClock(datetime.fromisoformat(f"{today}T09:00:00").replace(tzinfo=UTC))
    settings = IdentitySettings()
    runtime = ServiceRuntime(settings, clock=clock)
    identity = service.Identity(settings, REGISTER, SeedStaffCatalogue(), TestEidProvider(), clock)
    app: FastAPI = runtime.create_app(http.router(identity), title="t")
    app.router.lifespan_context = _no_lifespan
    with TestClient(app) as c:
        runtime.verifier.use_jwks(c.get("/identity/.well-known/jwks.json").json())
        token = login(c, "198002209867")["login"]["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        children = c.get("/identity/acting-for/children", headers=auth)
        assert children.status_code == 200, children.text
        assert {child["personal_identity_number"] for child in children.json()} == listed
        assert all(1 <= child["age_years"] <= 12 for child in children.json())
        # Acting for a listed child works; for one no longer listed it is refused.
        for pin in ("201401109622", "201306069756"):
            acting = c.post(
                "/identity/acting-for", headers=auth, json={"child_personal_identity_number": pin}
            )
            assert acting.status_code == (200 if pin in listed else 403), acting.text
            if pin in listed:
                # Acting for a child, the children's list is not the child's to see.
                child_auth = {"Authorization": f"Bearer {acting.json()['access_token']}"}
                again = c.get("/identity/acting-for/children", headers=child_auth)
                assert again.status_code == 403


def test_someone_who_is_no_guardian_has_no_children_to_act_for(client: TestClient) -> None:
    token = login(client, "198011139014")["login"]["access_token"]
    found = client.get(
        "/identity/acting-for/children", headers={"Authorization": f"Bearer {token}"}
    )
    assert found.status_code == 200 and found.json() == []
