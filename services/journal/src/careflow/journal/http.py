"""Journal's HTTP API: read, verify, replay and correct a case's record; every read is logged.

A care provider is a region (the vårdgivare; its care units write the entries).
Staff of the case's region read it within a care relation (their care unit
handled the case, or they are its professional); without one, a licensed
clinician of that region may read with ``emergency=true`` and a stated purpose,
which the access log marks (never an auditor, never another region: 403).
Auditors read their own region's record. Staff of another provider read the
entries only with the patient's active consent for their provider (Lag
2022:913); otherwise the entries are withheld and the response says how many.
While the patient blocks a case (spärr), each care unit reads only its own
entries and no other provider reads any, not even in an emergency. The patient
(or a guardian acting for a child) gives and withdraws consent, places and lifts
the block, and reads the extract of who read their record.

One router per resource: the case's record, the patient's consents, the
patient's access log. Each route parses, authenticates, calls a command in
``service`` and shapes the answer.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from careflow.contracts import Event
from careflow.contracts.journal_events import JournalNoteSigned
from careflow.journal import auditing, domain, service, signing
from careflow.journal.sample_http import Auditor, sample_router
from careflow.kit.auth import Principal, require
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.problems import problems


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

    @classmethod
    def of(
        cls, case_id: UUID, state: domain.CaseConsents, events: list[Event] | None = None
    ) -> "Consents":
        """The answer to a consent command (``events``: what it recorded) or query."""
        return cls(
            case_id=case_id,
            providers=sorted(state.providers),
            blocked=state.blocked,
            event_id=events[0].event_id if events else None,
        )


#: How many of another provider's entries were left out of a response (no consent).
WITHHELD_HEADER = "X-Careflow-Withheld-Entries"

Purpose = Annotated[
    str, Query(min_length=1, max_length=500, description="Why the record is read (logged).")
]
Staff = Annotated[Principal, Depends(require("staff"))]
#: Auditors read (and every read is logged); they never write.
Reader = Annotated[Principal, Depends(require(("staff", "auditor")))]
Patient = Annotated[Principal, Depends(require("patient"))]


def record_router(db: Database, clock: Clock, public_key: str) -> APIRouter:
    """A case's record: its entries, their verification, its timeline, FHIR, corrections."""
    api = APIRouter(tags=["journal"])

    @api.get("/cases/{case_id}/entries", responses=problems(404))
    async def read(
        case_id: UUID,
        caller: Reader,
        response: Response,
        purpose: Purpose = domain.DEFAULT_PURPOSE,
        emergency: bool = False,
    ) -> list[JournalEntry]:
        """The case's record, in the canonical order; corrections appear as their own entries.

        Entries another care provider wrote are left out without the patient's consent
        (or emergency access), and always while the patient blocks them; the
        ``X-Careflow-Withheld-Entries`` header counts them.
        """
        found = await service.read_entries(db, caller, case_id, purpose, emergency)
        response.headers[WITHHELD_HEADER] = str(found.withheld)
        return [JournalEntry.model_validate(r) for r in found.shown]

    @api.get("/cases/{case_id}/verify", responses=problems(404))
    async def verify(
        case_id: UUID,
        caller: Reader,
        purpose: Purpose = domain.DEFAULT_PURPOSE,
        emergency: bool = False,
    ) -> ChainCheck:
        """Recompute every chain of the case and hold it against the newest checkpoint signed
        with the journal's own key."""
        result = await service.verify(db, caller, case_id, purpose, emergency, public_key)
        return ChainCheck(
            valid=result.valid,
            entries=result.entries,
            first_broken_sequence=result.first_broken_sequence,
            reason=result.reason,
        )

    @api.get("/cases/{case_id}/timeline", responses=problems(404))
    async def timeline(
        case_id: UUID,
        caller: Reader,
        purpose: Purpose = domain.DEFAULT_PURPOSE,
        emergency: bool = False,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Every event of the case in causal order with its actor; ``at``: the state then."""
        return await service.timeline(db, caller, case_id, purpose, emergency, at)

    @api.get("/cases/{case_id}/fhir", responses=problems(404))
    async def fhir(
        case_id: UUID,
        caller: Reader,
        purpose: Purpose = domain.DEFAULT_PURPOSE,
        emergency: bool = False,
    ) -> dict[str, Any]:
        """The case as a FHIR R4 Bundle (Encounter, QuestionnaireResponse, Communication,
        AuditEvent)."""
        return await service.fhir(db, caller, case_id, purpose, emergency)

    @api.post(
        "/cases/{case_id}/entries/{source_event_id}/corrections",
        status_code=202,
        responses=problems(404, 409),
    )
    async def correct(
        case_id: UUID, source_event_id: UUID, body: CorrectionRequest, caller: Staff
    ) -> CorrectionAccepted:
        """Correct an entry: a new entry will reference it; the original stays readable."""
        event = await service.correct(
            db, clock, caller, case_id, source_event_id, body.reason, body.correction
        )
        return CorrectionAccepted(event_id=event.event_id, corrects_event_id=source_event_id)

    return api


def consent_router(db: Database, clock: Clock) -> APIRouter:
    """The patient's consents to other care providers' reading, and the block (spärr)."""
    api = APIRouter(tags=["journal"])

    @api.post("/cases/{case_id}/consents", responses=problems(404, 409))
    async def give_consent(case_id: UUID, body: ConsentRequest, caller: Patient) -> Consents:
        """Let another care provider (region) read this case's entries (``ConsentGiven``)."""
        state, events = await service.give_consent(db, clock, caller, case_id, body.provider)
        return Consents.of(case_id, state, events)

    @api.delete("/cases/{case_id}/consents/{provider}", responses=problems(404, 409))
    async def withdraw_consent(case_id: UUID, provider: str, caller: Patient) -> Consents:
        """Withdraw a care provider's consent (``ConsentWithdrawn``): withheld from it again."""
        state, events = await service.withdraw_consent(db, clock, caller, case_id, provider)
        return Consents.of(case_id, state, events)

    @api.put("/cases/{case_id}/block", responses=problems(404, 409))
    async def place_block(case_id: UUID, caller: Patient) -> Consents:
        """Block (spärr) this case's entries from every other provider (``JournalBlockPlaced``)."""
        state, events = await service.place_block(db, clock, caller, case_id)
        return Consents.of(case_id, state, events)

    @api.delete("/cases/{case_id}/block", responses=problems(404, 409))
    async def lift_block(case_id: UUID, caller: Patient) -> Consents:
        """Lift the block (``JournalBlockLifted``); consents given apply again."""
        state, events = await service.lift_block(db, clock, caller, case_id)
        return Consents.of(case_id, state, events)

    @api.get("/cases/{case_id}/consents", responses=problems(404))
    async def consents(case_id: UUID, caller: Patient) -> Consents:
        """The other care providers that may read this case's entries, and whether blocked."""
        return Consents.of(case_id, await service.consents(db, caller, case_id))

    return api


def access_log_router(db: Database) -> APIRouter:
    """The patient's extract of who read their record."""
    api = APIRouter(tags=["journal"])

    @api.get("/me/access-log")
    async def my_access_log(caller: Patient) -> list[AccessRecord]:
        """Who read my record, when and why (the patient's extract)."""
        return [AccessRecord.model_validate(r) for r in await service.access_log(db, caller)]

    return api


class Signed(BaseModel):
    event_id: UUID
    signs_event_id: UUID
    signed_at: datetime
    signed_by: str


class UnsignedNote(BaseModel):
    case_id: UUID
    source_event_id: UUID
    occurred_at: datetime
    care_unit: str | None
    outcome: str | None
    overdue: bool = Field(description="Unsigned for longer than the journal allows.")


def signing_router(db: Database, clock: Clock, flag_after: timedelta) -> APIRouter:
    """Signing notes: the responsible professional's act, and the notes left to sign."""
    api = APIRouter(tags=["journal"])

    @api.post(
        "/cases/{case_id}/entries/{source_event_id}/signature",
        status_code=201,
        responses=problems(403, 404, 409, 422),
    )
    async def sign(case_id: UUID, source_event_id: UUID, caller: Staff) -> Signed:
        """Sign a documentation note you wrote: recorded with the time and you as signer."""
        event = await signing.sign(db, clock, caller, case_id, source_event_id)
        assert isinstance(event, JournalNoteSigned)
        return Signed(
            event_id=event.event_id,
            signs_event_id=event.signs_event_id,
            signed_at=event.occurred_at,
            signed_by=event.professional.staff_id,
        )

    @api.get("/me/unsigned-notes")
    async def unsigned(caller: Staff) -> list[UnsignedNote]:
        """The notes you wrote and have not signed yet, oldest first; overdue ones flagged."""
        _, rows = await signing.unsigned(db, clock, caller, flag_after)
        return [UnsignedNote.model_validate(r) for r in rows]

    return api


class FoundCase(BaseModel):
    case_id: UUID
    region: str
    first_at: datetime | None
    last_at: datetime | None
    entries: int
    professionals: list[str]


IdentityNumber = Annotated[
    str | None, Query(max_length=13, description="The patient's personal identity number.")
]


def audit_router(db: Database) -> APIRouter:
    """An auditor's search of their region's record, and a patient's access log."""
    api = APIRouter(tags=["journal"])

    @api.get("/audit/cases", responses=problems(403, 422))
    async def search(
        caller: Auditor,
        personal_identity_number: IdentityNumber = None,
        professional: Annotated[str | None, Query(max_length=200)] = None,
        on: Annotated[date | None, Query(description="A day (Europe/Stockholm).")] = None,
    ) -> list[FoundCase]:
        """The auditor's region's cases by patient, professional (part of the name) or day;
        every case found is logged in its patient's access log."""
        found = await auditing.search(db, caller, personal_identity_number, professional, on)
        return [FoundCase.model_validate(r) for r in found]

    @api.get("/audit/access-log", responses=problems(403, 422))
    async def patient_access_log(
        caller: Auditor,
        personal_identity_number: Annotated[str, Query(min_length=12, max_length=13)],
    ) -> list[AccessRecord]:
        """Who read this patient's record in the auditor's region (the reading is logged)."""
        found = await auditing.access_log(db, caller, personal_identity_number)
        return [AccessRecord.model_validate(r) for r in found]

    return api


def router(
    db: Database,
    clock: Clock,
    public_key: str,
    unsigned_flag_after: timedelta = timedelta(hours=24),
) -> APIRouter:
    """The journal's whole API (mounted under ``/journal`` by the runtime); ``public_key``:
    the journal's own, that its checkpoints are verified with; an unsigned note is flagged
    to its author after ``unsigned_flag_after``."""
    api = APIRouter()
    api.include_router(record_router(db, clock, public_key))
    api.include_router(signing_router(db, clock, unsigned_flag_after))
    api.include_router(consent_router(db, clock))
    api.include_router(access_log_router(db))
    api.include_router(audit_router(db))
    api.include_router(sample_router(db, clock))
    return api
