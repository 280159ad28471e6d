"""Every service runs as a database role of its own (issue 15, "Database roles"): the schema's
owner migrates, and the runtime role its migrations grant may use the rows of its own tables
but neither change nor drop its schema, nor read another service's."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from careflow.cli.roles import RUNTIME_ROLES, runtime_env
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade

pytestmark = [pytest.mark.ops, pytest.mark.integration, pytest.mark.security]

SERVICES = ("identity", "triage", "queue", "chat", "journal", "notify", "web")


def _migrations(service: str) -> Path:
    module = importlib.import_module(f"careflow.{service}")
    assert module.__file__ is not None
    return Path(module.__file__).with_name("migrations")


async def _refused(conn: AsyncConnection, sql: str) -> str:
    """The error PostgreSQL gives the statement (it must give one); the transaction is undone."""
    try:
        async with conn.begin_nested():
            await conn.execute(text(sql))
    except DBAPIError as e:
        return str(e.orig)
    raise AssertionError(f"allowed: {sql}")


def test_every_service_has_a_runtime_role() -> None:
    assert set(RUNTIME_ROLES) == set(SERVICES)
    assert len(set(RUNTIME_ROLES.values())) == len(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_runtime_role_uses_its_tables_but_cannot_change_its_schema_or_read_another(
    infra,
    unique,
    service: str,  # type: ignore[no-untyped-def]
) -> None:
    owner = infra.database_url
    env = await asyncio.to_thread(runtime_env, owner, service)
    role = env["CAREFLOW_DB_RUNTIME_ROLE"]
    assert role == RUNTIME_ROLES[service] and env["CAREFLOW_MIGRATION_DATABASE_URL"] == owner
    mine, other = f"{service}_roles_{unique}", f"other_roles_{unique}"
    # The owner migrates, and makes the runtime role a member of the service's runtime group.
    await asyncio.to_thread(upgrade, _migrations(service), owner, mine, runtime_role=role)
    neighbour = "chat" if service != "chat" else "queue"
    await asyncio.to_thread(upgrade, _migrations(neighbour), owner, other)

    # As the service checks at start outside dev and test: a role that only uses its tables.
    db = Database(env["DATABASE_URL"], mine)
    try:
        assert await db.role_problems() == []
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar() == role
            tables = [
                r[0]
                for r in await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY 1"),
                    {"s": mine},
                )
            ]
            # It reads every table of its own schema (the rights cover all of them)...
            for table in tables:
                await conn.execute(text(f'SELECT * FROM "{mine}"."{table}" LIMIT 1'))
            # ...but changes none of them, creates nothing and drops nothing.
            table = tables[0]
            for sql in (
                f'ALTER TABLE "{mine}"."{table}" ADD COLUMN sneaked int',
                f'DROP TABLE "{mine}"."{table}"',
                f'TRUNCATE "{mine}"."{table}"',
                f'ALTER TABLE "{mine}"."{table}" DISABLE TRIGGER ALL',
                f'CREATE TABLE "{mine}".sneaked (x int)',
                f'DROP SCHEMA "{mine}" CASCADE',
                f'ALTER SCHEMA "{mine}" RENAME TO sneaked',
            ):
                error = await _refused(conn, sql)
                assert "must be owner" in error or "permission denied" in error, (sql, error)
            # Another service's schema is out of its reach altogether.
            error = await _refused(conn, f'SELECT * FROM "{other}".alembic_version')
            assert f"permission denied for schema {other}" in error
            error = await _refused(conn, f'CREATE TABLE "{other}".sneaked (x int)')
            assert "permission denied" in error
            await conn.rollback()
    finally:
        await db.dispose()
    engine = create_async_engine(owner)
    try:
        async with engine.begin() as conn:
            for schema in (mine, other):
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await engine.dispose()
