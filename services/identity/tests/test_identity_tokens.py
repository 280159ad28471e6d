"""Refresh tokens and login audit events, on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from careflow.identity import http, service
from careflow.identity.eid import TestEidProvider
from careflow.identity.register import SEED_FILE, SeedRegister, SeedStaffCatalogue
from careflow.identity.settings import IdentitySettings
from careflow.kit.migrations import schema_snapshot, upgrade
from careflow.kit.runtime import ServiceRuntime

pytestmark = [pytest.mark.identity, pytest.mark.integration]

MIGRATIONS = Path(service.__file__).with_name("migrations")


@asynccontextmanager
async def _no_lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
    yield


@pytest.fixture
def client(infra, unique) -> Iterator[tuple[TestClient, ServiceRuntime]]:  # type: ignore[no-untyped-def]
    schema = f"identity_{unique}"
    settings = IdentitySettings(database_url=infra.database_url, service_name="identity")
    upgrade(MIGRATIONS, infra.database_url, schema)
    runtime = ServiceRuntime(settings)
    runtime.db.schema = schema
    from careflow.kit.db import Database

    runtime.db = Database(infra.database_url, schema)
    identity = service.Identity(
        settings,
        SeedRegister(),
        SeedStaffCatalogue(),
        TestEidProvider(),
        runtime.clock,
        runtime.db,
    )
    app = runtime.create_app(http.router(identity), title="t")
    app.router.lifespan_context = _no_lifespan
    with TestClient(app) as c:
        # Verify the EdDSA access tokens with the keys identity publishes.
        runtime.verifier.use_jwks(c.get("/identity/.well-known/jwks.json").json())
        yield c, runtime


def adult_pin() -> str:
    data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return next(p["pin"] for p in data["persons"] if p["note"] == "adult, region runs the service")


def login(c: TestClient, pin: str) -> dict:  # type: ignore[type-arg]
    order = c.post("/identity/eid/orders", json={}).json()
    c.post(
        f"/identity/eid/test-app/{order['order_ref']}/approve",
        json={"personal_identity_number": pin},
    )
    body: dict = c.post(f"/identity/eid/orders/{order['order_ref']}/collect").json()  # type: ignore[type-arg]
    return body


def test_refresh_tokens_rotate_and_a_revoked_one_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    c, _ = client
    first = login(c, adult_pin())["login"]
    assert first["refresh_token"]
    renewed = c.post("/identity/tokens/refresh", json={"refresh_token": first["refresh_token"]})
    assert renewed.status_code == 200 and renewed.json()["access_token"]
    # Rotation: the used refresh token is spent.
    reused = c.post("/identity/tokens/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    second = renewed.json()["refresh_token"]
    assert c.post("/identity/tokens/revoke", json={"refresh_token": second}).status_code == 204
    revoked = c.post("/identity/tokens/refresh", json={"refresh_token": second})
    assert revoked.status_code == 401 and "log in again" in revoked.json()["detail"]


def test_logins_and_refusals_are_audited_without_identity_numbers(client) -> None:  # type: ignore[no-untyped-def]
    c, runtime = client
    pin = adult_pin()
    login(c, pin)
    protected = next(
        p["pin"]
        for p in json.loads(SEED_FILE.read_text(encoding="utf-8"))["persons"]
        if p["note"] == "adult with protected identity"
    )
    assert login(c, protected)["refused"]["code"] == "protected_identity"

    async def audit() -> list[dict]:  # type: ignore[type-arg]
        # A separate engine: the app's pool belongs to the test client's event loop.
        from careflow.kit.db import Database

        db = Database(
            str(runtime.db.engine.url.render_as_string(hide_password=False)), runtime.db.schema
        )
        try:
            async with db.transaction() as conn:
                rows = await conn.execute(text("SELECT payload FROM events ORDER BY position"))
                return [r[0] for r in rows]
        finally:
            await db.dispose()

    events = asyncio.run(audit())
    assert [e["event_type"] for e in events] == ["LoginSucceeded", "LoginRefused"]
    assert events[1]["reason"] == "protected_identity"
    assert events[0]["method"] == "test-eid"  # the provider that authenticated
    dumped = json.dumps(events)
    assert pin not in dumped and protected not in dumped


# --- frozen migrations ----------------------------------------------------------------------


async def _snapshot(url: str, schema: str) -> dict[str, list[tuple[str, ...]]]:
    from careflow.kit.db import Database

    db = Database(url, schema)
    try:
        async with db.transaction() as conn:
            return await schema_snapshot(conn, schema)
    finally:
        await db.dispose()


@pytest.mark.architecture
def test_the_frozen_migrations_make_exactly_the_tables_the_code_declares(infra, unique) -> None:  # type: ignore[no-untyped-def]
    from careflow.identity import adapters
    from careflow.kit import eventstore
    from careflow.kit.db import Database

    migrated, declared = f"identity_m_{unique}", f"identity_d_{unique}"
    upgrade(MIGRATIONS, infra.database_url, migrated)

    async def declare() -> None:
        db = Database(infra.database_url, declared)
        try:
            async with db.transaction() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{declared}"'))
                await conn.execute(text(f'SET search_path TO "{declared}"'))
                await conn.run_sync(
                    lambda c: eventstore.metadata.create_all(
                        c, tables=[eventstore.events, eventstore.inbox]
                    )
                )
                await conn.run_sync(adapters.metadata.create_all)
        finally:
            await db.dispose()

    asyncio.run(declare())
    assert asyncio.run(_snapshot(infra.database_url, migrated)) == asyncio.run(
        _snapshot(infra.database_url, declared)
    )


@pytest.mark.architecture
def test_migrations_import_no_live_table_metadata() -> None:
    import ast

    for script in (MIGRATIONS / "versions").glob("*.py"):
        tree = ast.parse(script.read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert not {m for m in imported if m.startswith("careflow.identity")}, script.name
        assert "create_all" not in script.read_text(encoding="utf-8"), script.name
