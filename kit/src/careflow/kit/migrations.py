"""Alembic, once for every service.

Each service keeps its own migration scripts (``<service>/migrations``) and
its own version table inside its own schema; this module holds the shared
``env.py`` logic and the programmatic ``upgrade``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine


class RoleError(RuntimeError):
    """The database role a service runs or migrates with is not what it must be."""


class SchemaBehind(RuntimeError):
    """The service's schema is older than its code: its migrations have not run yet."""


def alembic_config(
    script_location: Path, database_url: str, schema: str, runtime_role: str | None = None
) -> Config:
    """An Alembic config for one service's scripts, database and schema."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["careflow_schema"] = schema
    cfg.attributes["careflow_runtime_role"] = runtime_role
    return cfg


def upgrade(
    script_location: Path,
    database_url: str,
    schema: str,
    revision: str = "head",
    runtime_role: str | None = None,
) -> None:
    """Bring one service's schema up to ``revision`` (creating the schema if needed).

    ``database_url`` should name the schema's owner. With ``runtime_role`` (an existing login
    role), a service whose ``env.py`` names a runtime group makes that role a member of it:
    the role then holds exactly the rights the migrations granted the group.
    """
    command.upgrade(alembic_config(script_location, database_url, schema, runtime_role), revision)


def is_behind(script_location: Path, current: str | None) -> str | None:
    """The newest revision of a service's scripts, when a schema at ``current`` lacks it.

    None when the schema is at the newest revision, or at one these scripts do not know:
    a newer release migrated it (migrations are expand-only, so older code still runs).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    scripts = ScriptDirectory.from_config(cfg)
    head = scripts.get_current_head()
    known = {script.revision for script in scripts.walk_revisions()}
    if current == head or (current is not None and current not in known):
        return None
    return head


_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _role_name(role: str) -> str:
    # Role names reach GRANT statements, which take no parameters.
    if not _ROLE_NAME.match(role):
        raise RoleError(f"not a plain PostgreSQL role name: {role!r}")
    return role


async def _join_runtime_group(conn: AsyncConnection, group: str, role: str) -> None:
    found = (
        await conn.execute(
            text(
                "SELECT r.rolname = current_user AS is_me, r.rolsuper, "
                "pg_has_role(r.oid, :group, 'MEMBER') AS member "
                "FROM pg_roles r WHERE r.rolname = :role"
            ),
            {"role": role, "group": group},
        )
    ).first()
    if found is None:
        raise RoleError(
            f"the runtime role {role!r} does not exist: create it (LOGIN, no other rights) first"
        )
    if found.is_me or found.rolsuper:
        raise RoleError(
            f"the runtime role {role!r} is the migrating owner or a superuser: "
            "run the service with a role of its own"
        )
    if not found.member:
        await conn.execute(text(f"GRANT {_role_name(group)} TO {_role_name(role)}"))


def run_env(context: Any, runtime_group: str | None = None) -> None:
    """The body of every service's ``env.py``: online migrations with asyncpg, in its schema.

    ``runtime_group``: the NOLOGIN role the service's migrations grant its runtime rights to;
    the configured runtime login role (``upgrade(runtime_role=...)``) is made its member.
    """
    config = context.config
    schema = config.attributes["careflow_schema"]
    runtime_role = config.attributes.get("careflow_runtime_role")
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
        if runtime_group is not None and runtime_role:
            async with engine.begin() as conn:
                await _join_runtime_group(conn, runtime_group, runtime_role)
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


def grant_runtime_rights_v1(op: Any, group: str, rights: Mapping[str, str]) -> None:
    """Give the runtime group ``group`` exactly ``rights`` in the migrating service's schema.

    ``rights`` maps every table the running service touches to its privileges (``"SELECT,
    INSERT"``, ``"SELECT, UPDATE (published_at)"``). The group (NOLOGIN, created if missing)
    first loses every right on the schema's tables and sequences, then gets USAGE on the
    schema, these rights and USAGE on the sequences: never ownership, CREATE, TRUNCATE,
    TRIGGER or ALTER, so the running service cannot change the tables or switch a trigger
    off. A later migration that adds a table calls this again with the whole map.
    """
    group = _role_name(group)
    privilege = re.compile(r"^(SELECT|INSERT|UPDATE|DELETE)( \([a-z_, ]+\))?$")
    for table, granted in rights.items():
        if not all(privilege.match(p.strip()) for p in re.split(r",(?![^(]*\))", granted)):
            raise ValueError(f"unexpected privileges for {table}: {granted!r}")
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{group}') THEN
                CREATE ROLE {group} NOLOGIN;
            END IF;
        END $$
        """
    )
    op.execute(
        f"""
        DO $$ DECLARE s text := current_schema(); BEGIN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {group}', s);
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {group}', s);
            EXECUTE format('REVOKE ALL ON SCHEMA %I FROM {group}', s);
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {group}', s);
            EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO {group}', s);
        END $$
        """
    )
    for table, granted in rights.items():
        op.execute(f'GRANT {granted} ON "{_role_name(table)}" TO {group}')


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
