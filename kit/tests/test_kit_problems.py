"""A value the database refuses is the client's 422, not a 500 (found by schemathesis)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from careflow.kit.problems import install_handlers

pytestmark = [pytest.mark.architecture, pytest.mark.unit]


def _wrapped(driver_error: Exception) -> DBAPIError:
    # As SQLAlchemy's asyncpg dialect raises it: adapter error caused by the driver's.
    adapted = Exception(f"{type(driver_error)}: {driver_error}")
    adapted.__cause__ = driver_error
    return DBAPIError("SELECT 1", {}, adapted)


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "driver_error",
    [
        asyncpg.exceptions.UntranslatableCharacterError("\\u0000 cannot be converted to text"),
        asyncpg.exceptions.NumericValueOutOfRangeError("integer out of range"),
        # asyncpg's own check of an argument, before anything reaches PostgreSQL.
        asyncpg.exceptions._base.DataError("invalid input for query argument $2"),
    ],
    ids=type,
)
async def test_a_value_the_database_refuses_is_a_422_problem(driver_error: Exception) -> None:
    response = await _get(_app(_wrapped(driver_error)))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:careflow:problem:invalid"
    assert "cannot be converted" not in body["detail"] and "$2" not in body["detail"]


async def test_other_database_faults_stay_500() -> None:
    response = await _get(_app(_wrapped(asyncpg.exceptions.UndefinedTableError("no table"))))
    assert response.status_code == 500
