"""Access-log entries written in one statement per reader keep every field and the order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kit_testkit import event_store_schema
from sqlalchemy import MetaData, func, select

from careflow.kit import access_log
from careflow.kit.access_log import AccessEntry

pytestmark = [pytest.mark.performance, pytest.mark.integration]

#: The reader both tests log for: a nurse of the seeded care unit.
NURSE = dict(
    reader_id="SE2321000131-E1",
    reader_role="staff",
    reader_name="Nina Sjöberg",
    reader_title="nurse",
    care_unit="1177 direkt Västmanland",
)


def test_many_reads_are_written_with_every_field_in_the_order_read(infra) -> None:  # type: ignore[no-untyped-def]
    metadata = MetaData()
    table = access_log.access_log_table(metadata, "reads")
    at = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    cases = [uuid.uuid4() for _ in range(40)]
    nurse = dict(**NURSE, what="worklist", basis="care relation", purpose="queue work", at=at)
    auditor = {**nurse, "reader_id": "SE2321000131-A9", "reader_role": "auditor",
               "reader_name": None, "reader_title": None, "care_unit": None,
               "what": "case", "at": at + timedelta(seconds=1)}  # fmt: skip
    # Two readers interleaved, a case read twice by the nurse: each entry is kept.
    entries = [AccessEntry(case_id=c, **nurse) for c in cases[:30]]
    entries += [AccessEntry(case_id=c, **auditor) for c in cases[30:]]
    entries.insert(5, AccessEntry(case_id=cases[31], **auditor))
    entries.append(AccessEntry(case_id=cases[0], **nurse))

    async def scenario() -> None:
        database = await event_store_schema(infra.database_url, f"s{uuid.uuid4().hex}", metadata)
        try:
            async with database.transaction() as conn:
                await access_log.record_access(conn, table, entries)
                await access_log.record_access(conn, table, [])
                await access_log.record_access(conn, table, None)
            async with database.transaction() as conn:
                written = (await conn.execute(select(table).order_by(table.c.id))).all()
                assert (await conn.execute(select(func.count()).select_from(table))).scalar() == 42
        finally:
            await database.dispose()
        by_reader: dict[str, list[AccessEntry]] = {}
        for row in written:
            fields = {k: v for k, v in row._mapping.items() if k != "id"}
            by_reader.setdefault(row.reader_id, []).append(AccessEntry(**fields))
        # Each reader's entries come back as given, in the order given.
        for reader in ("SE2321000131-E1", "SE2321000131-A9"):
            assert by_reader[reader] == [e for e in entries if e.reader_id == reader]

    asyncio.run(scenario())


@pytest.mark.security
def test_a_read_repeated_within_the_window_is_written_once(infra) -> None:  # type: ignore[no-untyped-def]
    metadata = MetaData()
    table = access_log.access_log_table(metadata, "reads")
    at = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
    seen, new = uuid.uuid4(), uuid.uuid4()
    nurse = dict(
        **NURSE,
        what="messages",
        basis="professional",
        purpose="care of the patient in this contact",
    )
    window = timedelta(minutes=5)

    def read(case_id: uuid.UUID, after: timedelta, **changed: str) -> AccessEntry:
        return AccessEntry(case_id=case_id, at=at + after, **{**nurse, **changed})

    async def scenario() -> list[tuple[uuid.UUID, str, str, datetime]]:
        database = await event_store_schema(infra.database_url, f"s{uuid.uuid4().hex}", metadata)
        try:
            async with database.transaction() as conn:
                await access_log.record_access(conn, table, read(seen, timedelta()), window)
            async with database.transaction() as conn:
                # A second later: the same read is not written again; another case in the
                # same statement is.
                again = [read(seen, timedelta(seconds=1)), read(new, timedelta(seconds=1))]
                await access_log.record_access(conn, table, again, window)
                # Another kind of read, another reader: each is an entry of its own.
                await access_log.record_access(
                    conn, table, read(seen, timedelta(seconds=2), what="receipts"), window
                )
                await access_log.record_access(
                    conn, table, read(seen, timedelta(seconds=2), reader_id="E2"), window
                )
                # After the window the same read is written again; without one, every time.
                await access_log.record_access(
                    conn, table, read(seen, timedelta(minutes=6)), window
                )
                await access_log.record_access(conn, table, read(seen, timedelta(minutes=6)))
            async with database.transaction() as conn:
                rows = await conn.execute(
                    select(table.c.case_id, table.c.reader_id, table.c.what, table.c.at).order_by(
                        table.c.id
                    )
                )
                return [tuple(r) for r in rows]  # type: ignore[misc]
        finally:
            await database.dispose()

    assert asyncio.run(scenario()) == [
        (seen, "SE2321000131-E1", "messages", at),
        (new, "SE2321000131-E1", "messages", at + timedelta(seconds=1)),
        (seen, "SE2321000131-E1", "receipts", at + timedelta(seconds=2)),
        (seen, "E2", "messages", at + timedelta(seconds=2)),
        (seen, "SE2321000131-E1", "messages", at + timedelta(minutes=6)),
        (seen, "SE2321000131-E1", "messages", at + timedelta(minutes=6)),
    ]
