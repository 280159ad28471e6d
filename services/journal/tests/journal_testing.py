"""Helpers for the journal's tests: a freshly migrated journal schema of one's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

from careflow.journal import app as journal_app
from careflow.kit.db import Database
from careflow.kit.migrations import upgrade

MIGRATIONS = Path(journal_app.__file__).with_name("migrations")


async def migrated(database_url: str, schema: str) -> Database:
    """A journal schema at the newest migration, and a pool on it."""
    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, schema)
    return Database(database_url, schema, pool_size=4)
