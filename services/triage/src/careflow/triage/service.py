"""Triage's commands: the HTTP routes and the expiry sweep both go through these.

Each command is one transaction: it reads the time and fresh ids from the
injected clock, lets the domain decide on the case's current state, and appends
what it decided together with the open-triages projection
(``adapters.AGGREGATE.execute``). It answers with the case's triage as it stands
afterwards, and the instant it was decided at, for the caller to show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from careflow.contracts import Event
from careflow.kit.auth import Principal
from careflow.kit.clock import Clock
from careflow.kit.db import Database
from careflow.kit.domain import Conflict, Invalid, NotFound
from careflow.kit.eventstore import ConcurrencyError
from careflow.triage import adapters, domain
from careflow.triage.messages import said
from careflow.triage.questionnaire import Catalogue, Questionnaire
from careflow.triage.questionnaire.model import PatientContext, Sex
from careflow.triage.regions import RegionChoice

Decide = Callable[[domain.CaseTriage], Sequence[Event]]


@dataclass(frozen=True)
class Context:
    """What every triage command runs with; ``app`` builds it once."""

    db: Database
    clock: Clock
    catalogue: Catalogue
    #: A triage nobody answered for this long is abandoned.
    abandon_after: timedelta = domain.DEFAULT_ABANDON_AFTER
    #: Which regions take patients from other regions (default: the shipped file).
    regions: RegionChoice = field(default_factory=lambda: adapters.load_region_choice())


@dataclass(frozen=True)
class Progress:
    """A case's triage as a command left it (or a read found it), at ``at``."""

    state: domain.CaseTriage
    at: datetime

    @property
    def case_id(self) -> UUID:
        """The case (every progress a command answers with is of an opened case)."""
        assert self.state.case_id is not None
        return self.state.case_id


def offered(ctx: Context, questionnaire_id: str) -> Questionnaire:
    """The current version of a questionnaire the service offers; 404 otherwise."""
    questionnaire = ctx.catalogue.get(questionnaire_id)
    if questionnaire is None:
        raise NotFound(f"no questionnaire {questionnaire_id!r}", said("no_questionnaire"))
    return questionnaire


def _of_session(ctx: Context, state: domain.CaseTriage) -> Questionnaire:
    """The exact questionnaire the triage in progress was started with."""
    session = state.session
    if state.status is not domain.Status.IN_PROGRESS or session is None:
        raise Conflict("no triage is in progress on this case; start one", said("no_triage"))
    questionnaire = ctx.catalogue.get(session.questionnaire_id, session.questionnaire_version)
    if questionnaire is None:
        raise Conflict(
            "the questionnaire changed since this triage started; start it again",
            said("questionnaire_changed"),
        )
    return questionnaire


def context_of(caller: Principal) -> PatientContext:
    """The age and sex a patient token tells of the person cared for (never their number)."""
    if caller.age_years is None or caller.sex is None:
        raise Invalid("the token tells no age and sex; log in again", said("log_in_again"))
    return PatientContext(caller.age_years, Sex(caller.sex))


def patient_of(caller: Principal, region: str | None = None) -> domain.Patient:
    """The person a patient token seeks care for: the caller, or the child they act for;
    in ``region`` (already allowed by the rules), or the caller's own."""
    return domain.Patient(
        subject_id=caller.acting_for or caller.subject_id,
        context=context_of(caller),
        region=region or caller.region,
        acting_guardian_id=caller.subject_id if caller.acting_for else None,
    )


async def _execute(ctx: Context, case_id: UUID, decide: Decide, now: datetime) -> Progress:
    async with ctx.db.transaction() as conn:
        state, _ = await adapters.AGGREGATE.execute(
            conn, adapters.stream_id(case_id), decide, project=adapters.project
        )
    return Progress(state, now)


async def _with_contact(
    ctx: Context,
    case_id: UUID,
    decide: Callable[[domain.CaseTriage, domain.Contact], Sequence[Event]],
    now: datetime,
) -> Progress:
    """Decide knowing how far the case has come in queue and chat (their events, kept here)."""
    async with ctx.db.transaction() as conn:
        contact = await adapters.contact_of(conn, case_id)
        state, _ = await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda s: decide(s, contact),
            project=adapters.project,
        )
    return Progress(state, now)


async def open_case(
    ctx: Context,
    caller: Principal,
    questionnaire_id: str | None,
    language: str,
    region: str | None = None,
) -> Progress:
    """Open a case for the caller (or the child they act for); start ``questionnaire_id`` too.

    ``region``: another region than the caller's own, where that region's service takes
    patients from other regions (403 otherwise).
    """
    patient = patient_of(caller, ctx.regions.decide(caller.region, region))
    chosen = offered(ctx, questionnaire_id) if questionnaire_id else None
    case_id = ctx.clock.new_id()
    now = ctx.clock.now()

    def decide(state: domain.CaseTriage) -> list[Event]:
        events = domain.decide_open(state, case_id, patient, now)
        if chosen is not None:
            opened = domain.evolve(state, events[0])
            events += domain.decide_start(
                opened,
                chosen,
                language,
                caller.subject_id,
                now,
                ctx.abandon_after,
                patient=patient.context,
                new_id=ctx.clock.new_id,
                acting_for=caller.acting_for,
            )
        return events

    return await _execute(ctx, case_id, decide, now)


