"""An auditor's commands on the access log: search it by patient, reader, care unit and
period; export a care unit's monthly sample check as CSV; record a reviewer's conclusion.

Each runs in one transaction. Every case whose reads an auditor is shown is itself
logged in that patient's access log (the patient sees that an auditor looked), in the
same transaction; the logs name the kinds of criteria, never the values.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from careflow.journal import adapters, domain
from careflow.journal.adapters import sampling as store
from careflow.journal.domain import sampling
from careflow.kit.auth import Principal
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import NotFound
from careflow.kit.logging import get_logger

log = get_logger(__name__)


async def search(
    db: Database,
    caller: Principal,
    pin: str | None,
    reader: str | None,
    care_unit: str | None,
    since: date | None,
    until: date | None,
) -> list[dict[str, Any]]:
    """The reads of the caller's region's cases matching every criterion, newest first."""
    domain.require_auditor(caller.role)
    wanted = sampling.access_search_of(pin, reader, care_unit, since, until)
    async with db.transaction() as conn:
        found = await store.search_accesses(
            conn,
            caller.region,
            wanted.pin,
            wanted.reader,
            wanted.care_unit,
            wanted.since,
            wanted.until,
            sampling.ACCESS_SEARCH_LIMIT,
        )
        await _log_cases(conn, caller, found, wanted.criteria)
    log.info("audit_access_search", auditor=caller.subject_id, criteria=wanted.criteria)
    return found


async def _sample(
    conn: Any, caller: Principal, care_unit: str, month: sampling.Month, seed: str, size: int
) -> list[int]:
    ids = await store.unit_reads(conn, caller.region, care_unit, month.first, month.end)
    return sampling.draw(ids, seed, care_unit, month, size)


async def report(
    db: Database, caller: Principal, care_unit: str, month: str, seed: str, size: int
) -> str:
    """The care unit's sample for the month as CSV, with each read's latest conclusion."""
    domain.require_auditor(caller.role)
    sampling.check_sample_request(care_unit, seed, size)
    when = sampling.month_of(month)
    async with db.transaction() as conn:
        drawn = await _sample(conn, caller, care_unit, when, seed, size)
        rows = await store.accesses(conn, drawn)
        concluded = sampling.latest_conclusions(
            await store.conclusions(conn, caller.region, care_unit, str(when), seed)
        )
        await _log_cases(conn, caller, rows, "monthly sample check")
    log.info("audit_sample_report", auditor=caller.subject_id, reads=len(rows))
    return sampling.report_csv(rows, concluded)


async def conclude(
    db: Database,
    clock: Clock,
    caller: Principal,
    care_unit: str,
    month: str,
    seed: str,
    size: int,
    access_id: int,
    conclusion: str,
) -> dict[str, Any]:
    """Record the caller's conclusion on one read of the sample (appended, never changed)."""
    domain.require_auditor(caller.role)
    sampling.check_sample_request(care_unit, seed, size)
    when = sampling.month_of(month)
    text = sampling.check_conclusion(conclusion)
    async with db.transaction() as conn:
        if access_id not in await _sample(conn, caller, care_unit, when, seed, size):
            raise NotFound("that read is not in this sample")
        row = await store.add_conclusion(
            conn,
            region=caller.region,
            care_unit=care_unit,
            month=str(when),
            seed=seed,
            access_id=access_id,
            conclusion=text,
            reviewer_id=caller.subject_id,
            reviewer_name=caller.name,
            recorded_at=clock.now(),
        )
    log.info("audit_sample_concluded", auditor=caller.subject_id, access_id=access_id)
    return row


async def _log_cases(conn: Any, caller: Principal, reads: list[dict[str, Any]], why: str) -> None:
    """Log the auditor's look at each case these reads are of, once per case."""
    cases = {r["case_id"]: r["patient_id"] for r in reads}
    for case_id, patient_id in cases.items():
        await adapters.log_access(
            conn,
            reader_id=caller.subject_id,
            reader_role=caller.role,
            reader_name=caller.name,
            reader_title=caller.title,
            care_unit=caller.care_unit,
            case_id=case_id,
            patient_id=patient_id,
            action=sampling.ACCESS_SEARCH_ACTION,
            purpose=why,
            emergency=False,
            basis=domain.AUDIT,
        )
