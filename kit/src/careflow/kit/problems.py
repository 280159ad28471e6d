"""Errors that say what they are: every 4xx and 5xx answer as RFC 9457 problem details.

One place maps what can go wrong in a request (a refused command, a malformed
body, a missing token, a database that is away) to ``application/problem+json``,
and one place documents it in the OpenAPI document, so what a client reads in
the document is what it gets on the wire.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from asyncpg.exceptions import InterfaceError as AsyncpgInterfaceError
from asyncpg.exceptions import PostgresError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from careflow.kit.domain import DomainError, TooManyRequests
from careflow.kit.eventstore import ConcurrencyError
from careflow.kit.i18n import TITLES, negotiate
from careflow.kit.logging import get_logger

log = get_logger(__name__)

MEDIA_TYPE = "application/problem+json"

#: Seconds a client should wait before retrying while a dependency is away.
RETRY_AFTER_SECONDS = 5


class FieldError(BaseModel):
    """One invalid part of a request."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Where: 'body.answer', 'query.limit', 'path.case_id'.")
    message: str
    type: str = Field(description="A machine-readable kind, e.g. 'missing', 'string_too_long'.")


class Problem(BaseModel):
    """RFC 9457 problem details, with the invalid fields of a validation error."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str = Field(description="A short summary of the kind, the same for every instance.")
    status: int
    detail: str = Field(description="What went wrong this time, in plain words.")
    errors: list[FieldError] | None = Field(
        default=None, description="For a request that failed validation: each invalid field."
    )


def _type_uri(slug: str) -> str:
    return f"urn:careflow:problem:{slug}"


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response; ``slug`` names the kind (default: the HTTP status).

    Always ``Cache-Control: no-store``.
    """
    phrase = HTTPStatus(status).phrase
    body = Problem(
        type=_type_uri(slug) if slug else "about:blank",
        title=title or phrase,
        status=status,
        detail=detail,
        errors=list(errors) if errors is not None else None,
    )
    # A problem may name a case or a person: no cache keeps it. Set here too, as the 500
    # answer is sent from outside every middleware.
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})},
    )


#: SQLSTATE classes and codes of a server that is away, starting, stopping or full.
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}

#: What a request may raise while a dependency is away (each checked by ``is_unavailable``).
UNAVAILABLE_KINDS: tuple[type[BaseException], ...] = (
    DBAPIError,
    DisconnectionError,
    PoolTimeoutError,
    PostgresError,
    AsyncpgInterfaceError,
    OSError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """The database or another dependency is away: the request may succeed later.

    SQLAlchemy passes asyncpg's errors on connecting through untranslated ("the database
    system is starting up" is a plain ``CannotConnectNowError``), so the driver's own
    errors count as much as SQLAlchemy's wrappers.
    """
    if isinstance(exc, BaseExceptionGroup):
        return all(is_unavailable(inner) for inner in exc.exceptions)
    if isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError):
        return True
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if type(exc) is OSError:  # not a missing file: an unreachable host, or asyncio's
        # "Multiple exceptions" when every address of a host refused
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions")
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        return orig is not None and (
            _is_unavailable_driver_error(orig) or _is_unavailable_driver_error(orig.__cause__)
        )
    return _is_unavailable_driver_error(exc)


def _is_unavailable_driver_error(exc: BaseException | None) -> bool:
    if isinstance(exc, AsyncpgInterfaceError):
        return "connection is closed" in str(exc)
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and state.startswith(_UNAVAILABLE_SQLSTATES)


async def _close_unavailable(ws: WebSocket) -> None:
    # 1013 "Try Again Later": the WebSocket's 503.
    log.warning("dependency_unavailable", error="websocket")
    await ws.close(1013, "a service this depends on is not answering; reconnect shortly")


def unavailable_response() -> JSONResponse:
    """503 with ``Retry-After``: what any request gets while a dependency is away."""
    return problem(
        503,
        "a service this depends on is not answering; try again shortly",
        slug="unavailable",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _driver_errors(exc: BaseException) -> Iterable[BaseException]:
    """``exc`` and what it wraps: SQLAlchemy's error, the DB-API adapter's, the driver's."""
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "orig", None) or current.__cause__


def _is_refused_value(exc: BaseException) -> bool:
    """The database (or its driver, checking an argument) refused a value the request carried:
    an integer beyond the column's range, a NUL character in text, a date out of range.
    SQLSTATE class 22 is "data exception"; asyncpg reports its own argument checks as a
    ValueError before anything is sent."""
    for err in _driver_errors(exc):
        state = getattr(err, "sqlstate", None)
        if isinstance(state, str) and state.startswith("22"):
            return True
        if isinstance(err, ValueError) and type(err).__module__.startswith("asyncpg"):
            return True
    return False


