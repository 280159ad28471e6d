"""Refusals guide the person in their own language: identity's HTTP API (the real app and
routes, test e-ID; the login flow needs neither Kafka nor the database) answers the
guidance for coordination numbers, protected identity, children under one and regions
without the service in the language ``Accept-Language`` asks for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from careflow.identity import http, service
from careflow.identity.domain.guidance import GUIDANCE_SAID
from careflow.identity.eid import TestEidProvider
from careflow.identity.register import SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.i18n import LANGUAGES, check_catalog
from careflow.kit.runtime import ServiceRuntime

pytestmark = [pytest.mark.identity, pytest.mark.journey, pytest.mark.unit]

COORDINATION = "199007749493"  # a coordination number holder (day of birth + 60)
PROTECTED = "197003099509"  # adult with protected identity
NO_SERVICE = "197505179254"  # adult, region does not run the service
GUARDIAN = "198506129488"
INFANT = "202605029004"  # under 1 in 2026


@asynccontextmanager
async def _no_lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
    yield


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = IdentitySettings()
    runtime = ServiceRuntime(settings)
    identity = service.Identity(
        settings, SeedRegister(), SeedStaffCatalogue(), TestEidProvider(), runtime.clock
    )
    app: FastAPI = runtime.create_app(http.router(identity), title="t")
    app.router.lifespan_context = _no_lifespan
    with TestClient(app) as c:
        runtime.verifier.use_jwks(c.get("/identity/.well-known/jwks.json").json())
        yield c


def collect(client: TestClient, pin: str, language: str | None) -> dict:  # type: ignore[type-arg]
    order = client.post("/identity/eid/orders", json={"realm": "patient"}).json()
    approved = client.post(
        f"/identity/eid/test-app/{order['order_ref']}/approve",
        json={"personal_identity_number": pin},
    )
    assert approved.status_code == 204, approved.text
    headers = {"Accept-Language": language} if language else {}
    done = client.post(f"/identity/eid/orders/{order['order_ref']}/collect", headers=headers)
    assert done.status_code == 200, done.text
    body: dict = done.json()  # type: ignore[type-arg]
    return body


@pytest.mark.parametrize(
    ("pin", "code"),
    [
        (PROTECTED, "protected_identity"),
        (NO_SERVICE, "region_not_served"),
        (COORDINATION, "coordination_number"),
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refused_login_is_guided_in_the_language_asked_for(
    client: TestClient, pin: str, code: str, language: str
) -> None:
    refused = collect(client, pin, language)["refused"]
    assert refused["code"] == code
    assert refused["guidance"] == GUIDANCE_SAID[code][language]


def test_without_a_language_the_guidance_is_as_before(client: TestClient) -> None:
    refused = collect(client, PROTECTED, None)["refused"]
    assert refused["guidance"].startswith("With protected personal data")
    # A language the service does not offer falls back the same way.
    assert collect(client, PROTECTED, "de")["refused"]["guidance"] == refused["guidance"]


def test_acting_for_an_infant_is_refused_in_arabic_and_persian(client: TestClient) -> None:
    token = collect(client, GUARDIAN, None)["login"]["access_token"]
    for language in ("ar", "fa"):
        r = client.post(
            "/identity/acting-for",
            headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
            json={"child_personal_identity_number": INFANT},
        )
        assert r.status_code == 403
        assert r.json()["detail"] == GUIDANCE_SAID["child_too_young"][language]
        assert r.headers["content-language"] == language
    assert GUIDANCE_SAID["child_too_young"]["ar"].startswith("لا يتلقى الأطفال")


def test_the_guidance_exists_in_every_language_and_reads_plainly() -> None:
    assert check_catalog("identity", GUIDANCE_SAID) == []
