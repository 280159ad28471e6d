"""What a request raises while a dependency is away answers 503 with Retry-After, never 500.

Each error below is one PostgreSQL and asyncpg really give while the server stops, is
down, or starts again (seen in tests/chaos/test_outages.py); they reach the handlers from
routes, from middleware and from WebSocket endpoints.
"""

from __future__ import annotations

import errno

import pytest
from asyncpg.exceptions import (
    AdminShutdownError,
    CannotConnectNowError,
    ConnectionDoesNotExistError,
    TooManyConnectionsError,
    UniqueViolationError,
)
from asyncpg.exceptions import InterfaceError as AsyncpgInterfaceError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.websockets import WebSocket, WebSocketDisconnect

from careflow.kit.problems import install_handlers, is_unavailable

pytestmark = [pytest.mark.chaos, pytest.mark.unit]


class _TranslatedError(Exception):
    """What SQLAlchemy's asyncpg adapter wraps a driver error in (a generic DBAPI Error)."""


def _wrapped(driver_error: Exception) -> DBAPIError:
    orig = _TranslatedError(str(driver_error))
    orig.__cause__ = driver_error
    return DBAPIError("SELECT 1", None, orig)


AWAY: list[BaseException] = [
    CannotConnectNowError("the database system is starting up"),
    CannotConnectNowError("the database system is shutting down"),
    AdminShutdownError("terminating connection due to administrator command"),
    ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    TooManyConnectionsError("sorry, too many clients already"),
    AsyncpgInterfaceError("connection is closed"),
    ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 5432, 0, 0)"),
    OSError(errno.EHOSTUNREACH, "No route to host"),
    TimeoutError(),
    PoolTimeoutError("QueuePool limit of size 10 overflow 10 reached"),
    _wrapped(AdminShutdownError("terminating connection due to administrator command")),
    ExceptionGroup("middleware", [ConnectionResetError()]),
]

FAULTS: list[BaseException] = [
    UniqueViolationError("duplicate key value"),
    _wrapped(UniqueViolationError("duplicate key value")),
    AsyncpgInterfaceError("cannot perform operation: another operation is in progress"),
    FileNotFoundError(errno.ENOENT, "no such file"),
    ValueError("a bug"),
]


@pytest.mark.parametrize("exc", AWAY, ids=lambda e: type(e).__name__)
def test_an_away_dependency_is_told_apart(exc: BaseException) -> None:
    assert is_unavailable(exc)


@pytest.mark.parametrize("exc", FAULTS, ids=lambda e: type(e).__name__)
def test_a_real_fault_stays_a_fault(exc: BaseException) -> None:
    assert not is_unavailable(exc)


def _app(exc: BaseException, where: str) -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        if where == "route":
            raise exc
        return {}

    @app.websocket("/live")
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        raise exc

    if where == "middleware":

        async def failing(request, call_next):  # type: ignore[no-untyped-def]
            raise exc

        app.add_middleware(BaseHTTPMiddleware, dispatch=failing)
    return app


@pytest.mark.parametrize("where", ["route", "middleware"])
@pytest.mark.parametrize("exc", AWAY, ids=lambda e: type(e).__name__)
def test_requests_answer_503_with_retry_after(exc: BaseException, where: str) -> None:
    client = TestClient(_app(exc, where), raise_server_exceptions=False)
    answer = client.get("/thing")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit()
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_real_fault_still_answers_500() -> None:
    client = TestClient(_app(ValueError("a bug"), "route"), raise_server_exceptions=False)
    assert client.get("/thing").status_code == 500


def test_a_websocket_closes_with_try_again_later() -> None:
    client = TestClient(_app(CannotConnectNowError("starting up"), "route"))
    with client.websocket_connect("/live") as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_text()
    assert closed.value.code == 1013


def test_a_consumer_retries_a_batch_while_the_database_starts_and_never_dead_letters_it() -> None:
    """A server still starting answers asyncpg's own CannotConnectNowError (SQLSTATE 57P03):
    the consumer must read the batch again, not isolate it and dead-letter its events."""
    from careflow.kit.consumer import _is_transient

    assert _is_transient(CannotConnectNowError("the database system is starting up"))
    assert _is_transient(AdminShutdownError("terminating connection due to administrator"))
    assert not _is_transient(UniqueViolationError("duplicate key"))
    assert not _is_transient(ValueError("a handler's bug"))
