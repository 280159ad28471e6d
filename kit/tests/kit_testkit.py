"""Support for the kit's tests: a fresh schema holding the kit's event store."""

from __future__ import annotations

from sqlalchemy import MetaData, text

from careflow.kit import eventstore
from careflow.kit.db import Database


async def event_store_schema(database_url: str, schema: str, *extra: MetaData) -> Database:
    """Create ``schema`` with the event store's tables (and ``extra``'s); a pool on it."""
    admin = Database(database_url, "public")
    async with admin.transaction() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    database = Database(database_url, schema)
    async with database.transaction() as conn:
        for metadata in (eventstore.metadata, *extra):
            await conn.run_sync(metadata.create_all)
    return database
