"""Queue's commands: the one path every entry point takes (HTTP routes, Kafka consumers).

Each command authorises, loads the case, lets the rules (``domain``) decide with the
time and ids of the injected ``Clock``, and appends and projects the decision in one
transaction through the kit's ``Aggregate.execute``. Staff commands take the staff
member as ``serving`` found them; patient commands take the caller and check the case
is theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseClosed,
    Event,
    Professional,
    Skill,
    TriageCompleted,
    TurnReached,
)
from careflow.contracts.notify_events import NotificationFailed
from careflow.kit import access_log, eventstore
from careflow.kit.auth import Principal
from careflow.kit.cases import require_case_access
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Forbidden, Invalid, NotFound
from careflow.queue import adapters, domain, views

#: A case's new state and the TurnReached that gave it to a professional.
Turn = tuple[domain.QueuedCase, TurnReached]


@dataclass(frozen=True)
class QueueConfig:
    """The numbers and regions the queue's commands and views go by."""

    regions: domain.Regions
    answer_within: timedelta = timedelta(minutes=5)
    #: A case this close to its 3-day assessment limit raises an alert in the worklist.
    assessment_warning: timedelta = timedelta(hours=12)
    read: views.ReadSettings = field(default_factory=views.ReadSettings)


# --- before starting: the regions' hours (public) ----------------------------------------


def regions_today(
    clock: Clock, config: QueueConfig, region: str | None = None
) -> list[domain.DayHours]:
    """Today's opening hours and the next opening of every region (or of one; 404 unknown)."""
    now = clock.now()
    if region is None:
        return [calendar.today(now) for calendar in config.regions.all()]
    if not config.regions.knows(region):
        raise NotFound(f"no region called {region!r}")
    return [config.regions.calendar(region).today(now)]


# --- who is acting --------------------------------------------------------------------------


def staff_of(caller: Principal) -> domain.Staff:
    """The staff member a token names; skills come from the title (for now)."""
    return domain.Staff(
        professional=Professional(
            staff_id=caller.subject_id,
            name=caller.name or caller.subject_id,
            title=caller.title or "staff",
            care_unit=caller.care_unit or "unknown",
        ),
        region=caller.region,
        skills=domain.skills_for_title(caller.title),
    )


def serving(config: QueueConfig, caller: Principal) -> domain.Staff:
    """The staff member, if their care unit serves their region's queues (403 otherwise)."""
    if not config.regions.calendar(caller.region).served_by(caller.care_unit):
        raise Forbidden(f"your care unit does not serve the queues of {caller.region}")
    return staff_of(caller)


def patient_actor(caller: Principal) -> Actor:
    """The patient, or the guardian acting for them, as the actor of what they do."""
    return Actor(
        id=caller.subject_id,
        role=ActorRole.GUARDIAN if caller.acting_for else ActorRole.PATIENT,
        on_behalf_of=caller.acting_for,
    )


# --- who read what (health data) -----------------------------------------------------------

#: What a read shows, as the access log names it: the case given to staff with its urgency,
#: a case's place and urgency, a worklist naming it (cases near their guarantee limit), the
#: list of patients notify could not reach.
READ_TURN, READ_PLACE, READ_WORKLIST, READ_UNREACHED = "turn", "place", "worklist", "unreached"
#: Why staff of a region's queues may read them, and for what.
BASIS_QUEUE = "serves the region's queues"
PURPOSE_QUEUE = "help the region's waiting patients in order of urgency"


def _reader(staff: domain.Staff) -> Principal:
    """The staff member as the access log names them."""
    p = staff.professional
    return Principal(
        subject_id=p.staff_id,
        role="staff",
        region=staff.region,
        name=p.name,
        title=p.title,
        care_unit=p.care_unit,
    )


async def _log_reads(
    conn: AsyncConnection, clock: Clock, reader: Principal, case_ids: Iterable[UUID], what: str
) -> None:
    """Log ``reader``'s read of each case (nothing for a patient) in ``conn``'s transaction."""
    entries = access_log.staff_reads(
        reader, case_ids, what, BASIS_QUEUE, PURPOSE_QUEUE, clock.now()
    )
    await access_log.record_access(conn, adapters.access_log, entries)


# --- running a decision on one case ---------------------------------------------------------


async def _execute(
    conn: AsyncConnection,
    case_id: UUID,
    decide: Callable[[domain.QueuedCase], Sequence[Event]],
) -> tuple[domain.QueuedCase, list[Event]]:
    """Decide on one case, append and project, in the caller's transaction."""
    # Lock the waiting row first, as a claim does: a command racing a claim then waits for
    # it and sees its turn, instead of deadlocking with it on the stream.
    await adapters.lock_waiting(conn, case_id)
    return await adapters.AGGREGATE.execute(
        conn, adapters.stream_id(case_id), decide, project=adapters.project
    )


# --- from other services --------------------------------------------------------------------


