"""Moves out of the usual path: staff transfer a case to another queue; the patient
withdraws.

Pure: no I/O, the time and event ids passed in.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from careflow.contracts import Actor, Event, QueueRef, Skill
from careflow.contracts.queue_events import CaseTransferred, CaseWithdrawn, WithdrawalReason
from careflow.kit.domain import Conflict, Invalid
from careflow.queue.domain.case import QueuedCase, Status, envelope, given_reason, waited
from careflow.queue.domain.staff import Staff, require_holder, require_visible


def transfer_target(
    state: QueuedCase, staff: Staff, skill: Skill | None, region: str | None
) -> QueueRef:
    """Where a transfer sends the case: the named skill and region, each by default the
    case's current one."""
    current = state.queue or QueueRef(region=staff.region, skill=Skill.NURSE)
    return QueueRef(region=region or current.region, skill=skill or current.skill)


def decide_transfer(
    state: QueuedCase, staff: Staff, to: QueueRef, reason: str, now: datetime, *, event_id: UUID
) -> list[Event]:
    """Move a case to another skill's or region's queue, keeping its waiting time.

    Staff of the case's region may transfer a waiting case; a case in contact only
    by the professional who took it.
    """
    queue = require_visible(state, staff)
    if state.status is Status.IN_CONTACT:
        require_holder(state, staff)
    elif state.status is not Status.WAITING:
        raise Conflict("the case is no longer in a queue")
    if to == queue:
        raise Invalid("the case already waits in that queue")
    assert state.case_id and state.urgency and state.waiting_since
    return [
        CaseTransferred(
            **envelope(state, staff.actor, now, event_id),
            from_queue=queue,
            queue=to,
            urgency=state.urgency,
            waiting_since=state.waiting_since,
            reason=given_reason(reason),
        )
    ]


def decide_withdraw(
    state: QueuedCase, patient: Actor, now: datetime, *, event_id: UUID
) -> list[Event]:
    """The patient (or their guardian) withdraws a waiting case: it closes as withdrawn.

    Whether ``patient`` may act on the case is checked before (unknown cases and
    other people's look the same).
    """
    if state.status is Status.WITHDRAWN:
        raise Conflict("the case is already withdrawn")
    if state.status is Status.IN_CONTACT:
        raise Conflict("your contact has already begun: end it in the chat")
    if state.status is not Status.WAITING or state.queue is None or state.case_id is None:
        raise Conflict("the case is not waiting in a queue")
    return [
        CaseWithdrawn(
            **envelope(state, patient, now, event_id),
            queue=state.queue,
            reason=WithdrawalReason.PATIENT_WITHDREW,
            waited_seconds=waited(state, now),
        )
    ]
