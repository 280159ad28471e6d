"""A login session: the aggregate that records how each login ended.

A session (stream ``login-<session id>``) is one e-ID order from start to its
outcome, or one guardian starting to act for a child. Its ``decide_*``
functions turn what the e-ID and the registers said into the one audit event
the session records; ``evolve`` folds it into ``LoginSession``. Pure: the
instant, today's date and the event id are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from careflow.contracts import Actor, ActorRole, Event
from careflow.contracts.identity_events import (
    ActingForChildStarted,
    LoginRefused,
    LoginSucceeded,
)
from careflow.identity.domain.eligibility import (
    NotAllowed,
    Person,
    Refusal,
    StaffMember,
    check_acting_for,
    check_patient,
)
from careflow.identity.domain.numbers import IdentityNumber
from careflow.kit.domain import Conflict

#: Who logs in: patients (for themselves, or as a guardian) or staff.
Realm = Literal["patient", "staff"]

PRODUCER = "identity"


class LoginMethod(StrEnum):
    """Which e-ID provider vouched for the person, as ``LoginSucceeded.method`` records it."""

    TEST_EID = "test-eid"
    OIDC = "oidc"


class Outcome(StrEnum):
    """How a login session ended."""

    SUCCEEDED = "succeeded"
    REFUSED = "refused"
    ACTING_FOR_CHILD = "acting_for_child"


@dataclass(frozen=True)
class LoginSession:
    """A login session as its events left it: undecided, or with its one outcome."""

    outcome: Outcome | None = None
    realm: Realm | None = None
    #: Who logged in (or was refused, when known); when acting, the guardian.
    subject_id: str | None = None
    method: str | None = None
    #: Why it was refused: a ``Refusal`` value, or the e-ID's hint code for a failed order.
    reason: str | None = None
    child_id: str | None = None


@dataclass(frozen=True)
class PatientLogin:
    """A completed e-ID order in the patient realm, with the population register's answer."""

    session: UUID
    method: LoginMethod
    number: IdentityNumber
    person: Person | None
    #: The person's pseudonymous id (``subject_id`` of the number).
    subject_id: str


@dataclass(frozen=True)
class StaffLogin:
    """A completed e-ID order in the staff realm, with the staff catalogue's answer."""

    session: UUID
    method: LoginMethod
    member: StaffMember | None


@dataclass(frozen=True)
class FailedOrder:
    """An e-ID order that ended without anyone identified (cancelled, expired, declined)."""

    session: UUID
    realm: Realm
    hint_code: str | None


@dataclass(frozen=True)
class ActForChild:
    """A guardian, logged in as themselves, asks to act for a child."""

    session: UUID
    guardian: Person
    guardian_id: str
    child_number: IdentityNumber
    child: Person | None
    child_id: str


def decide_patient_login(
    state: LoginSession, command: PatientLogin, today: date, now: datetime, event_id: UUID
) -> list[Event]:
    """Let the person in (``LoginSucceeded``) or record why not (``LoginRefused``)."""
    _not_decided(state)
    try:
        check_patient(command.number, command.person, today)
    except NotAllowed as refused:
        return [
            _refused(command.session, "patient", command.subject_id, refused.refusal, now, event_id)
        ]
    return [
        _succeeded(command.session, "patient", command.subject_id, command.method, now, event_id)
    ]


def decide_staff_login(
    state: LoginSession, command: StaffLogin, now: datetime, event_id: UUID
) -> list[Event]:
    """Staff log in when the staff catalogue knows them; anyone else is refused."""
    _not_decided(state)
    if command.member is None:
        return [_refused(command.session, "staff", None, Refusal.NOT_STAFF, now, event_id)]
    return [
        _succeeded(command.session, "staff", command.member.hsa_id, command.method, now, event_id)
    ]


def decide_failed_order(
    state: LoginSession, command: FailedOrder, now: datetime, event_id: UUID
) -> list[Event]:
    """Record a failed order once; collecting it again records nothing more."""
    if state.outcome is not None:
        return []
    reason = command.hint_code or "failed"
    return [_refused(command.session, command.realm, None, reason, now, event_id)]


def decide_acting_for(
    state: LoginSession, command: ActForChild, today: date, now: datetime, event_id: UUID
) -> list[Event]:
    """The guardian starts acting for the child, if ``check_acting_for`` allows it.

    A refusal raises ``NotAllowed`` and records nothing: the guardian is still
    logged in as themselves.
    """
    _not_decided(state)
    check_acting_for(command.guardian, command.child_number, command.child, today)
    return [
        ActingForChildStarted(
            event_id=event_id,
            case_id=command.session,
            occurred_at=now,
            producer=PRODUCER,
            correlation_id=command.session,
            actor=Actor(
                id=command.guardian_id, role=ActorRole.GUARDIAN, on_behalf_of=command.child_id
            ),
            guardian_id=command.guardian_id,
            child_id=command.child_id,
        )
    ]


def evolve(state: LoginSession, event: Event) -> LoginSession:
    """The session after ``event``."""
    if isinstance(event, LoginSucceeded):
        return replace(
            state,
            outcome=Outcome.SUCCEEDED,
            realm=event.realm,
            subject_id=event.subject_id,
            method=event.method,
        )
    if isinstance(event, LoginRefused):
        return replace(
            state,
            outcome=Outcome.REFUSED,
            realm=event.realm,
            subject_id=event.subject_id,
            reason=event.reason,
        )
    if isinstance(event, ActingForChildStarted):
        return replace(
            state,
            outcome=Outcome.ACTING_FOR_CHILD,
            realm="patient",
            subject_id=event.guardian_id,
            child_id=event.child_id,
        )
    return state


def _not_decided(state: LoginSession) -> None:
    if state.outcome is not None:
        raise Conflict("this login is already finished; start a new login")


def _succeeded(
    session: UUID,
    realm: Realm,
    subject: str,
    method: LoginMethod,
    now: datetime,
    event_id: UUID,
) -> Event:
    role = ActorRole.PATIENT if realm == "patient" else ActorRole.STAFF
    return LoginSucceeded(
        event_id=event_id,
        case_id=session,
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=session,
        actor=Actor(id=subject, role=role),
        subject_id=subject,
        realm=realm,
        method=method.value,
    )


def _refused(
    session: UUID,
    realm: Realm,
    subject: str | None,
    reason: str,
    now: datetime,
    event_id: UUID,
) -> Event:
    return LoginRefused(
        event_id=event_id,
        case_id=session,
        occurred_at=now,
        producer=PRODUCER,
        correlation_id=session,
        actor=Actor(id=PRODUCER, role=ActorRole.SYSTEM),
        subject_id=subject,
        realm=realm,
        # The contract keeps reasons to short codes.
        reason=str(reason)[:64],
    )