async def record_triaged_case(conn: AsyncConnection, clock: Clock, triage: TriageCompleted) -> None:
    """Queue, move (re-triage) or take out (re-triaged to call 112) a triaged case.

    Runs in the consumer's transaction, with the triage event's inbox entry.
    """
    now = clock.now()
    await _execute(conn, triage.case_id, lambda s: domain.decide_place(s, triage, now))


async def record_notification_failed(conn: AsyncConnection, failed: NotificationFailed) -> None:
    """Remember a patient notify could not reach, for staff to call instead."""
    await adapters.record_unreached(conn, failed)


async def record_case_closed(conn: AsyncConnection, closed: CaseClosed) -> None:
    """The contact ended: the assessment was made then, or is made at the visit it booked."""
    booked = closed.appointment is not None
    at = closed.appointment.starts_at if closed.appointment is not None else closed.occurred_at
    await adapters.settle_guarantee(conn, closed.case_id, closed.outcome.value, at, booked)


# --- staff ----------------------------------------------------------------------------------


async def claim_next(
    db: Database,
    clock: Clock,
    staff: domain.Staff,
    skills: Iterable[Skill] | None = None,
    region: str | None = None,
) -> Turn | None:
    """Give ``staff`` the most urgent, longest-waiting case of their region and ``skills``
    (default: all of theirs); None when nobody waits.

    Atomic under any concurrency: the claim query locks the row (other claimers skip it),
    removes it and records the turn in one round trip, and the TurnReached is appended at
    the stream's expected version in the same transaction. That query has already folded
    the stream and projected the turn, so the decision is appended directly rather than
    through ``Aggregate.execute``, which would read and project it a second time.
    """
    domain.check_region(staff, region)
    wanted = domain.choose_skills(staff, skills)
    now, event_id = clock.now(), clock.new_id()
    async with db.transaction() as conn:
        claimed = await adapters.claim_waiting(
            conn, staff.region, wanted, staff.professional.staff_id, now
        )
        if claimed is None:
            return None
        new = domain.decide_take(claimed.state, staff, now, event_id=event_id)
        await eventstore.append(conn, adapters.stream_id(claimed.case_id), claimed.version, new)
        await _log_reads(conn, clock, _reader(staff), [claimed.case_id], READ_TURN)
    [turn] = new
    assert isinstance(turn, TurnReached)
    return domain.evolve(claimed.state, turn), turn


async def take(db: Database, clock: Clock, staff: domain.Staff, case_id: UUID) -> Turn:
    """Give ``staff`` one particular case (it must wait in their region and skills)."""
    now, event_id = clock.now(), clock.new_id()
    async with db.transaction() as conn:
        # Waits for a concurrent claimer of the same row; then the stream shows its turn.
        await adapters.remove_waiting(conn, case_id)
        state, new = await _execute(
            conn, case_id, lambda s: domain.decide_take(s, staff, now, event_id=event_id)
        )
        await _log_reads(conn, clock, _reader(staff), [case_id], READ_TURN)
    [turn] = new
    assert isinstance(turn, TurnReached)
    return state, turn


async def requeue(
    db: Database,
    clock: Clock,
    config: QueueConfig,
    staff: domain.Staff,
    case_id: UUID,
    reason: str,
    no_answer: bool = False,
) -> dict[str, Any]:
    """Put a case ``staff`` took back in its queue (it keeps its place); returns its place."""
    now, event_id = clock.now(), clock.new_id()
    async with db.transaction() as conn:
        state, _ = await _execute(
            conn,
            case_id,
            lambda s: domain.decide_requeue(
                s,
                staff,
                reason,
                now,
                no_answer=no_answer,
                answer_within=config.answer_within,
                event_id=event_id,
            ),
        )
        return await _place(conn, clock, config, case_id, state, _reader(staff))


