"""The journal's database roles: the owner migrates, the runtime role only reads and appends,
and outside dev and test the journal will not run with a role that could change its tables."""

from __future__ import annotations

import asyncio

import pytest
from journal_testing import MIGRATIONS

from careflow.cli.roles import runtime_env
from careflow.journal.settings import JournalSettings
from careflow.kit.migrations import RoleError, SchemaBehind, upgrade
from careflow.kit.runtime import ServiceRuntime
from careflow.kit.settings import Environment

pytestmark = [pytest.mark.journal, pytest.mark.integration]


def _runtime(url: str, schema: str) -> ServiceRuntime:
    settings = JournalSettings(
        environment=Environment.TEST, database_url=url, journal_schema=schema
    )
    # As production sees it (the development secrets are beside the point here).
    production = settings.model_copy(
        update={"environment": Environment.PRODUCTION, "migrate_at_start": False}
    )
    return ServiceRuntime(production, MIGRATIONS, restricted_role=True)


async def _check(url: str, schema: str) -> None:
    runtime = _runtime(url, schema)
    try:
        await runtime.check_database()
    finally:
        await runtime.db.dispose()


@pytest.mark.security
async def test_finding_7_production_refuses_a_journal_role_that_could_change_its_tables(
    infra,
    unique,  # type: ignore[no-untyped-def]
) -> None:
    owner = infra.database_url
    env = await asyncio.to_thread(runtime_env, owner, "journal")
    role = env["CAREFLOW_DB_RUNTIME_ROLE"]
    schema = f"journal_roles_{unique}"

    # A schema behind the code: the service waits for its migration job.
    await asyncio.to_thread(upgrade, MIGRATIONS, owner, schema, "0005", runtime_role=role)
    with pytest.raises(SchemaBehind, match="run the migration job"):
        await _check(env["DATABASE_URL"], schema)

    await asyncio.to_thread(upgrade, MIGRATIONS, owner, schema, runtime_role=role)
    # The owner (here a superuser) is refused with a clear error...
    with pytest.raises(RoleError, match="superuser"):
        await _check(owner, schema)
    # ...the runtime role the migration granted is not.
    await _check(env["DATABASE_URL"], schema)

    # A migration never makes the owner (or a superuser) the runtime role.
    with pytest.raises(RoleError, match="the migrating owner or a superuser"):
        await asyncio.to_thread(upgrade, MIGRATIONS, owner, schema, runtime_role="careflow")
