"""Async SQLAlchemy (asyncpg) engine for one service's own schema."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


class PreSerialized(str):
    """JSON text that is already serialised (by pydantic): stored as it is, not re-encoded."""

    __slots__ = ()


def _json_serializer(value: Any) -> str:
    if isinstance(value, PreSerialized):
        return str(value)
    return json.dumps(value)


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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction: committed when the block ends, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> bool:
        """True when the database answers (used by readiness)."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
