"""The restricted database roles services run with in dev and test, as they do in production.

Every service runs as a login role of its own (``careflow_<service>``), which its migrations,
run as the schema's owner, make a member of ``careflow_<service>_runtime``: the rights on the
rows of its own tables it uses, no DDL, nothing in another service's schema. In production an
operator creates each login role and the migration job grants it the service's rights
(docs/operations.md). Locally, ``careflow dev``, ``careflow migrate`` and the end-to-end tests
create it here, with a development password, so every service runs locally exactly as
restricted as it does in production.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

#: The login role each service runs with; its migrations grant it only what it uses.
RUNTIME_ROLES = {
    service: f"careflow_{service}"
    for service in ("identity", "triage", "queue", "chat", "journal", "notify", "web")
}


def _with_login(url: str, role: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    # Development password: the role's name (refused outside dev and test like careflow's).
    return urlunsplit(parts._replace(netloc=f"{role}:{role}@{host}"))


async def _create_login(owner_url: str, role: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as conn:
            # Roles are cluster-wide and several processes may get here at once.
            await conn.execute(
                text(
                    f"""
                    DO $$ BEGIN
                        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                            CREATE ROLE {role} LOGIN PASSWORD '{role}'
                                NOSUPERUSER NOCREATEDB NOCREATEROLE;
                        END IF;
                    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                    END $$
                    """
                )
            )
    finally:
        await engine.dispose()


def runtime_env(owner_url: str, service: str) -> dict[str, str]:
    """The database variables ``service`` runs with locally: its restricted role's URL as
    ``DATABASE_URL`` and the owner's for its migrations; only the owner's for the others."""
    role = RUNTIME_ROLES.get(service)
    if role is None:
        return {"DATABASE_URL": owner_url}
    asyncio.run(_create_login(owner_url, role))
    return {
        "DATABASE_URL": _with_login(owner_url, role),
        "CAREFLOW_MIGRATION_DATABASE_URL": owner_url,
        "CAREFLOW_DB_RUNTIME_ROLE": role,
    }
