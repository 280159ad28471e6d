"""Journal's commands: one transaction each, shared by every entry point.

The HTTP API reads, verifies, exports and corrects the record and takes the
patient's consent and block decisions; the projector (``consumers``) records
consumed events; the checkpointer signs the record. Each calls a command here;
the rules are the domain's, the tables the adapters'.

Every read of a case's record is logged in the access log in the read's own
transaction, with the ground it was made on. A withheld read is logged too (the
reader learnt the record exists); a refused one (404, 422) rolls back and logs
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Actor, ActorRole, Event
from careflow.journal import adapters, domain, export
from careflow.kit import eventstore
from careflow.kit.auth import Principal
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import NotFound
from careflow.kit.logging import get_logger

log = get_logger(__name__)

#: A case whose chain or checkpoint did not verify: the record may have been altered.
VERIFICATION_FAILURES = Counter(
    "careflow_journal_verification_failures_total",
    "Case verifications whose hash chain or signed checkpoint did not hold.",
)

# --- the projector --------------------------------------------------------------------------


async def record(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Record consumed events (any types, in arrival order) with a few bulk statements.

    Every event joins its case's log, except ``CasePatientIdentified``, which names the
    case's patient by number (kept only in the patient table, never in timelines); each
    documented event becomes an entry, chained now or parked until its patient is known
    (``domain.hold_back``).
    """
    if not events:
        return
    identified = domain.identified(events)
    await adapters.record_case_events(conn, [e for e in events if e not in identified])
    await adapters.record_relations(conn, events)
    # Consent events are projected when the patient decides (same transaction); here again,
    # idempotently, so that a journal rebuilt from the topics has them too.
    await adapters.project_consents(conn, events)
    await adapters.record_patients(conn, identified)
    released = await adapters.unpark(conn, domain.to_release(events))
    pins = await adapters.pins(conn, {e.case_id for e in events})
    decided = domain.hold_back(events, released, pins.keys())
    await adapters.park(conn, decided.park)
    if decided.ready:
        await adapters.append_entries(conn, decided.ready, pins)


# --- reading a case's record ----------------------------------------------------------------


def _reader(caller: Principal) -> domain.Reader:
    return domain.Reader(
        subject_id=caller.subject_id,
        role=caller.role,
        region=caller.region,
        title=caller.title,
        care_unit=caller.care_unit,
    )


