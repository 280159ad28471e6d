"""Alembic, once for every service.

Each service keeps its own migration scripts (``<service>/migrations``) and
its own version table inside its own schema; this module holds the shared
``env.py`` logic and the programmatic ``upgrade``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine


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


# Frozen table definitions for migrations. A migration must create exactly what it created
# the day it was written, whatever the live ``eventstore`` metadata says later: change these
# only by adding a new ``..._v2`` helper and a new migration that calls it.


def create_event_store_v1(op: Any) -> None:
    """Create the kit's event store (the outbox) and inbox in the migrating service's schema.

    Every service's first migration calls this; ``search_path`` points at its schema.
    """
    op.create_table(
        "events",
        sa.Column("position", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("stream_id", "version", name="events_stream_version_key"),
    )
    op.create_index(
        "events_unpublished_idx",
        "events",
        ["position"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("events_case_idx", "events", ["case_id", "position"])
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column(
            "applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def create_aggregate_states_v1(op: Any) -> None:
    """Create the table of aggregates' current states (``Aggregate(state_type=...)``)."""
    op.create_table(
        "aggregate_states",
        sa.Column("stream_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", JSONB, nullable=False),
    )


def create_case_patients_v1(op: Any) -> None:
    """Create the kit's ``case_patients`` table (whose case it is; see ``careflow.kit.cases``)."""
    op.create_table(
        "case_patients",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("patient_id", sa.String(128), nullable=False),
        sa.Column("acting_guardian_id", sa.String(128), nullable=True),
        sa.Column("region", sa.String(64), nullable=False),
    )


def create_access_log_v1(op: Any, name: str) -> None:
    """Create the access-log table ``name`` in the migrating service's schema (frozen)."""
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reader_id", sa.String(128), nullable=False),
        sa.Column("reader_role", sa.String(16), nullable=False),
        sa.Column("reader_name", sa.String(200), nullable=True),
        sa.Column("reader_title", sa.String(100), nullable=True),
        sa.Column("care_unit", sa.String(200), nullable=True),
        sa.Column("case_id", sa.Uuid, nullable=False),
        sa.Column("what", sa.String(40), nullable=False),
        sa.Column("basis", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
    )
    op.create_index(f"ix_{name}_case_id", name, ["case_id"])


_SCHEMA_PARTS = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull::text, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
               a.attidentity::text
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = :schema AND c.relkind = 'r' AND a.attnum > 0
          AND NOT a.attisdropped AND c.relname <> 'alembic_version'
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = :schema AND c.relname <> 'alembic_version'
    """,
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, :schema || '.', '')
        FROM pg_indexes
        WHERE schemaname = :schema AND tablename <> 'alembic_version'
    """,
}


async def schema_snapshot(conn: AsyncConnection, schema: str) -> dict[str, list[tuple[str, ...]]]:
    """Everything a schema's tables are made of, as PostgreSQL reports it: columns (type,
    nullability, default, identity), constraints and indexes, without the schema's name.

    Two schemas with equal snapshots have the same tables: how a test shows that the frozen
    migrations build exactly what the code's table definitions describe.
    """
    snapshot: dict[str, list[tuple[str, ...]]] = {}
    for kind, sql in _SCHEMA_PARTS.items():
        rows = (await conn.execute(text(sql), {"schema": schema})).all()
        snapshot[kind] = sorted(tuple(str(v) for v in row) for row in rows)
    return snapshot