def _driver_error_name(exc: BaseException) -> str:
    # The type names the problem; the message may quote the value, which may be personal data.
    *_, innermost = _driver_errors(exc)
    return type(innermost).__name__


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        out.append(FieldError(field=loc, message=str(err.get("msg", "")), type=err.get("type", "")))
    return out


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""

    @app.exception_handler(DomainError)
    async def refused(request: Request, exc: DomainError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, TooManyRequests):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        detail, title = exc.reason, None
        # A refusal a patient reads is answered in their language when they ask for one.
        language = negotiate(request.headers.get("accept-language")) if exc.said else None
        if exc.said and language and exc.said.get(language):
            detail = exc.said[language]
            title = TITLES.get(exc.status_code, {}).get(language)
            headers["Content-Language"] = language
        return problem(exc.status_code, detail, slug=exc.slug, title=title, headers=headers or None)

    @app.exception_handler(ConcurrencyError)
    async def raced(_: Request, exc: ConcurrencyError) -> JSONResponse:
        return problem(409, "the case changed meanwhile; reload and try again", slug="concurrent")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        if any(e.type == "json_invalid" for e in errors):
            return problem(400, "the request body is not valid JSON", slug="malformed-body")
        summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem(422, summary or "the request is invalid", slug="invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
        slug = "malformed-body" if status == 400 else None
        if status == 400 and "parsing the body" in detail:
            detail = "the request body is not valid JSON (or not UTF-8)"
        return problem(status, detail, slug=slug, headers=getattr(exc, "headers", None))

    async def unavailable(conn: Request | WebSocket, exc: Exception) -> JSONResponse | None:
        if isinstance(conn, Request) and _is_refused_value(exc):
            # The request passed validation but holds a value the database cannot store.
            log.warning("value_refused_by_database", error=_driver_error_name(exc))
            return problem(
                422,
                "a value in the request is out of the range this service can store",
                slug="invalid",
            )
        if not is_unavailable(exc):
            raise exc  # a real fault: the server error handler below answers 500
        if isinstance(conn, WebSocket):
            await _close_unavailable(conn)
            return None
        log.warning("dependency_unavailable", error=type(exc).__name__)
        return unavailable_response()

    # Registered per class so they are answered here, not re-raised to the server as faults.
    for kind in UNAVAILABLE_KINDS:
        app.add_exception_handler(kind, unavailable)  # type: ignore[arg-type]

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # What a middleware raises skips the handlers above and lands here.
        if is_unavailable(exc):
            log.warning("dependency_unavailable", error=type(exc).__name__)
            return unavailable_response()
        log.error("request_failed", error=type(exc).__name__)
        return problem(500, "something went wrong on our side", slug="internal")


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: each status answered with problem details."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _auth_roles(route: APIRoute) -> tuple[bool, bool]:
    """(authenticated, restricted to some roles) from the route's dependencies."""
    authenticated = restricted = False
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        marker = getattr(dep.call, "careflow_auth", None)
        if marker is not None:
            authenticated = True
            restricted = restricted or marker != "any"
        stack.extend(dep.dependencies)
    return authenticated, restricted


def _has_input(route: APIRoute) -> bool:
    d = route.dependant
    stack = [d]
    while stack:
        cur = stack.pop()
        if cur.body_params or cur.query_params or cur.path_params or cur.header_params:
            return True
        stack.extend(cur.dependencies)
    return False


def implied_statuses(route: APIRoute) -> set[int]:
    """The problem statuses any route may answer because of what the kit wraps it in."""
    statuses = {503}  # the database (or another dependency) may be away
    authenticated, restricted = _auth_roles(route)
    if authenticated:
        statuses.add(401)
    if restricted:
        statuses.add(403)
    if _has_input(route):
        statuses.add(422)
    if route.dependant.body_params:
        statuses.add(400)  # a body that is not JSON, or not UTF-8
    return statuses


def document(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document list every problem status each operation can answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, sub in _problem_schemas().items():
            components[name] = sub
        # FastAPI's own validation error shape is not what clients get: drop it.
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path, route in _api_routes(app.routes):
            implied = implied_statuses(route)
            for method in route.methods or ():
                op = schema["paths"].get(path, {}).get(method.lower())
                if op is None:
                    continue
                responses = op.setdefault("responses", {})
                for status, doc in problems(*implied).items():
                    responses[str(status)] = doc
                for status in list(responses):
                    if status.isdigit() and int(status) >= 400:
                        responses[status] = problems(int(status))[int(status)] | {
                            "description": responses[status].get(
                                "description", HTTPStatus(int(status)).phrase
                            )
                        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def _api_routes(routes: Sequence[Any]) -> list[tuple[str, APIRoute]]:
    """(full path template, route) of every documented API route, included routers flattened."""
    out: list[tuple[str, APIRoute]] = []
    for context in _route_contexts(routes):
        route = getattr(context, "original_route", context)
        path = getattr(context, "path_format", None) or getattr(route, "path_format", None)
        if isinstance(route, APIRoute) and route.include_in_schema and path:
            out.append((path, route))
    return out


def _route_contexts(routes: Sequence[Any]) -> Iterable[Any]:
    # FastAPI 0.16x keeps included routers as branches; older versions flatten them.
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        return routes
    return iter_route_contexts(routes)


def documented_statuses(app: FastAPI) -> dict[tuple[str, str], set[int]]:
    """(method, path template) -> the statuses the OpenAPI document lists for it."""
    out: dict[tuple[str, str], set[int]] = {}
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            out[(method.upper(), path)] = {
                int(s) for s in op.get("responses", {}) if str(s).isdigit()
            }
    return out
