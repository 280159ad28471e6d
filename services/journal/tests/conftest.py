"""Fixtures for the journal's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from journal_testing import migrated

from careflow.kit.db import Database


@pytest.fixture
async def journal_db(infra, unique) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    db = await migrated(infra.database_url, f"journal_{unique}")
    yield db
    await db.dispose()
