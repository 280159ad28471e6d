"""Alembic, once for every service.

Each service keeps its own migration scripts (``<service>/migrations``) and
its own version table inside its own schema; this module holds the shared
``env.py`` logic and the programmatic ``upgrade``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(script_location: Path, database_url: str, schema: str) -> Config:
    """An Alembic config for one service's scripts, database and schema."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["careflow_schema"] = schema
    return cfg


def upgrade(script_location: Path, database_url: str, schema: str, revision: str = "head") -> None:
    """Bring one service's schema up to ``revision`` (creating the schema if needed)."""
    command.upgrade(alembic_config(script_location, database_url, schema), revision)


def run_env(context: Any) -> None:
    """The body of every service's ``env.py``: online migrations with asyncpg, in its schema."""
    config = context.config
    schema = config.attributes["careflow_schema"]
    url = config.get_main_option("sqlalchemy.url")

    def do_migrations(connection: Any) -> None:
        context.configure(
            connection=connection,
            version_table_schema=schema,
            include_schemas=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(
            url,
            poolclass=pool.NullPool,
            connect_args={"server_settings": {"search_path": schema}},
        )
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        async with engine.connect() as conn:
            await conn.run_sync(do_migrations)
            await conn.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, version_table_schema=schema)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Alembic is sync; services call upgrade() before their event loop starts.
    asyncio.run(run())