async def transfer(
    db: Database,
    clock: Clock,
    config: QueueConfig,
    staff: domain.Staff,
    case_id: UUID,
    reason: str,
    skill: Skill | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Move a case to another skill's or region's queue (it keeps its waiting time);
    returns its place."""
    if region is not None and not config.regions.knows(region):
        raise Invalid(f"unknown region {region!r}")
    now, event_id = clock.now(), clock.new_id()

    def decide(state: domain.QueuedCase) -> list[Event]:
        to = domain.transfer_target(state, staff, skill, region)
        return domain.decide_transfer(state, staff, to, reason, now, event_id=event_id)

    async with db.transaction() as conn:
        state, _ = await _execute(conn, case_id, decide)
        return await _place(conn, clock, config, case_id, state, _reader(staff))


async def close_unanswered(
    db: Database, clock: Clock, config: QueueConfig, staff: domain.Staff, case_id: UUID
) -> dict[str, Any]:
    """The patient did not answer after their turn: close the case as withdrawn."""
    now, event_id = clock.now(), clock.new_id()
    async with db.transaction() as conn:
        state, _ = await _execute(
            conn,
            case_id,
            lambda s: domain.decide_close_unanswered(
                s, staff, now, config.answer_within, event_id=event_id
            ),
        )
        return await _place(conn, clock, config, case_id, state, _reader(staff))


async def overviews(
    db: Database, clock: Clock, config: QueueConfig, staff: domain.Staff, skills: Iterable[Skill]
) -> list[dict[str, Any]]:
    """Staff's view of each of ``skills``' queues of their region."""
    now = clock.now()
    async with db.transaction() as conn:
        seen = await views.overviews(conn, staff.region, skills, now, config.regions, config.read)
        named = [near["case_id"] for view in seen for near in view["near_guarantee_limit"]]
        await _log_reads(conn, clock, _reader(staff), named, READ_WORKLIST)
        return seen


async def worklist(
    db: Database,
    clock: Clock,
    config: QueueConfig,
    staff: domain.Staff,
    skills: Iterable[Skill],
    first: int,
) -> dict[str, Any]:
    """Everything staff's worklist page shows: each queue's overview with its first
    ``first`` waiting cases in order, and the patients a notification missed.

    The reads run on two connections at once (``views.worklist``); every case named is
    logged as read, and committed, before any of it is returned."""
    now = clock.now()
    async with db.autocommit_pair() as (counting, listing):
        seen, missed = await views.worklist(
            counting, listing, staff.region, skills, now, config.regions, config.read, first
        )
    named = [
        case["case_id"]
        for view in seen
        for case in (*view["near_guarantee_limit"], *view["first_waiting"])
    ]
    reader = _reader(staff)
    # Each insert commits on its own (one round trip): an entry written for an answer that
    # then fails records a read that did not happen, which the log may hold; never the reverse.
    async with db.autocommit() as conn:
        await _log_reads(conn, clock, reader, named, READ_WORKLIST)
        await _log_reads(conn, clock, reader, [r["case_id"] for r in missed], READ_UNREACHED)
    return {"queues": seen, "unreached": missed}


async def guarantee_worklist(
    db: Database, clock: Clock, config: QueueConfig, staff: domain.Staff
) -> list[dict[str, Any]]:
    """The region's cases against the 3-day assessment limit: those not yet assessed, with
    their deadline and an alert when it is near, and those assessed or booked too late."""
    now = clock.now()
    async with db.transaction() as conn:
        rows = await adapters.guarantee_rows(conn, staff.region)
        out = []
        for row in rows:
            status = domain.assessment_status(
                row.first_contact_at, row.assessed_at, row.booked, now, config.assessment_warning
            )
            out.append(
                {
                    "case_id": row.case_id,
                    "outcome": row.outcome,
                    "first_contact_at": status.first_contact_at,
                    "assessment_due": status.assessment_due,
                    "assessed_at": status.assessed_at,
                    "alert": status.near and not status.overdue,
                    "overdue": status.overdue,
                    "booking_beyond_limit": status.booking_beyond_limit,
                }
            )
        await _log_reads(conn, clock, _reader(staff), [r["case_id"] for r in out], READ_WORKLIST)
        return out


async def unreached(db: Database, clock: Clock, staff: domain.Staff) -> list[dict[str, Any]]:
    """Patients of the staff member's region whom a notification could not reach."""
    async with db.transaction() as conn:
        rows = await adapters.unreached_in_region(conn, staff.region)
        await _log_reads(conn, clock, _reader(staff), [r["case_id"] for r in rows], READ_UNREACHED)
        return rows


# --- patients (and staff looking at one case) -----------------------------------------------


async def withdraw(
    db: Database, clock: Clock, config: QueueConfig, caller: Principal, case_id: UUID
) -> dict[str, Any]:
    """The patient leaves the queue: the case closes as withdrawn; returns its place."""
    actor = patient_actor(caller)
    now, event_id = clock.now(), clock.new_id()
    async with db.transaction() as conn:
        await require_case_access(conn, case_id, caller)
        state, _ = await _execute(
            conn, case_id, lambda s: domain.decide_withdraw(s, actor, now, event_id=event_id)
        )
        return await _place(conn, clock, config, case_id, state, caller)


async def place(
    db: Database, clock: Clock, config: QueueConfig, caller: Principal, case_id: UUID
) -> dict[str, Any]:
    """A case's status, position and estimated wait, for its patient or staff of its queue.

    Anyone else, and staff whose care unit does not serve the region, learn nothing:
    the case is unknown to them.
    """
    async with db.transaction() as conn:
        if caller.role == "patient":
            await require_case_access(conn, case_id, caller)
        state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
        if caller.role != "patient" and (
            state.queue is None
            or state.queue.region != caller.region
            or not config.regions.calendar(caller.region).served_by(caller.care_unit)
        ):
            raise NotFound("no such case in your region's queues")
        return await _place(conn, clock, config, case_id, state, caller)


async def _place(
    conn: AsyncConnection,
    clock: Clock,
    config: QueueConfig,
    case_id: UUID,
    state: domain.QueuedCase,
    reader: Principal,
) -> dict[str, Any]:
    """The case's place, as ``reader`` sees it; a read by staff or an auditor is logged."""
    seen = await views.place(conn, state, clock.now(), config.regions, config.read)
    await _log_reads(conn, clock, reader, [case_id], READ_PLACE)
    return {"case_id": case_id, **seen}
