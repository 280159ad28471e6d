"""An auditor's commands: search the region's cases, read a patient's access log.

As ``service``: one transaction each, shared by the HTTP routes. Every case a search
finds is logged in its patient's access log, in the search's own transaction, and so is
every case whose access log an auditor reads; each search is logged as an event too,
with the kinds of criteria and the number of hits, never the number searched for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from careflow.journal import adapters, domain
from careflow.kit.auth import Principal
from careflow.kit.db import Database
from careflow.kit.logging import get_logger

log = get_logger(__name__)


async def search(
    db: Database,
    caller: Principal,
    pin: str | None,
    professional: str | None,
    on: date | None,
) -> list[dict[str, Any]]:
    """The caller's region's cases matching every criterion, the most recent first."""
    domain.require_auditor(caller.role)
    wanted = domain.search_of(pin, professional, on)
    async with db.transaction() as conn:
        found = await adapters.search_cases(
            conn, caller.region, wanted.pin, wanted.professional, wanted.on, domain.SEARCH_LIMIT
        )
        patients = {
            r["case_id"]: (await adapters.patient_of(conn, r["case_id"])).patient_id for r in found
        }
        for case_id, patient_id in patients.items():
            await _log(conn, caller, case_id, patient_id, domain.SEARCH_ACTION, wanted.criteria)
    log.info("audit_search", auditor=caller.subject_id, criteria=wanted.criteria, hits=len(found))
    return found


async def access_log(db: Database, caller: Principal, pin: str) -> list[dict[str, Any]]:
    """Who read this patient's record in the caller's region, oldest first (the reads of
    it before this one; this read is logged after them)."""
    domain.require_auditor(caller.role)
    wanted = domain.search_of(pin, None, None)
    assert wanted.pin is not None
    async with db.transaction() as conn:
        cases = await adapters.patients_cases(conn, caller.region, wanted.pin)
        found = await adapters.access_of_cases(conn, [c.case_id for c in cases])
        for case in cases:
            await _log(
                conn, caller, case.case_id, case.patient_id, domain.ACCESS_LOG_ACTION, "audit"
            )
    log.info("audit_access_log", auditor=caller.subject_id, cases=len(cases))
    return found


async def _log(
    conn: Any, caller: Principal, case_id: Any, patient_id: str, action: str, purpose: str
) -> None:
    await adapters.log_access(
        conn,
        reader_id=caller.subject_id,
        reader_role=caller.role,
        reader_name=caller.name,
        reader_title=caller.title,
        care_unit=caller.care_unit,
        case_id=case_id,
        patient_id=patient_id,
        action=action,
        purpose=purpose,
        emergency=False,
        basis=domain.AUDIT,
    )
