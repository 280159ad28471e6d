"""Journal's HTTP API: read, verify, replay and correct a case's record; every read is logged.

Staff of the case's region may read it; staff elsewhere only with
``emergency=true`` and a stated purpose, which the access log marks. A patient
reads the extract of who read their record.
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Professional
from careflow.journal import adapters, domain, export
from careflow.kit import eventstore
from careflow.kit.auth import Principal, require
from careflow.kit.db import Database
from careflow.kit.domain import Invalid, NotFound


class JournalEntry(BaseModel):
    sequence: int
    lane: str
    kind: str
    source_event_id: UUID
    corrects_event_id: UUID | None
    occurred_at: datetime
    recorded_at: datetime
    patient_pin: str | None
    author_role: str
    professional_name: str | None
    professional_title: str | None
    care_unit: str | None
    content: dict[str, Any]
    entry_hash: str


class ChainCheck(BaseModel):
    valid: bool
    entries: int
    first_broken_sequence: int | None
    reason: str | None


class CorrectionRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    correction: str = Field(min_length=1, max_length=20000)


class CorrectionAccepted(BaseModel):
    event_id: UUID
    corrects_event_id: UUID


class AccessRecord(BaseModel):
    at: datetime
    reader_id: str
    reader_role: str
    reader_name: str | None
    reader_title: str | None
    care_unit: str | None
    case_id: UUID
    action: str
    purpose: str
    emergency: bool


Purpose = Annotated[
    str, Query(min_length=1, max_length=500, description="Why the record is read (logged).")
]


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["journal"])
    staff = Annotated[Principal, Depends(require(token_secret, "staff"))]
    patient = Annotated[Principal, Depends(require(token_secret, "patient"))]

    async def _open(
        conn: AsyncConnection,
        case_id: UUID,
        caller: Principal,
        action: str,
        purpose: str,
        emergency: bool,
    ) -> Any:
        """The case's patient, after checking access and logging the read in this transaction."""
        row = await adapters.patient_of(conn, case_id)
        if row is None:
            raise NotFound("no journal for this case")
        if row.region != caller.region:
            if not emergency:
                raise NotFound("no journal for this case")
            if len(purpose.strip()) < 10 or purpose == "care":
                raise Invalid("emergency access needs the reason stated (10 characters or more)")
        await adapters.log_access(
            conn,
            reader_id=caller.subject_id,
            reader_role=caller.role,
            reader_name=caller.name,
            reader_title=caller.title,
            care_unit=caller.care_unit,
            case_id=case_id,
            patient_id=row.patient_id,
            action=action,
            purpose=purpose,
            emergency=row.region != caller.region,
        )
        return row

    @api.get("/cases/{case_id}/entries")
    async def read(
        case_id: UUID, caller: staff, purpose: Purpose = "care", emergency: bool = False
    ) -> list[JournalEntry]:
        """The case's record, in the canonical order; corrections appear as their own entries."""
        async with db.transaction() as conn:
            await _open(conn, case_id, caller, "read_entries", purpose, emergency)
            rows = await adapters.entries(conn, case_id)
        return [JournalEntry.model_validate(r) for r in rows]

    @api.get("/cases/{case_id}/verify")
    async def verify(
        case_id: UUID, caller: staff, purpose: Purpose = "care", emergency: bool = False
    ) -> ChainCheck:
        """Recompute every chain of the case."""
        async with db.transaction() as conn:
            await _open(conn, case_id, caller, "verify", purpose, emergency)
            rows = await adapters.entries(conn, case_id)
        result = domain.verify_case([adapters.as_stored(r) for r in rows])
        return ChainCheck(
            valid=result.valid,
            entries=result.entries,
            first_broken_sequence=result.first_broken_sequence,
            reason=result.reason,
        )

    @api.get("/cases/{case_id}/timeline")
    async def timeline(
        case_id: UUID,
        caller: staff,
        purpose: Purpose = "care",
        emergency: bool = False,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Every event of the case in causal order with its actor; ``at``: the state then."""
        async with db.transaction() as conn:
            await _open(conn, case_id, caller, "timeline", purpose, emergency)
            events = await adapters.case_events(conn, case_id)
        return export.timeline_json(case_id, events, at.astimezone(UTC) if at else None)

    @api.get("/cases/{case_id}/fhir")
    async def fhir(
        case_id: UUID, caller: staff, purpose: Purpose = "care", emergency: bool = False
    ) -> dict[str, Any]:
        """The case as a FHIR R4 Bundle (Encounter, QuestionnaireResponse, Communication,
        AuditEvent)."""
        async with db.transaction() as conn:
            row = await _open(conn, case_id, caller, "export_fhir", purpose, emergency)
            events = await adapters.case_events(conn, case_id)
            access = [
                a
                for a in await adapters.access_extract(conn, row.patient_id)
                if a["case_id"] == case_id
            ]
        return export.fhir_bundle(case_id, events, access)

    @api.post("/cases/{case_id}/entries/{source_event_id}/corrections", status_code=202)
    async def correct(
        case_id: UUID, source_event_id: UUID, body: CorrectionRequest, caller: staff
    ) -> CorrectionAccepted:
        """Correct an entry: a new entry will reference it; the original stays readable."""
        if not (caller.name and caller.title and caller.care_unit):
            raise Invalid("a correction needs the professional's name, title and care unit")
        professional = Professional(
            staff_id=caller.subject_id[:64],
            name=caller.name,
            title=caller.title,
            care_unit=caller.care_unit,
        )
        async with db.transaction() as conn:
            await _open(conn, case_id, caller, "correct", "correction", False)
            target = await adapters.entry_by_event(conn, case_id, source_event_id)
            stream = f"journal-corrections-{case_id}"
            version = len(await eventstore.load(conn, stream))
            events = domain.decide_correction(
                target,
                professional,
                caller.subject_id,
                case_id,
                body.reason,
                body.correction,
                datetime.now(UTC),
            )
            await eventstore.append(conn, stream, version, events)
        return CorrectionAccepted(event_id=events[0].event_id, corrects_event_id=source_event_id)

    @api.get("/me/access-log")
    async def my_access_log(caller: patient) -> list[AccessRecord]:
        """Who read my record, when and why (the patient's extract)."""
        async with db.transaction() as conn:
            rows = await adapters.access_extract(conn, caller.acting_for or caller.subject_id)
        return [AccessRecord.model_validate(r) for r in rows]

    return api
