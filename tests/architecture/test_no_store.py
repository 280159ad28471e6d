"""Low finding of issue 13: no cache keeps health data, tokens or problems.

Every service's app, as its composition root builds it, answers ``Cache-Control:
no-store`` (and ``Pragma: no-cache``) to authenticated requests and with every problem;
identity's public key set is the one answer a verifier may keep. In-process over ASGI,
without lifespan: none of these answers needs the database or Kafka.
"""

from __future__ import annotations

import importlib
import uuid

import httpx
import pytest

from careflow.kit.auth import Principal, issue_token
from careflow.kit.settings import DEV_TOKEN_SECRET

pytestmark = [pytest.mark.architecture, pytest.mark.security]

SERVICES = ("identity", "triage", "queue", "chat", "journal", "notify")
STAFF = Principal(
    subject_id="SE-no-store", role="staff", region="Uppsala", name="N", title="nurse", care_unit="u"
)
PATIENT = Principal(subject_id="p-no-store", role="patient", region="Uppsala")
CASE = uuid.uuid4()

#: Per service, a request its API refuses as a problem before touching the database.
REFUSED = {
    "identity": ("POST", "/identity/tokens/refresh", None, {"refresh_token": 7}),
    "triage": ("GET", f"/triage/cases/{CASE}/triage", STAFF, None),
    "queue": ("GET", "/queue/queues", PATIENT, None),
    "chat": ("GET", f"/chat/cases/{CASE}/messages", None, None),
    "journal": ("GET", f"/journal/cases/{CASE}/entries", None, None),
    "notify": ("GET", "/notify/preferences", STAFF, None),
}


def bearer(who: Principal | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(DEV_TOKEN_SECRET, who)}"} if who else {}


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", (
        response.request.url,
        response.status_code,
        response.headers.get("cache-control"),
    )
    assert response.headers.get("pragma") == "no-cache"


@pytest.mark.parametrize("service", SERVICES)
async def test_low_no_answer_with_health_data_or_a_problem_is_kept_by_a_cache(
    service: str,
) -> None:
    _, app = importlib.import_module(f"careflow.{service}.app").build()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"http://{service}"
    ) as client:
        method, path, who, body = REFUSED[service]
        refused = await client.request(method, path, headers=bearer(who), json=body)
        assert refused.status_code in (401, 403, 422), refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert_no_store(refused)
        # An authenticated answer, whatever it is.
        assert_no_store(await client.get(f"/{service}/healthz", headers=bearer(STAFF)))
        unknown = await client.get(f"/{service}/no-such-thing", headers=bearer(PATIENT))
        assert unknown.status_code == 404
        assert_no_store(unknown)
        if service == "identity":
            jwks = await client.get("/identity/.well-known/jwks.json")
            assert jwks.headers["cache-control"].startswith("public")
