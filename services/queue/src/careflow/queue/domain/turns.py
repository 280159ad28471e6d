"""Turns: staff take a waiting case; the professional who took it may put it back or,
when the patient does not answer, close it.

Pure: no I/O, the time and event ids passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from careflow.contracts import Actor, ActorRole, Event, Professional, TurnReached
from careflow.contracts.queue_events import CaseRequeued, CaseWithdrawn, WithdrawalReason
from careflow.kit.clock import natural_id
from careflow.kit.domain import Conflict, Forbidden
from careflow.queue.domain.case import QueuedCase, Status, envelope, given_reason, waited
from careflow.queue.domain.staff import Staff, require_holder, require_visible, skill_names


def decide_claim(
    state: QueuedCase, professional: Professional, now: datetime, event_id: UUID | None = None
) -> list[Event]:
    """A professional takes the case: it becomes the patient's turn.

    ``event_id`` comes from the command's clock; without one, the id is derived from the
    case's last event and the professional, so the same inputs decide the same event.
    """
    if state.status is not Status.WAITING or state.case_id is None:
        raise Conflict("the case is not waiting in a queue")
    assert state.queue is not None
    return [
        TurnReached(
            **envelope(
                state,
                Actor(id=professional.staff_id, role=ActorRole.STAFF),
                now,
                event_id
                or natural_id("queue", "turn", str(state.last_event_id), professional.staff_id),
            ),
            queue=state.queue,
            professional=professional,
            waited_seconds=waited(state, now),
        )
    ]


def decide_take(state: QueuedCase, staff: Staff, now: datetime, *, event_id: UUID) -> list[Event]:
    """Staff take one particular waiting case of their region and skills."""
    queue = require_visible(state, staff)
    if queue.skill not in staff.skills:
        raise Forbidden(
            f"the case waits in the {queue.skill.value} queue: your skills are "
            + skill_names(staff)
        )
    if state.status is Status.IN_CONTACT:
        raise Conflict("someone has already taken the case")
    return decide_claim(state, staff.professional, now, event_id)


def check_no_answer(state: QueuedCase, now: datetime, answer_within: timedelta | None) -> None:
    """Refuse while the patient still has time to answer after their turn."""
    assert state.turn_reached_at is not None
    if answer_within is not None and now - state.turn_reached_at < answer_within:
        left = answer_within - (now - state.turn_reached_at)
        raise Conflict(
            f"the patient still has {int(left.total_seconds())} s to answer "
            f"(they get {int(answer_within.total_seconds())} s after their turn)"
        )


def decide_requeue(
    state: QueuedCase,
    staff: Staff,
    reason: str,
    now: datetime,
    no_answer: bool = False,
    answer_within: timedelta | None = None,
    *,
    event_id: UUID,
) -> list[Event]:
    """The professional who took the case puts it back; the patient keeps their place.

    With ``no_answer`` the patient did not answer after their turn: allowed only once
    ``answer_within`` has passed since the turn was reached.
    """
    require_visible(state, staff)
    require_holder(state, staff)
    if no_answer:
        check_no_answer(state, now, answer_within)
    assert state.case_id and state.queue and state.urgency and state.waiting_since
    return [
        CaseRequeued(
            **envelope(state, staff.actor, now, event_id),
            queue=state.queue,
            urgency=state.urgency,
            waiting_since=state.waiting_since,
            reason=given_reason(reason),
            no_answer=no_answer,
        )
    ]


def decide_close_unanswered(
    state: QueuedCase, staff: Staff, now: datetime, answer_within: timedelta, *, event_id: UUID
) -> list[Event]:
    """The patient did not answer after their turn: the professional closes the case."""
    require_visible(state, staff)
    require_holder(state, staff)
    check_no_answer(state, now, answer_within)
    assert state.case_id and state.queue
    return [
        CaseWithdrawn(
            **envelope(state, staff.actor, now, event_id),
            queue=state.queue,
            reason=WithdrawalReason.NO_ANSWER,
            waited_seconds=waited(state, now),
        )
    ]
