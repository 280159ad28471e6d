"""One place to compose a careflow service process: database, Kafka producer, relay,
consumers and the HTTP app with health, readiness and metrics.

A service's ``app.py`` builds a ``ServiceRuntime``, adds its consumers and
routers, and its ``__main__`` calls ``run``. Shutdown on SIGTERM is graceful:
stop taking HTTP requests and Kafka messages, finish the batch in flight,
commit, let the relay publish what is committed, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from careflow.contracts import (
    EVENT_TYPES,
    RESTRICTED_TOPICS,
    SUBSCRIPTIONS,
    dead_letter_topic,
    topic_for_event,
    topic_for_service,
)
from careflow.kit import problems
from careflow.kit.auth import TokenVerifier
from careflow.kit.caching import NoStore
from careflow.kit.clock import Clock, SystemClock
from careflow.kit.consumer import BatchHandler, Handler, IdempotentConsumer
from careflow.kit.db import Database
from careflow.kit.kafka import ensure_topics, make_producer, until_kafka_answers
from careflow.kit.logging import configure_logging, get_logger
from careflow.kit.migrations import RoleError, SchemaBehind, is_behind, upgrade
from careflow.kit.recording import ResponseRecorder
from careflow.kit.relay import OutboxRelay
from careflow.kit.settings import Environment, ServiceSettings

log = get_logger(__name__)

#: A start or stop step of a background part.
Lifecycle = Callable[[], Awaitable[None]]


async def _bind_request_context(request: Request) -> AsyncIterator[None]:
    """Bind the case id (from the path) and the correlation id to every log line of a request."""
    case_id = request.path_params.get("case_id")
    correlation_id = request.headers.get("x-correlation-id")
    values = {k: v for k, v in (("case_id", case_id), ("correlation_id", correlation_id)) if v}
    with structlog.contextvars.bound_contextvars(**values):
        yield


class ServiceRuntime:
    """Everything one service process runs, wired once."""

    def __init__(
        self,
        settings: ServiceSettings,
        migrations: Path | None = None,
        clock: Clock | None = None,
        *,
        restricted_role: bool = False,
        publishes: bool = True,
    ) -> None:
        """``restricted_role``: the service's tables must be out of reach of the role it runs
        as (no owner, no superuser; see ``Database.role_problems``), checked at start and
        refused outside dev and test. Every service runs so: its migrations give its runtime
        role only the rights it uses (``grant_runtime_rights_v1``).

        ``publishes=False``: a service with no events of its own (the web front end) runs
        without a Kafka producer, relay or topics; it may not ``consume``."""
        self.settings = settings
        self.restricted_role = restricted_role
        self.publishes = publishes
        self.service = settings.service_name
        self.clock: Clock = clock or SystemClock()
        development = settings.environment in (Environment.DEV, Environment.TEST)
        # HS256 development tokens and a JWKS over plain http are accepted only in dev and test.
        self.verifier = TokenVerifier(
            settings.token_secret.get_secret_value(),
            allow_hs256=development,
            jwks_url=None if settings.jwks_file else settings.jwks_url,
            jwks_file=settings.jwks_file,
            require_https=not development,
        )
        self.migrations = migrations
        self.db = Database(settings.database_url, settings.db_schema, settings.db_pool_size)
        # The one Kafka producer (relay and dead letters); consumers share its connection.
        self.producer = make_producer(settings, client_id=self.service)
        self.topic = topic_for_service(self.service) if publishes else ""
        self.relay = OutboxRelay(
            self.db,
            self.producer,
            self.topic,
            batch_size=settings.relay_batch_size,
            idle_poll_seconds=settings.relay_idle_poll_seconds,
            # Events naming a person by number leave on their restricted topic.
            routes={
                event_type: topic
                for event_type, (topic, _) in RESTRICTED_TOPICS.items()
                if self.service == EVENT_TYPES[event_type].OWNER
            },
        )
        self.consumers: list[IdempotentConsumer] = []
        self._background: list[tuple[str, Lifecycle, Lifecycle]] = []
        self._readiness: dict[str, Callable[[], bool]] = {}
        self._relay_task: asyncio.Task[None] | None = None
        self._started = False
        #: Set by ``run``: this runtime is the whole process (see ``start``).
        self._freezes_heap = False

    def consume(
        self,
        name: str,
        handlers: Mapping[str, Handler] | None = None,
        *,
        projection: BatchHandler | None = None,
        event_types: Sequence[str] = (),
        topics: Sequence[str] | None = None,
    ) -> None:
        """Apply ``handlers`` (event type -> handler) through an idempotent consumer.

        Or a ``projection``, which takes each batch's fresh events (of ``event_types``)
        at once. The topics are those of the consumed events' owners; every consumed type
        must be in this service's ``SUBSCRIPTIONS`` (the contracts registry is the one
        list of who consumes what). ``name`` becomes the Kafka group id and the inbox's
        consumer name.
        """
        if not self.publishes:
            raise ValueError(f"{self.service} runs without Kafka: it cannot consume")
        consumed = set(handlers or {}) | set(event_types)
        subscribed = set(SUBSCRIPTIONS.get(self.service, ()))
        unlisted = sorted(consumed - subscribed)
        if unlisted:
            raise ValueError(
                f"{self.service} handles {unlisted} but SUBSCRIPTIONS does not list them"
            )
        # ``topics`` replaces the registry's only where a benchmark or test feeds its own.
        topics = list(topics or sorted({topic_for_event(t) for t in consumed}))
        consumer = IdempotentConsumer(
            name=f"{self.service}.{name}",
            db=self.db,
            producer=self.producer,
            dead_letter_topic=dead_letter_topic(self.service),
            handlers=handlers,
            retry_backoff_seconds=self.settings.consumer_retry_backoff_seconds,
            projection=projection,
            event_types=event_types,
        )
        consumer.subscribe(*topics, batch_size=self.settings.consumer_batch_size)
        self.consumers.append(consumer)

    def background(
        self,
        name: str,
        start: Lifecycle,
        stop: Lifecycle,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        """Run a service-specific part (a sender, a live hub, a sweeper) with the runtime.

        ``start`` runs after the producer, consumers and relay have started; ``stop`` runs
        before they stop, in reverse order of registration; ``ready``, if given, joins
        the readiness checks under ``name``.
        """
        self._background.append((name, start, stop))
        if ready is not None:
            self._readiness[name] = ready

    def task(
        self,
        name: str,
        run: Callable[[], Coroutine[Any, Any, None]],
        stop: Callable[[], None] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> None:
        """Run a long-lived loop (``run()``) with the runtime, as a ``background`` part.

        On stop, ``stop()`` asks the loop to finish what it holds (waited for up to the
        shutdown grace); a loop without ``stop`` is cancelled.
        """
        tasks: list[asyncio.Task[None]] = []

        async def start_task() -> None:
            tasks.append(asyncio.create_task(run(), name=f"{self.service}-{name}"))

        async def stop_task() -> None:
            for running in tasks:
                if stop is not None:
                    stop()
                    # After the grace, wait_for cancels it.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(running, self.settings.shutdown_grace_seconds)
                else:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            tasks.clear()

        self.background(name, start_task, stop_task, ready)

    def migrate(self) -> None:
        """Bring this service's schema to the newest migration (sync: call before the loop),
        as the owner (``CAREFLOW_MIGRATION_DATABASE_URL``, else ``DATABASE_URL``)."""
        if self.migrations is not None:
            upgrade(
                self.migrations,
                self.settings.migration_url,
                self.settings.db_schema,
                runtime_role=self.settings.runtime_role,
            )

    async def check_database(self) -> None:
        """Refuse to run on a schema older than the code, or (``restricted_role``) with a role
        that could change the service's tables: outside dev and test, a clear error."""
        if self.migrations is not None and not self.settings.migrates_at_start:
            current = await self.db.schema_revision()
            head = is_behind(self.migrations, current)
            if head is not None:
                raise SchemaBehind(
                    f"schema {self.settings.db_schema} is at revision {current}, this code needs "
                    f"{head}: run the migration job (careflow migrate {self.service}) first"
                )
        if not self.restricted_role:
            return
        if self.settings.environment in (Environment.DEV, Environment.TEST):
            # A warning only: many tests run the service as the owner on purpose.
            try:
                problems = await self.db.role_problems()
            except Exception as exc:
                problems = [f"not checked: {type(exc).__name__}"]
            if problems:
                log.warning("database_role_unrestricted", problems=problems)
            return
        problems = await self.db.role_problems()
        if not problems:
            return
        raise RoleError(
            f"{self.service} must run with a role that can only use its tables "
            f"({'; '.join(problems)}): point DATABASE_URL at its runtime role and "
            "CAREFLOW_MIGRATION_DATABASE_URL (the migration job) at the schema's owner"
        )

    async def start(self) -> None:
        """Check the database role, create topics, connect the producer, start the consumers
        and the relay."""
        await self.check_database()
        wait = self.settings.kafka_start_wait_seconds
        if self.publishes and self.settings.create_topics:
            await until_kafka_answers("topics", lambda: ensure_topics(self.settings), wait)
        # Fetch the token signing keys before the first request needs them.
        await self.verifier.prefetch()
        if self.publishes:
            await until_kafka_answers("producer", self.producer.start, wait)
            for consumer in self.consumers:
                await until_kafka_answers(consumer.name, consumer.start, wait)
            self._relay_task = asyncio.create_task(self.relay.run(), name=f"{self.service}-relay")
        self._started = True
        for name, start, _ in self._background:
            await start()
            log.info("background_started", part=name)
        if self._freezes_heap:
            # What start loaded (modules, app, pools) lives as long as the process: moved out
            # of the collector's reach, the full collections that otherwise stop one request
            # in a hundred for tens of milliseconds get short. Only for a served process:
            # tests start many runtimes in one interpreter and must not keep their garbage.
            gc.collect()
            gc.freeze()
        log.info("service_started", topic=self.topic, consumers=len(self.consumers))

    async def stop(self) -> None:
        """Graceful stop: consumers finish their batch and commit, the relay drains, then close."""
        if not self._started:
            return
        self._started = False
        for name, _, stop in reversed(self._background):
            try:
                await stop()
            except Exception as exc:
                log.exception("background_stop_failed", part=name, error=type(exc).__name__)
        # Consumers first: each finishes and commits the batch in flight.
        for consumer in self.consumers:
            await consumer.stop()
        self.relay.stop()
        if self._relay_task is not None:
            try:
                await asyncio.wait_for(self._relay_task, self.settings.shutdown_grace_seconds)
            except TimeoutError:
                self._relay_task.cancel()
        if self.publishes:
            await self.producer.stop()
        await self.db.dispose()
        log.info("service_stopped")

    async def ready(self) -> dict[str, bool]:
        """What readiness checks: the database answers, Kafka answers, the relay runs."""
        checks = {"database": await self.db.ping()}
        if self.publishes:
            checks["kafka"] = self._started and await self.producer.ping()
            checks["relay"] = self.relay.healthy
            checks["consumers"] = all(c.running for c in self.consumers)
        checks.update({name: check() for name, check in self._readiness.items()})
        return checks

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
            # Outside dev and test there is no document to serve (``app.openapi()`` still
            # builds it for the tools that check it).
            openapi_url=f"{prefix}/openapi.json" if self.settings.serves_api_docs else None,
            docs_url=f"{prefix}/docs" if self.settings.serves_api_docs else None,
            redoc_url=None,
        )

        app.state.token_verifier = self.verifier
        app.state.clock = self.clock
        problems.install_handlers(app)
        problems.document(app)
        # Outermost but for the recorder: problems from any layer get it too.
        app.add_middleware(NoStore)
        if self.settings.record_responses:
            app.add_middleware(
                ResponseRecorder,
                service=self.service,
                path=self.settings.record_responses,
                operations=lambda: app.openapi()["paths"],
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

        # Prometheus' text format, documented as such (not the JSON FastAPI assumes).
        @ops.get("/metrics", response_class=PlainTextResponse)
        async def metrics_endpoint() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        # Probes and metrics at the root, for the kubelet and Prometheus inside the cluster
        # (the ingress routes only API paths under the prefix); liveness under the prefix too.
        app.include_router(ops)
        app.add_api_route(f"{prefix}/healthz", healthz, methods=["GET"], tags=["operations"])
        for router in routers:
            app.include_router(router, prefix=prefix)
        return app

    def run(self, app: FastAPI) -> None:
        """Migrate (where the settings allow it), then serve HTTP and Kafka until SIGTERM or
        Ctrl-C."""
        import uvicorn

        configure_logging(self.service, self.settings.log_level, self.settings.log_json)
        self._freezes_heap = True
        if self.settings.migrates_at_start:
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
    """Entry point body of every service's ``__main__``: build, migrate (dev, test), serve."""
    runtime, app = build()
    runtime.run(app)