async def start(
    ctx: Context, caller: Principal, case_id: UUID, questionnaire_id: str, language: str
) -> Progress:
    """Start a questionnaire on a case; on a waiting case, a re-triage (revision + 1).

    A re-triage once contact has begun or the case has closed is refused (409, with why):
    queue would have nothing to move.
    """
    chosen = offered(ctx, questionnaire_id)
    patient = context_of(caller)
    now = ctx.clock.now()
    return await _with_contact(
        ctx,
        case_id,
        lambda state, contact: domain.decide_start(
            state,
            chosen,
            language,
            caller.subject_id,
            now,
            ctx.abandon_after,
            patient=patient,
            new_id=ctx.clock.new_id,
            acting_for=caller.acting_for,
            contact=contact,
        ),
        now,
    )


async def answer(
    ctx: Context, caller: Principal, case_id: UUID, question_id: str, value: object
) -> Progress:
    """Answer the current question; the answer that reaches an outcome completes triage."""
    now = ctx.clock.now()

    def decide(state: domain.CaseTriage, contact: domain.Contact) -> list[Event]:
        # The stranger check comes before the questionnaire lookup, so both 404 alike.
        if not domain.may_see(state, caller.subject_id, caller.acting_for):
            raise NotFound("no such case", said("no_such_case"))
        return domain.decide_answer(
            state,
            _of_session(ctx, state),
            question_id,
            value,
            caller.subject_id,
            now,
            ctx.abandon_after,
            new_id=ctx.clock.new_id,
            acting_for=caller.acting_for,
            contact=contact,
        )

    return await _with_contact(ctx, case_id, decide, now)


async def go_back(ctx: Context, caller: Principal, case_id: UUID) -> Progress:
    """Withdraw the last answer: its question is asked again."""
    now = ctx.clock.now()
    return await _execute(
        ctx,
        case_id,
        lambda state: domain.decide_back(
            state,
            caller.subject_id,
            now,
            ctx.abandon_after,
            new_id=ctx.clock.new_id,
            acting_for=caller.acting_for,
        ),
        now,
    )


async def give_up(ctx: Context, caller: Principal, case_id: UUID) -> Progress:
    """Stop answering; an earlier completed triage of the case still stands."""
    now = ctx.clock.now()
    return await _execute(
        ctx,
        case_id,
        lambda state: domain.decide_give_up(
            state, caller.subject_id, now, new_id=ctx.clock.new_id, acting_for=caller.acting_for
        ),
        now,
    )


async def progress(ctx: Context, caller: Principal, case_id: UUID) -> Progress:
    """Where the patient is in a case's triage; someone else's case is 404 like a missing one."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as conn:
        state, _ = await adapters.AGGREGATE.rehydrate(conn, adapters.stream_id(case_id))
    if not domain.may_see(state, caller.subject_id, caller.acting_for):
        raise NotFound("no such case", said("no_such_case"))
    return Progress(state, now)


async def outcome(ctx: Context, caller: Principal, case_id: UUID) -> Progress:
    """A case whose triage has completed at least once; 404 before that."""
    found = await progress(ctx, caller, case_id)
    if found.state.completion is None:
        raise NotFound("this case has no completed triage yet", said("no_outcome_yet"))
    return found


async def expire(ctx: Context, case_id: UUID, now: datetime) -> list[Event]:
    """Abandon the case's triage if nobody has answered it for ``abandon_after``."""
    async with ctx.db.transaction() as conn:
        _, new = await adapters.AGGREGATE.execute(
            conn,
            adapters.stream_id(case_id),
            lambda state: domain.decide_expire(
                state, now, ctx.abandon_after, new_id=ctx.clock.new_id
            ),
            project=adapters.project,
        )
    return new


async def expire_abandoned(ctx: Context) -> int:
    """Abandon every triage with no answer for ``abandon_after``; returns how many."""
    now = ctx.clock.now()
    async with ctx.db.transaction() as conn:
        idle = await adapters.idle_since(conn, now - ctx.abandon_after)
    expired = 0
    for case_id in idle:
        try:
            expired += len(await expire(ctx, case_id, now))
        except ConcurrencyError:
            continue  # the patient answered meanwhile: not abandoned after all
    return expired


async def record_contact(conn: AsyncConnection, event: Event, stage: domain.Contact) -> None:
    """Remember how far a case has come, from an event of queue or chat (consumer's transaction)."""
    await adapters.record_contact(conn, event.case_id, stage, event.occurred_at)
