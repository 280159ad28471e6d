"""Before starting, anyone sees the regions' hours today: the real queue service (real
PostgreSQL and Kafka behind its lifespan), no login, public holidays from the `holidays`
package rather than a hand-written list."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import httpx
import pytest

from careflow.kit.clock import FixedClock
from careflow.queue import adapters
from careflow.queue.app import build
from careflow.queue.settings import QueueSettings

pytestmark = [pytest.mark.queue, pytest.mark.journey]

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), STOCKHOLM)


async def regions_at(infra, at: datetime, path: str = "/queue/regions") -> httpx.Response:  # type: ignore[no-untyped-def]
    settings = QueueSettings(
        database_url=infra.database_url,
        kafka_bootstrap_servers=infra.bootstrap_servers,
        environment="test",
    )
    runtime, app = build(settings, clock=FixedClock(at))
    await asyncio.to_thread(runtime.migrate)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q") as client,
    ):
        return await client.get(path)  # no Authorization header: public


@pytest.mark.integration
async def test_anyone_sees_every_regions_hours_today_and_the_next_opening(infra) -> None:  # type: ignore[no-untyped-def]
    # Midsummer Eve 2031 (Friday 20 June): a de facto holiday no hand-written list held.
    r = await regions_at(infra, local(date(2031, 6, 20), 11))
    assert r.status_code == 200, r.text
    by_name = {row["region"]: row for row in r.json()}
    assert len(by_name) == 12 and {"Uppsala", "Västmanland", "Gotland"} <= set(by_name)
    uppsala = by_name["Uppsala"]
    assert uppsala["date"] == "2031-06-20"
    assert uppsala["opens"] is None and uppsala["closes"] is None
    assert uppsala["closed_because"] == "Midsommarafton" and uppsala["open_now"] is False
    # Saturday the 21st is Midsummer Day, Sunday has no hours: Monday 08:00 local.
    assert datetime.fromisoformat(uppsala["next_opening"]) == local(date(2031, 6, 23), 8)
    # Västmanland answers on holidays too.
    vastmanland = by_name["Västmanland"]
    assert vastmanland["open_now"] is True and vastmanland["closed_because"] is None
    assert (vastmanland["opens"], vastmanland["closes"]) == ("07:00", "22:00")
    assert datetime.fromisoformat(vastmanland["next_opening"]) == local(date(2031, 6, 21), 8)


@pytest.mark.integration
async def test_one_regions_day_and_an_unknown_region(infra) -> None:  # type: ignore[no-untyped-def]
    # An ordinary Wednesday evening in Gotland, after its 17:00 close.
    r = await regions_at(infra, local(date(2029, 11, 21), 18), "/queue/regions/gotland")
    assert r.status_code == 200, r.text
    day = r.json()
    assert (day["region"], day["opens"], day["closes"]) == ("Gotland", "08:00", "17:00")
    assert day["open_now"] is False and day["closed_because"] is None
    assert datetime.fromisoformat(day["next_opening"]) == local(date(2029, 11, 22), 8)
    missing = await regions_at(infra, local(date(2029, 11, 21), 18), "/queue/regions/Atlantis")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


@pytest.mark.unit
def test_swedish_public_holidays_come_from_the_library_for_any_year() -> None:
    uppsala = adapters.load_regions().calendar("Uppsala")
    # Good Friday and Easter Monday move with Easter; Christmas Eve and New Year's Eve are
    # de facto holidays; Epiphany is fixed. None of these years was ever written by hand.
    for day, name in [
        (date(2035, 3, 23), "Långfredagen"),
        (date(2035, 3, 26), "Annandag påsk"),
        (date(2040, 12, 24), "Julafton"),
        (date(2033, 12, 31), "Nyårsafton"),
        (date(2030, 1, 7), None),  # an ordinary Monday
        (date(2030, 1, 6), "Trettondedag jul"),  # on a Sunday this time
    ]:
        assert uppsala.closed_because(day) == name, day
    assert uppsala.hours_on(date(2035, 3, 23)) is None
    # An exception in the file still wins over the usual hours (the eve of a holiday).
    assert uppsala.hours_on(date(2026, 12, 23)) is not None
