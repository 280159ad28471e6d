"""Pooled connections are checked before use at the least cost that still catches a restart."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from careflow.kit import db as kit_db
from careflow.kit.db import Database

pytestmark = [pytest.mark.performance, pytest.mark.integration]


async def _backend_pid(database: Database) -> int:
    async with database.transaction() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _kill(url: str, pid: int) -> None:
    other = Database(url, "public", pool_size=1)
    try:
        async with other.transaction() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        await other.dispose()


def test_back_to_back_transactions_send_no_ping_and_an_idle_connection_one(
    infra, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    asked: list[bool] = []
    real = kit_db._ping_once

    def counting(dbapi_connection):  # type: ignore[no-untyped-def]
        raw = dbapi_connection.driver_connection
        fresh = kit_db.time.monotonic() - kit_db._RETURNED.get(raw, 0.0) < kit_db.FRESH_S
        asked.append(not fresh and not raw.is_closed())
        return real(dbapi_connection)

    async def scenario() -> None:
        database = Database(infra.database_url, "public", pool_size=1)
        database.engine.dialect.do_ping = counting  # type: ignore[method-assign]
        try:
            for _ in range(50):
                async with database.transaction() as conn:
                    await conn.execute(text("SELECT 1"))
            assert asked.count(True) == 0 and len(asked) == 49  # the first is a new connection
            await asyncio.sleep(kit_db.FRESH_S + 0.2)
            async with database.transaction() as conn:
                await conn.execute(text("SELECT 1"))
            assert asked[-1] is True
        finally:
            await database.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize("idle", [0.3, kit_db.FRESH_S + 0.3])
def test_a_connection_the_server_closed_is_replaced_before_use(infra, idle: float) -> None:  # type: ignore[no-untyped-def]
    """Closed by the server while in the pool (as on a database restart): the next
    transaction gets a new connection and succeeds, whether the pool knew of the close
    at once or found it by pinging."""

    async def scenario() -> None:
        database = Database(infra.database_url, "public", pool_size=1)
        try:
            before = await _backend_pid(database)
            await _kill(infra.database_url, before)
            await asyncio.sleep(idle)
            after = await _backend_pid(database)
            assert after != before
        finally:
            await database.dispose()

    asyncio.run(scenario())


def test_autocommit_statements_are_transactions_of_their_own_and_the_pool_is_left_unchanged(
    infra,
) -> None:  # type: ignore[no-untyped-def]
    """``autocommit`` sends no BEGIN: each statement is a transaction of its own (two ask for
    two transaction ids). The same pooled connection then serves an ordinary transaction
    (one id for both) and another read, as before."""
    txid = text("SELECT txid_current()")

    async def ids(conn) -> set[int]:  # type: ignore[no-untyped-def]
        return {int((await conn.execute(txid)).scalar_one()) for _ in range(2)}

    async def scenario() -> None:
        database = Database(infra.database_url, "public", pool_size=1)
        try:
            async with database.autocommit() as conn:
                assert len(await ids(conn)) == 2
            async with database.transaction() as conn:
                assert len(await ids(conn)) == 1
            async with database.autocommit() as conn:
                assert len(await ids(conn)) == 2
        finally:
            await database.dispose()

    asyncio.run(scenario())


def test_many_requests_taking_two_connections_at_once_all_finish(infra) -> None:  # type: ignore[no-untyped-def]
    """Twelve requests each want two connections of a pool of four (two plus two
    overflow): taken freely, each would hold one and wait for another until the pool's
    timeout. Pairs are let out only as many at a time as the pool can complete."""
    one = text("SELECT 1")

    async def scenario() -> None:
        database = Database(infra.database_url, "public", pool_size=2)

        async def request() -> None:
            async with database.autocommit_pair() as (first, second):
                await first.execute(one)
                await asyncio.sleep(0.05)  # both held while the other reads go on
                await second.execute(one)

        try:
            await asyncio.wait_for(asyncio.gather(*(request() for _ in range(12))), 20)
        finally:
            await database.dispose()

    asyncio.run(scenario())
