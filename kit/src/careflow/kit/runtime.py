"""One place to compose a careflow service process: database, broker, relay,
consumers and the HTTP app with health, readiness and metrics.

A service's ``app.py`` builds a ``ServiceRuntime``, adds its consumers and
routers, and its ``__main__`` calls ``run``. Shutdown on SIGTERM is graceful:
stop taking HTTP requests and Kafka messages, finish the batch in flight,
commit, let the relay publish what is committed, close.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from careflow.contracts import dead_letter_topic, topic_for_service
from careflow.kit.auth import configure_verification, prefetch_signing_keys
from careflow.kit.consumer import BatchHandler, Handler, IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.domain import DomainError
from careflow.kit.eventstore import ConcurrencyError
from careflow.kit.kafka import configure_security, ensure_topics, make_broker
from careflow.kit.logging import configure_logging, get_logger
from careflow.kit.migrations import upgrade
from careflow.kit.relay import OutboxRelay
from careflow.kit.settings import Environment, ServiceSettings

log = get_logger(__name__)


async def _bind_request_context(request: Request) -> AsyncIterator[None]:
    """Bind the case id (from the path) and the correlation id to every log line of a request."""
    case_id = request.path_params.get("case_id")
    correlation_id = request.headers.get("x-correlation-id")
    values = {k: v for k, v in (("case_id", case_id), ("correlation_id", correlation_id)) if v}
    with structlog.contextvars.bound_contextvars(**values):
        yield


class ServiceRuntime:
    """Everything one service process runs, wired once."""

    def __init__(self, settings: ServiceSettings, migrations: Path | None = None) -> None:
        self.settings = settings
        self.service = settings.service_name
        # HS256 development tokens are accepted only in dev and test.
        configure_verification(
            allow_hs256=settings.environment in (Environment.DEV, Environment.TEST),
            jwks_url=settings.jwks_url,
        )
        self.migrations = migrations
        configure_security(settings)
        self.db = Database(settings.database_url, settings.db_schema, settings.db_pool_size)
        self.broker = make_broker(settings.kafka_bootstrap_servers, client_id=self.service)
        self.topic = topic_for_service(self.service)
        self.relay = OutboxRelay(
            self.db,
            self.broker,
            self.topic,
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
        )
        self.consumers: list[IdempotentConsumer] = []
        self._relay_task: asyncio.Task[None] | None = None
        self._started = False

    def consume(
        self,
        name: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        projection: BatchHandler | None = None,
    ) -> None:
        """Apply ``handlers`` to events on ``topics`` through an idempotent consumer.

        ``name`` becomes the Kafka group id and the inbox's consumer name; a
        ``projection`` takes each batch's fresh events at once (see IdempotentConsumer).
        """
        consumer = IdempotentConsumer(
            name=f"{self.service}.{name}",
            db=self.db,
            broker=self.broker,
            dead_letter_topic=dead_letter_topic(self.service),
            handlers=handlers,
            retry_backoff_seconds=self.settings.consumer_retry_backoff_seconds,
            projection=projection,
        )
        consumer.subscribe(*topics, batch_size=self.settings.consumer_batch_size)
        self.consumers.append(consumer)

    def migrate(self) -> None:
        """Bring this service's schema to the newest migration (sync: call before the loop)."""
        if self.migrations is not None:
            upgrade(self.migrations, self.settings.database_url, self.settings.db_schema)

    async def start(self) -> None:
        """Create topics, connect the broker (starting the consumers) and start the relay."""
        if self.settings.create_topics:
            await ensure_topics(self.settings.kafka_bootstrap_servers)
        # Fetch the token signing keys before the first request needs them.
        await asyncio.to_thread(prefetch_signing_keys)
        await self.broker.start()
        for consumer in self.consumers:
            await consumer.start(self.settings.kafka_bootstrap_servers)
        self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-relay")
        self._started = True
        log.info("service_started", topic=self.topic, consumers=len(self.consumers))

    async def stop(self) -> None:
        """Graceful stop: consumers finish their batch and commit, the relay drains, then close."""
        if not self._started:
            return
        self._started = False
        # Consumers first: each finishes and commits the batch in flight.
        for consumer in self.consumers:
            await consumer.stop()
        self.relay.stop()
        if self._relay_task is not None:
            try:
                await asyncio.wait_for(self._relay_task, self.settings.shutdown_grace_seconds)
            except TimeoutError:
                self._relay_task.cancel()
        await self.broker.stop()
        await self.db.dispose()
        log.info("service_stopped")

    async def ready(self) -> dict[str, bool]:
        """What readiness checks: the database answers, the broker is connected, the relay runs."""
        return {
            "database": await self.db.ping(),
            "kafka": self._started and await self._broker_ping(),
            "relay": self.relay.healthy,
            "consumers": all(c.running for c in self.consumers),
        }

    async def _broker_ping(self) -> bool:
        try:
            return bool(await self.broker.ping(timeout=2.0))
        except Exception:
            return False

    def create_app(self, *routers: APIRouter, title: str, description: str = "") -> FastAPI:
        """The service's HTTP app: its API under ``/<service>``, plus health and metrics."""
        prefix = f"/{self.service}"

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(
            dependencies=[Depends(_bind_request_context)],
            title=title,
            description=description,
            version="0.1.0",
            lifespan=lifespan,
            openapi_url=f"{prefix}/openapi.json",
            docs_url=f"{prefix}/docs",
            redoc_url=None,
        )

        @app.exception_handler(DomainError)
        async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
            return JSONResponse({"detail": exc.reason}, status_code=exc.status_code)

        @app.exception_handler(ConcurrencyError)
        async def concurrency_error(_: Request, exc: ConcurrencyError) -> JSONResponse:
            return JSONResponse(
                {"detail": "the case changed meanwhile; reload and try again"}, status_code=409
            )

        ops = APIRouter(tags=["operations"])

        @ops.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.service}

        @ops.get("/readyz")
        async def readyz() -> JSONResponse:
            checks = await self.ready()
            ok = all(checks.values())
            return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

        @ops.get("/metrics")
        async def metrics_endpoint() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        # Probes at the root for the kubelet; the same under the prefix for the ingress.
        app.include_router(ops)
        app.include_router(ops, prefix=prefix)
        for router in routers:
            app.include_router(router, prefix=prefix)
        return app

    def run(self, app: FastAPI) -> None:
        """Migrate, then serve HTTP and Kafka until SIGTERM or Ctrl-C."""
        import uvicorn

        configure_logging(self.service, self.settings.log_level, self.settings.log_json)
        self.migrate()
        uvicorn.run(
            app,
            host=self.settings.http_host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(self.settings.shutdown_grace_seconds),
        )


def serve(build: Callable[[], tuple[ServiceRuntime, FastAPI]]) -> None:
    """Entry point body of every service's ``__main__``: build, migrate, serve."""
    runtime, app = build()
    runtime.run(app)
