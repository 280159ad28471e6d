"""The kit's access-log search as notify mounts it (issue 18), on real PostgreSQL: an auditor
searches the region's reads by reader, care unit, period and case ids; other regions' reads
stay hidden, and every case a search shows is logged as the auditor's read.

Notify's HTTP API runs in-process over ASGI on a fresh schema; the search is the kit's one
implementation, which queue and chat mount the same way.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from notify_testkit import case_opened
from sqlalchemy import select

from careflow.kit import access_log
from careflow.kit.auth import Principal, issue_token
from careflow.kit.cases import record_case_opened
from careflow.kit.clock import FixedClock
from careflow.kit.migrations import upgrade
from careflow.notify import adapters as notify_adapters
from careflow.notify import app as notify_app
from careflow.notify.settings import NotifySettings

pytestmark = [pytest.mark.notify, pytest.mark.journey, pytest.mark.integration]

SECRET = "notify-access-search-secret-at-least-32-bytes"
#: 2026-03-31 22:30 UTC is 1 April 00:30 in Stockholm: the read belongs to 1 April.
NOW = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)

NURSE = Principal(
    subject_id="SE2321000032-E0042",
    role="staff",
    region="Uppsala",
    name="Nora Nurse",
    title="nurse",
    care_unit="1177 direkt Uppsala",
)
DOCTOR = Principal(
    subject_id="SE2321000032-E0099",
    role="staff",
    region="Uppsala",
    name="Dag Doktor",
    title="physician",
    care_unit="Vårdcentralen Luthagen",
)
AUDITOR = Principal(subject_id="audit-7", role="auditor", region="Uppsala", name="Agnes")
GOTLAND_NURSE = Principal(
    subject_id="SE2321000032-E0500",
    role="staff",
    region="Gotland",
    name="Nora Gotland",
    care_unit="1177 direkt Gotland",
)


class Notify:
    def __init__(self, settings: NotifySettings, clock: FixedClock) -> None:
        self.runtime, self.app = notify_app.build(settings, clock=clock)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://notify"
        )

    async def get(self, path: str, who: Principal, **params: Any) -> httpx.Response:
        token = issue_token(SECRET, who)
        return await self.http.get(
            f"/notify{path}", params=params, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture(scope="module")
async def notify(infra) -> AsyncIterator[Notify]:  # type: ignore[no-untyped-def]
    settings = NotifySettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        db_schema=f"notify_search_{uuid.uuid4().hex[:10]}",
        token_secret=SECRET,
        environment="test",
    )
    migrations = Path(notify_app.__file__).with_name("migrations")
    await asyncio.to_thread(upgrade, migrations, infra.database_url, settings.db_schema)
    running = Notify(settings, FixedClock(NOW))
    yield running
    await running.http.aclose()
    await running.runtime.db.dispose()


async def open_case(notify: Notify, region: str) -> uuid.UUID:
    case_id = uuid.uuid4()
    opened = case_opened(case_id, f"sub_{uuid.uuid4().hex[:12]}").model_copy(
        update={"region": region}
    )
    async with notify.runtime.db.transaction() as conn:
        await record_case_opened(conn, opened)
    return case_id


async def log_reads(notify: Notify, reads: list[tuple[Principal, uuid.UUID, datetime]]) -> None:
    """Reads as the services record them (``staff_read`` + ``record_access``), at chosen times."""
    async with notify.runtime.db.transaction() as conn:
        for who, case_id, at in reads:
            entry = access_log.staff_read(who, case_id, "notifications", "care", "care", at)
            await access_log.record_access(conn, notify_adapters.access_log, entry)


async def test_an_auditor_searches_the_regions_reads_by_reader_unit_period_and_case(
    notify: Notify,
) -> None:
    first, second = await open_case(notify, "Uppsala"), await open_case(notify, "Uppsala")
    gotland = await open_case(notify, "Gotland")
    day_before = NOW - timedelta(days=1)
    await log_reads(
        notify,
        [
            (NURSE, first, NOW),
            (DOCTOR, first, day_before),
            (NURSE, second, day_before),
            (GOTLAND_NURSE, gotland, NOW),
        ],
    )
    mine = {first, second}

    async def search(**params: Any) -> list[tuple[str, uuid.UUID]]:
        r = await notify.get("/access-log", AUDITOR, **params)
        assert r.status_code == 200, r.text
        return [
            (e["reader_id"], uuid.UUID(e["case_id"]))
            for e in r.json()
            if e["what"] != "access_log_search"
        ]

    # By reader: the HSA id exactly, or part of the name; newest first.
    assert await search(reader=NURSE.subject_id, case_id=[first, second]) == [
        (NURSE.subject_id, second),
        (NURSE.subject_id, first),
    ]
    assert await search(reader="doktor") == [(DOCTOR.subject_id, first)]
    # By care unit; by case ids.
    assert await search(care_unit="Vårdcentralen Luthagen") == [(DOCTOR.subject_id, first)]
    found = await search(case_id=[second])
    assert found == [(NURSE.subject_id, second)]
    # By period, in Swedish days: 00:30 in Stockholm on 1 April is 1 April.
    assert {c for _, c in await search(since="2026-04-01", until="2026-04-01")} == {first}
    assert {c for _, c in await search(until="2026-03-31")} == {first, second}
    # Another region's reads are never shown, not even by their case id or reader.
    assert await search(case_id=[gotland]) == []
    assert await search(reader=GOTLAND_NURSE.subject_id) == []

    # Every case a search showed is logged as the auditor's read, at the clock's time.
    async with notify.runtime.db.transaction() as conn:
        table = notify_adapters.access_log
        rows = await conn.execute(
            select(table).where(table.c.reader_id == AUDITOR.subject_id).order_by(table.c.id)
        )
        logged = [dict(r._mapping) for r in rows]
    assert {e["case_id"] for e in logged} == mine
    assert all(
        (e["what"], e["basis"], e["reader_role"], e["at"])
        == ("access_log_search", "audit", "auditor", NOW)
        for e in logged
    )
    # ... and a later search shows those reads too, named as the search.
    shown = (await notify.get("/access-log", AUDITOR, case_id=[second])).json()
    assert shown[0]["what"] == "access_log_search" and shown[0]["reader_id"] == AUDITOR.subject_id


async def test_the_search_needs_a_criterion_an_auditor_and_a_sound_period(notify: Notify) -> None:
    assert (await notify.get("/access-log", AUDITOR)).status_code == 422
    backwards = await notify.get("/access-log", AUDITOR, since="2026-04-02", until="2026-04-01")
    assert backwards.status_code == 422
    assert "period" in backwards.json()["detail"]
    too_many = [str(uuid.uuid4()) for _ in range(access_log.MAX_SEARCH_CASES + 1)]
    assert (await notify.get("/access-log", AUDITOR, case_id=too_many)).status_code == 422
    assert (await notify.get("/access-log", NURSE, reader="Nora")).status_code == 403