@dataclass(frozen=True)
class _Ground:
    """The case's patient row and what the caller may read of it."""

    row: Any
    basis: str
    reader: domain.Reader
    relation: domain.CareRelation
    consents: domain.CaseConsents

    def visible(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return domain.visible(
            self.basis, self.reader, self.relation, self.consents, rows, lambda r: r["care_unit"]
        )


async def _open(
    conn: AsyncConnection,
    case_id: UUID,
    caller: Principal,
    action: str,
    purpose: str,
    emergency: bool,
) -> _Ground:
    """The case's patient and the ground the caller reads on, the read logged in this
    transaction."""
    row = await adapters.patient_of(conn, case_id)
    if row is None:
        raise NotFound("no journal for this case")
    reader = _reader(caller)
    relation = await adapters.relation_of(conn, case_id)
    consents = await adapters.consents_of(conn, case_id)
    basis = domain.access_basis(row.region, relation, reader, consents, emergency)
    domain.require_stated_reason(basis, purpose)
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
    return _Ground(row, basis, reader, relation, consents)


async def _open_whole(
    conn: AsyncConnection,
    case_id: UUID,
    caller: Principal,
    action: str,
    purpose: str,
    emergency: bool,
) -> tuple[Any, list[dict[str, Any]]]:
    """As ``_open``, for views that show every entry at once (verify, timeline, FHIR): the
    patient row and the case's entries, all of which the caller may read."""
    ground = await _open(conn, case_id, caller, action, purpose, emergency)
    rows = await adapters.entries(conn, case_id)
    domain.require_whole_view(ground.basis, len(rows) - len(ground.visible(rows)))
    return ground.row, rows


@dataclass(frozen=True)
class Entries:
    """A case's entries as one reader may see them."""

    shown: list[dict[str, Any]]
    #: Entries another care provider wrote, left out (no consent, or blocked).
    withheld: int


async def read_entries(
    db: Database, caller: Principal, case_id: UUID, purpose: str, emergency: bool
) -> Entries:
    """The case's record in the canonical order, as far as the caller may read it."""
    async with db.transaction() as conn:
        ground = await _open(conn, case_id, caller, "read_entries", purpose, emergency)
        rows = await adapters.entries(conn, case_id)
    shown = ground.visible(rows)
    return Entries(shown, len(rows) - len(shown))


async def verify(
    db: Database,
    caller: Principal,
    case_id: UUID,
    purpose: str,
    emergency: bool,
    public_key: str,
) -> domain.Verification:
    """Recompute every chain of the case and hold it against the newest signed checkpoint,
    verified with the journal's own public key (never the key a checkpoint names)."""
    async with db.transaction() as conn:
        _, rows = await _open_whole(conn, case_id, caller, "verify", purpose, emergency)
        latest = await adapters.latest_checkpoint(conn)
    result = domain.verify_case(
        [adapters.as_stored(r) for r in rows], latest[0] if latest else None, public_key
    )
    if not result.valid:
        VERIFICATION_FAILURES.inc()
        log.error("journal_verification_failed", case_id=str(case_id), reason=result.reason)
    return result


async def timeline(
    db: Database,
    caller: Principal,
    case_id: UUID,
    purpose: str,
    emergency: bool,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Every event of the case in causal order with its actor; with ``at``, the state then."""
    async with db.transaction() as conn:
        await _open_whole(conn, case_id, caller, "timeline", purpose, emergency)
        events = await adapters.case_events(conn, case_id)
    return export.timeline_json(case_id, events, at.astimezone(UTC) if at else None)


async def fhir(
    db: Database, caller: Principal, case_id: UUID, purpose: str, emergency: bool
) -> dict[str, Any]:
    """The case as a FHIR R4 Bundle, with every logged read of it as an AuditEvent."""
    async with db.transaction() as conn:
        row, _ = await _open_whole(conn, case_id, caller, "export_fhir", purpose, emergency)
        events = await adapters.case_events(conn, case_id)
        access = [
            a
            for a in await adapters.access_extract(conn, row.patient_id)
            if a["case_id"] == case_id
        ]
    return export.fhir_bundle(case_id, events, access, row.personal_identity_number)


async def log_operator_read(
    db: Database,
    operator: str,
    os_user: str | None,
    case_id: UUID,
    patient_id: str | None,
    actions: Sequence[str],
    purpose: str,
) -> None:
    """Log an operator's command-line read of a case's health data (the timeline from the
    topics, its JSON or FHIR export), one row per action, before anything is shown: a read
    that cannot be logged does not happen."""
    operator, purpose = domain.require_operator(operator, purpose)
    async with db.transaction() as conn:
        if patient_id is None:
            row = await adapters.patient_of(conn, case_id)
            patient_id = row.patient_id if row is not None else "unknown"
        for action in actions:
            await adapters.log_access(
                conn,
                reader_id=operator,
                reader_role=domain.OPERATOR,
                reader_name=os_user,
                reader_title=None,
                care_unit=None,
                case_id=case_id,
                patient_id=patient_id,
                action=action,
                purpose=purpose,
                emergency=False,
                basis=domain.OPERATOR,
            )


async def access_log(db: Database, caller: Principal) -> list[dict[str, Any]]:
    """Who read the caller's record (or their child's), when and why."""
    async with db.transaction() as conn:
        return await adapters.access_extract(conn, caller.acting_for or caller.subject_id)


# --- correcting an entry --------------------------------------------------------------------


async def correct(
    db: Database,
    clock: Clock,
    caller: Principal,
    case_id: UUID,
    source_event_id: UUID,
    reason: str,
    correction: str,
) -> Event:
    """Correct an entry: ``JournalEntryCorrected`` goes to the outbox, and the projector
    records it as a new entry naming the original, which stays as it was."""
    professional = domain.corrector(caller.subject_id, caller.name, caller.title, caller.care_unit)
    async with db.transaction() as conn:
        ground = await _open(conn, case_id, caller, "correct", "correction", False)
        domain.require_care_relation(ground.basis)
        target = await adapters.entry_by_event(conn, case_id, source_event_id)
        if target is not None and not ground.visible([{"care_unit": target.draft.care_unit}]):
            raise NotFound("no such entry in this case's journal")
        now, event_id = clock.now(), clock.new_id()
        _, events = await adapters.CORRECTIONS.execute(
            conn,
            adapters.corrections_stream(case_id),
            lambda _: domain.decide_correction(
                target,
                professional,
                caller.subject_id,
                case_id,
                reason,
                correction,
                now,
                event_id,
            ),
        )
    (corrected,) = events
    return corrected


# --- the patient's consent and block --------------------------------------------------------

#: A consent or block decision on the patient's own case: (state, patient row, actor, now, id).
ConsentDecision = Callable[[domain.CaseConsents, Any, Actor, datetime, UUID], list[Event]]


def _actor(caller: Principal) -> Actor:
    """The patient, or the guardian acting for the child."""
    if caller.acting_for:
        return Actor(id=caller.subject_id, role=ActorRole.GUARDIAN, on_behalf_of=caller.acting_for)
    return Actor(id=caller.subject_id, role=ActorRole.PATIENT)


async def _own_case(conn: AsyncConnection, case_id: UUID, caller: Principal) -> Any:
    """The case, if it is the caller's own (or their child's); 404 otherwise."""
    row = await adapters.patient_of(conn, case_id)
    domain.require_own_case(row.patient_id if row else None, caller.subject_id, caller.acting_for)
    return row


async def _decide_consents(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, decide: ConsentDecision
) -> tuple[domain.CaseConsents, list[Event]]:
    """Run a consent or block decision on the caller's own case, record it in the event
    store and project it, in one transaction."""
    actor = _actor(caller)
    async with db.transaction() as conn:
        row = await _own_case(conn, case_id, caller)
        now, event_id = clock.now(), clock.new_id()
        return await adapters.CONSENTS.execute(
            conn,
            adapters.consent_stream(case_id),
            lambda state: decide(state, row, actor, now, event_id),
            project=adapters.project_consents,
        )


def _consent(case_id: UUID, provider: str, give: bool) -> ConsentDecision:
    return lambda state, row, actor, now, event_id: domain.decide_consent(
        state,
        give=give,
        case_id=case_id,
        case_provider=row.region,
        patient_id=row.patient_id,
        provider=provider,
        actor=actor,
        now=now,
        event_id=event_id,
    )


def _block(case_id: UUID, block: bool) -> ConsentDecision:
    return lambda state, row, actor, now, event_id: domain.decide_block(
        state,
        block=block,
        case_id=case_id,
        patient_id=row.patient_id,
        actor=actor,
        now=now,
        event_id=event_id,
    )


async def give_consent(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, provider: str
) -> tuple[domain.CaseConsents, list[Event]]:
    """Let another care provider (region) read the case's entries (``ConsentGiven``)."""
    return await _decide_consents(db, clock, caller, case_id, _consent(case_id, provider, True))


