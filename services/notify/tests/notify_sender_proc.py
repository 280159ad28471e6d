"""Run notify's sender in a process of its own until no delivery is pending (crash tests,
two-replica tests).

The test sets ``CAREFLOW_CRASH_AT=notify.after_send`` to have it SIGKILL itself after the
gateway accepted and before the outcome is recorded, then runs it again without. With
``NOTIFY_TEST_EXPECT_DELIVERIES=N`` it runs until N deliveries exist and none is pending, so
two senders started first both see the deliveries made afterwards.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import func, select

from careflow.kit.clock import SystemClock
from careflow.kit.db import Database
from careflow.notify.adapters import PENDING, deliveries
from careflow.notify.app import build_channels
from careflow.notify.sender import Sender
from careflow.notify.settings import NotifySettings


async def main() -> None:
    settings = NotifySettings()
    db = Database(settings.database_url, os.environ["NOTIFY_TEST_SCHEMA"], pool_size=2)
    sender = Sender(db, settings, build_channels(settings), SystemClock())
    expected = int(os.environ.get("NOTIFY_TEST_EXPECT_DELIVERIES", "0"))
    task = asyncio.create_task(sender.run())
    while True:
        async with db.transaction() as conn:
            pending, total = (
                await conn.execute(
                    select(
                        func.count().filter(deliveries.c.status == PENDING), func.count()
                    ).select_from(deliveries)
                )
            ).one()
        if not pending and total >= expected:
            break
        await asyncio.sleep(0.1)
    sender.stop()
    await task
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
