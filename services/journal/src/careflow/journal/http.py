"""Journal's HTTP API: read, verify, replay and correct a case's record; every read is logged.

A care provider is a region (the vårdgivare; its care units write the entries).
Staff of the case's region read it. Staff of another provider read the entries
only with the patient's active consent for their provider (Lag 2022:913), or
with ``emergency=true`` and a stated purpose, which the access log marks;
otherwise the entries are withheld and the response says how many. While the
patient blocks a case's entries (spärr), no other provider reads them, not even
in an emergency. The patient (or a guardian acting for a child) gives and
withdraws consent, places and lifts the block, and reads the extract of who
read their record.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Actor, ActorRole, Event, Professional
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
    basis: str | None = None


class ConsentRequest(BaseModel):
    provider: str = Field(
        min_length=1, max_length=64, description="The care provider (region) allowed to read."
    )


class Consents(BaseModel):
    case_id: UUID
    providers: list[str] = Field(description="Other care providers consented to.")
    blocked: bool = Field(description="Blocked (spärr): no other provider reads the entries.")
    event_id: UUID | None = Field(
        default=None, description="The event recorded; null when nothing changed."
    )


#: How many of another provider's entries were left out of a response (no consent).
WITHHELD_HEADER = "X-Careflow-Withheld-Entries"


Purpose = Annotated[
    str, Query(min_length=1, max_length=500, description="Why the record is read (logged).")
]


def router(db: Database, token_secret: str) -> APIRouter:
    api = APIRouter(tags=["journal"])
    staff = Annotated[Principal, Depends(require("staff"))]
    # Auditors read (and every read is logged); they never write.
    reader = Annotated[Principal, Depends(require(("staff", "auditor")))]
    patient = Annotated[Principal, Depends(require("patient"))]

    async def _open(
        conn: AsyncConnection,
        case_id: UUID,
        caller: Principal,
        action: str,
        purpose: str,
        emergency: bool,
    ) -> tuple[Any, str]:
        """The case's patient and the ground the caller reads on, the read logged in this
        transaction.

        Entries are written by the case's region's care units, so the region is the
        provider of all of them. A withheld read is logged too: the reader learnt the
        record exists.
        """
        row = await adapters.patient_of(conn, case_id)
        if row is None:
            raise NotFound("no journal for this case")
        consents = (
            await adapters.consents_of(conn, case_id)
            if row.region != caller.region
            else domain.CaseConsents()
        )
        basis = domain.access_basis(row.region, caller.region, consents, emergency)
        if basis == domain.EMERGENCY and (len(purpose.strip()) < 10 or purpose == "care"):
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
            emergency=basis == domain.EMERGENCY,
            basis=basis,
        )
        return row, basis

    async def _open_whole(
        conn: AsyncConnection,
        case_id: UUID,
        caller: Principal,
        action: str,
        purpose: str,
        emergency: bool,
    ) -> Any:
        """As ``_open``, for views that show every entry's content at once (verify, timeline,
        FHIR): nothing to withhold entry by entry, so without consent they look unknown."""
        row, basis = await _open(conn, case_id, caller, action, purpose, emergency)
        if basis in domain.HIDDEN:
            raise NotFound("no journal for this case")
        return row

    async def _owned_case(conn: AsyncConnection, case_id: UUID, caller: Principal) -> Any:
        """The case, if it is the caller's own (or their child's); 404 otherwise."""
        row = await adapters.patient_of(conn, case_id)
        if row is None or row.patient_id != (caller.acting_for or caller.subject_id):
            raise NotFound("no journal for this case")
        return row

    @api.get("/cases/{case_id}/entries")
    async def read(
        case_id: UUID,
        caller: reader,
        response: Response,
        purpose: Purpose = "care",
        emergency: bool = False,
    ) -> list[JournalEntry]:
        """The case's record, in the canonical order; corrections appear as their own entries.

        Entries another care provider wrote are left out without the patient's consent
        (or emergency access), and always while the patient blocks them; the
        ``X-Careflow-Withheld-Entries`` header counts them.
        """
        async with db.transaction() as conn:
            _, basis = await _open(conn, case_id, caller, "read_entries", purpose, emergency)
            rows = await adapters.entries(conn, case_id)
        shown = [] if basis in domain.HIDDEN else rows
        response.headers[WITHHELD_HEADER] = str(len(rows) - len(shown))
        return [JournalEntry.model_validate(r) for r in shown]

    @api.get("/cases/{case_id}/verify")
    async def verify(
        case_id: UUID, caller: reader, purpose: Purpose = "care", emergency: bool = False
    ) -> ChainCheck:
        """Recompute every chain of the case."""
        async with db.transaction() as conn:
            await _open_whole(conn, case_id, caller, "verify", purpose, emergency)
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
        caller: reader,
        purpose: Purpose = "care",
        emergency: bool = False,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Every event of the case in causal order with its actor; ``at``: the state then."""
        async with db.transaction() as conn:
            await _open_whole(conn, case_id, caller, "timeline", purpose, emergency)
            events = await adapters.case_events(conn, case_id)
        return export.timeline_json(case_id, events, at.astimezone(UTC) if at else None)

    @api.get("/cases/{case_id}/fhir")
    async def fhir(
        case_id: UUID, caller: reader, purpose: Purpose = "care", emergency: bool = False
    ) -> dict[str, Any]:
        """The case as a FHIR R4 Bundle (Encounter, QuestionnaireResponse, Communication,
        AuditEvent)."""
        async with db.transaction() as conn:
            row = await _open_whole(conn, case_id, caller, "export_fhir", purpose, emergency)
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
            _, basis = await _open(conn, case_id, caller, "correct", "correction", False)
            if basis != domain.OWN_PROVIDER:
                raise NotFound("no journal for this case")
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

    async def _decide(
        case_id: UUID,
        caller: Principal,
        decide: Callable[[domain.CaseConsents, Any, Actor, datetime], list[Event]],
    ) -> Consents:
        """Run a patient's consent or block decision on their own case (404 for anyone else's),
        record it in the event store and project it, in one transaction."""
        actor = (
            Actor(id=caller.subject_id, role=ActorRole.GUARDIAN, on_behalf_of=caller.acting_for)
            if caller.acting_for
            else Actor(id=caller.subject_id, role=ActorRole.PATIENT)
        )
        async with db.transaction() as conn:
            row = await _owned_case(conn, case_id, caller)
            state, events = await adapters.CONSENTS.execute(
                conn,
                adapters.consent_stream(case_id),
                lambda st: decide(st, row, actor, datetime.now(UTC)),
            )
            await adapters.project_consents(conn, events)
        return Consents(
            case_id=case_id,
            providers=sorted(state.providers),
            blocked=state.blocked,
            event_id=events[0].event_id if events else None,
        )

    def _consent(case_id: UUID, provider: str, give: bool) -> Callable[..., list[Event]]:
        return lambda st, row, actor, now: domain.decide_consent(
            st,
            give=give,
            case_id=case_id,
            case_provider=row.region,
            patient_id=row.patient_id,
            provider=provider,
            actor=actor,
            now=now,
        )

    def _block(case_id: UUID, block: bool) -> Callable[..., list[Event]]:
        return lambda st, row, actor, now: domain.decide_block(
            st, block=block, case_id=case_id, patient_id=row.patient_id, actor=actor, now=now
        )

    @api.post("/cases/{case_id}/consents")
    async def give_consent(case_id: UUID, body: ConsentRequest, caller: patient) -> Consents:
        """Let another care provider (region) read this case's entries (``ConsentGiven``)."""
        return await _decide(case_id, caller, _consent(case_id, body.provider, give=True))

    @api.delete("/cases/{case_id}/consents/{provider}")
    async def withdraw_consent(case_id: UUID, provider: str, caller: patient) -> Consents:
        """Withdraw a care provider's consent (``ConsentWithdrawn``): withheld from it again."""
        return await _decide(case_id, caller, _consent(case_id, provider, give=False))

    @api.put("/cases/{case_id}/block")
    async def place_block(case_id: UUID, caller: patient) -> Consents:
        """Block (spärr) this case's entries from every other provider (``JournalBlockPlaced``)."""
        return await _decide(case_id, caller, _block(case_id, block=True))

    @api.delete("/cases/{case_id}/block")
    async def lift_block(case_id: UUID, caller: patient) -> Consents:
        """Lift the block (``JournalBlockLifted``); consents given apply again."""
        return await _decide(case_id, caller, _block(case_id, block=False))

    @api.get("/cases/{case_id}/consents")
    async def consents(case_id: UUID, caller: patient) -> Consents:
        """The other care providers that may read this case's entries, and whether blocked."""
        async with db.transaction() as conn:
            await _owned_case(conn, case_id, caller)
            state = await adapters.consents_of(conn, case_id)
        return Consents(case_id=case_id, providers=sorted(state.providers), blocked=state.blocked)

    @api.get("/me/access-log")
    async def my_access_log(caller: patient) -> list[AccessRecord]:
        """Who read my record, when and why (the patient's extract)."""
        async with db.transaction() as conn:
            rows = await adapters.access_extract(conn, caller.acting_for or caller.subject_id)
        return [AccessRecord.model_validate(r) for r in rows]

    return api
