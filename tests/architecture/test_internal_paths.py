"""Low finding of issue 13: in production a service serves no API documents, and its
metrics and readiness only at the root (which the Ingress does not route).

The app is built by the service's real composition root with production settings and
driven in-process over ASGI, without lifespan: none of these answers needs a database.
"""

from __future__ import annotations

import httpx
import pytest

from careflow.queue import app as queue_app
from careflow.queue.settings import QueueSettings

pytestmark = [pytest.mark.architecture, pytest.mark.security]

PRODUCTION = {
    "environment": "production",
    "token_secret": "a-production-token-secret-of-forty-characters",
    "database_url": "postgresql+asyncpg://queue:s3cret@db.internal/careflow?ssl=verify-full",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_username": "careflow-queue",
    "kafka_sasl_password": "a-kafka-password",
}


async def answers(settings: QueueSettings) -> dict[str, int]:
    _, app = queue_app.build(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://queue"
    ) as client:
        paths = ["/queue/docs", "/queue/openapi.json", "/queue/metrics", "/queue/readyz"]
        paths += ["/metrics", "/healthz", "/queue/healthz"]
        return {p: (await client.get(p)).status_code for p in paths}


async def test_low_production_serves_no_api_documents_and_metrics_only_at_the_root() -> None:
    seen = await answers(QueueSettings(**PRODUCTION))  # type: ignore[arg-type]
    assert seen == {
        "/queue/docs": 404,
        "/queue/openapi.json": 404,
        "/queue/metrics": 404,
        "/queue/readyz": 404,
        "/metrics": 200,
        "/healthz": 200,
        "/queue/healthz": 200,
    }


async def test_development_still_serves_the_api_documents() -> None:
    seen = await answers(QueueSettings(environment="dev"))  # type: ignore[arg-type]
    assert seen["/queue/docs"] == 200 and seen["/queue/openapi.json"] == 200