async def withdraw_consent(
    db: Database, clock: Clock, caller: Principal, case_id: UUID, provider: str
) -> tuple[domain.CaseConsents, list[Event]]:
    """Withdraw a care provider's consent (``ConsentWithdrawn``)."""
    return await _decide_consents(db, clock, caller, case_id, _consent(case_id, provider, False))


async def place_block(
    db: Database, clock: Clock, caller: Principal, case_id: UUID
) -> tuple[domain.CaseConsents, list[Event]]:
    """Block (spärr) the case's entries from every other provider (``JournalBlockPlaced``)."""
    return await _decide_consents(db, clock, caller, case_id, _block(case_id, True))


async def lift_block(
    db: Database, clock: Clock, caller: Principal, case_id: UUID
) -> tuple[domain.CaseConsents, list[Event]]:
    """Lift the block (``JournalBlockLifted``); consents given apply again."""
    return await _decide_consents(db, clock, caller, case_id, _block(case_id, False))


async def consents(db: Database, caller: Principal, case_id: UUID) -> domain.CaseConsents:
    """The other care providers that may read the caller's case, and whether it is blocked."""
    async with db.transaction() as conn:
        await _own_case(conn, case_id, caller)
        return await adapters.consents_of(conn, case_id)


# --- signing the record ---------------------------------------------------------------------


async def checkpoint(
    db: Database, clock: Clock, key: Ed25519PrivateKey
) -> domain.Checkpoint | None:
    """Sign the record now, if it grew since the last checkpoint, and publish the checkpoint
    (``JournalCheckpointed``, through the outbox)."""
    async with db.transaction() as conn:
        await adapters.lock(conn)
        latest = await adapters.latest_checkpoint(conn)
        if latest is not None and latest[1] == await adapters.max_entry_id(conn):
            return None
        leaves, max_id = await adapters.all_leaves(conn)
        cp = domain.make_checkpoint(leaves, latest[0] if latest else None, key, clock.now())
        await adapters.store_checkpoint(conn, cp, max_id)
        await eventstore.append(
            conn, adapters.CHECKPOINT_STREAM, cp.number - 1, [domain.checkpointed(cp)]
        )
    return cp
