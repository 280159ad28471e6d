"""Async SQLAlchemy (asyncpg) engine for one service's own schema."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


class PreSerialized(str):
    """JSON text that is already serialised (by pydantic): stored as it is, not re-encoded."""

    __slots__ = ()


def _json_serializer(value: Any) -> str:
    if isinstance(value, PreSerialized):
        return str(value)
    return json.dumps(value)


#: A connection back in the pool for less than this is not pinged again before its next use.
FRESH_S = 1.0
#: Set in a connection's ``info`` by the event store when it appends events; read (and
#: cleared) when the transaction ends.
EVENTS_APPENDED = "careflow.events_appended"


def _ping_once(dbapi_connection: Any) -> bool:
    """Check a pooled connection before use: free when it is known good, else one round trip.

    SQLAlchemy's asyncpg ping opens a transaction, sends ``;`` and rolls back: three round
    trips before every transaction of every command. Here a connection the server has closed
    (a restart) is known without asking, one returned to the pool within ``FRESH_S`` is used
    as it is (it just worked; under load that is nearly every checkout), and an older one
    gets a bare ``;``. False makes the pool replace the connection.
    """
    raw = dbapi_connection.driver_connection
    if raw.is_closed():
        return False
    if time.monotonic() - _RETURNED.get(raw, 0.0) < FRESH_S:
        return True
    try:
        dbapi_connection.await_(raw.fetchrow(";"))
    except Exception as error:  # translated to the DB-API's errors, as the dialect does
        dbapi_connection._handle_exception(error)
    return True


#: When each driver connection last came back to its pool (gone with the connection).
_RETURNED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _returned(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None:
        _RETURNED[dbapi_connection.driver_connection] = time.monotonic()


class Database:
    """The service's connection pool, pinned to its own schema by ``search_path``.

    Services work with SQLAlchemy Core on ``AsyncConnection``: the event path is
    bulk work, where ORM objects cost tens of times more.
    """

    def __init__(self, url: str, schema: str, pool_size: int = 10) -> None:
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            json_serializer=_json_serializer,
            # SQL parameters carry personal data (identity numbers, message text): keep them
            # out of exception text, which reaches logs and dead-letter reasons.
            hide_parameters=True,
            connect_args={"server_settings": {"search_path": schema, "application_name": schema}},
        )
        self.engine.dialect.do_ping = _ping_once  # type: ignore[method-assign]
        # The same pool, each statement committing on its own (no BEGIN, no COMMIT).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # Pairs hold at most half the pool's own connections (the overflow stays free).
        self._pairs = asyncio.Semaphore(max(1, pool_size // 2))
        event.listen(self.engine.sync_engine.pool, "checkin", _returned)
        #: Called after a transaction that appended events committed (the outbox relay
        #: wakes up instead of waiting for its next look).
        self.on_events_committed: list[Callable[[], None]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction: committed when the block ends, rolled back on error."""
        async with self.engine.begin() as conn:
            try:
                yield conn
            except BaseException:
                # A connection the database dropped may refuse even this: the original error
                # (a database away is a 503) must be the one that reaches the caller.
                with contextlib.suppress(Exception):
                    conn.info.pop(EVENTS_APPENDED, None)
                raise
            appended = bool(conn.info.pop(EVENTS_APPENDED, False))
        if appended:
            for wake in self.on_events_committed:
                wake()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection on which each statement is a transaction of its own: a lone read
        costs one round trip, not three.

        Two statements in the block may see different moments, and each write commits at
        once: reads that must agree with each other, and writes that belong together,
        go in ``transaction``. Reads side by side take their connections with
        ``autocommit_pair``, not two of these at once.
        """
        async with self._autocommit.connect() as conn:
            yield conn

    @asynccontextmanager
    async def autocommit_pair(self) -> AsyncIterator[tuple[AsyncConnection, AsyncConnection]]:
        """Two ``autocommit`` connections, for reads run side by side.

        Taken one after the other, so a request holds its first while it waits for its
        second: with every connection held by a request waiting for another, none would
        move until the pool's timeout. Only so many pairs are out at once that the pool
        always has a second connection for each.
        """
        async with self._pairs, self.autocommit() as first, self.autocommit() as second:
            yield first, second

    async def ping(self) -> bool:
        """True when the database answers (used by readiness)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def schema_revision(self) -> str | None:
        """The schema's migration revision (Alembic's version table), or None before any."""
        async with self.engine.connect() as conn:
            exists = await conn.execute(
                text("SELECT to_regclass(:t) IS NOT NULL"),
                {"t": f'"{self.schema}".alembic_version'},
            )
            if not exists.scalar():
                return None
            revision = await conn.execute(
                text(f'SELECT version_num FROM "{self.schema}".alembic_version')
            )
            return revision.scalar()

    async def role_problems(self) -> list[str]:
        """What lets this pool's role change its schema's tables, rather than only use them.

        Empty for a restricted runtime role. Otherwise: the role is a superuser, owns (or is
        a member of the owner of) the schema or one of its tables, may create in the schema,
        or may switch a trigger off, truncate or change a table's rights.
        """
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        """
                        SELECT current_user AS role,
                               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                                   AS superuser,
                               pg_has_role(current_user, n.nspowner, 'MEMBER') AS owns_schema,
                               has_schema_privilege(current_user, n.oid, 'CREATE') AS creates,
                               ARRAY(
                                   SELECT c.relname FROM pg_class c
                                   WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
                                     AND (pg_has_role(current_user, c.relowner, 'MEMBER')
                                          OR has_table_privilege(current_user, c.oid,
                                                                 'TRUNCATE, TRIGGER'))
                                   ORDER BY c.relname
                               ) AS tables
                        FROM pg_namespace n WHERE n.nspname = :schema
                        """
                    ),
                    {"schema": self.schema},
                )
            ).first()
        if row is None:
            return [f"schema {self.schema} does not exist"]
        if row.superuser:
            return [f"role {row.role} is a superuser"]
        problems = []
        if row.owns_schema:
            problems.append(f"role {row.role} owns schema {self.schema}")
        if row.creates:
            problems.append(f"role {row.role} may create objects in schema {self.schema}")
        if row.tables:
            problems.append(
                f"role {row.role} owns, truncates or triggers on {', '.join(row.tables)}"
            )
        return problems

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
