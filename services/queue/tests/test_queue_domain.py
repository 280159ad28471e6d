"""The queue's pure rules: order, moves, refusals, opening hours and the care guarantee."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from queue_model import (
    START,
    Claim,
    Enqueue,
    Model,
    Retriage,
    Withdraw,
    case_uuid,
    operations,
    staff,
    triage_event,
)

from careflow.contracts import Actor, ActorRole, QueueRef, Skill, Urgency
from careflow.contracts.queue_events import (
    CaseRequeued,
    CaseTransferred,
    CaseWithdrawn,
    WithdrawalReason,
)
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound
from careflow.queue import adapters, domain

pytestmark = [pytest.mark.queue, pytest.mark.unit]

UPPSALA_NURSES = QueueRef(region="Uppsala", skill=Skill.NURSE)
NURSE = staff("Uppsala", frozenset({Skill.NURSE}))
OTHER_NURSE = staff("Uppsala", frozenset({Skill.NURSE}), n=2)
GOTLAND_NURSE = staff("Gotland", frozenset({Skill.NURSE}))
DOCTOR = staff("Uppsala", frozenset({Skill.DOCTOR}))
PATIENT = Actor(id="p-0", role=ActorRole.PATIENT)


def fold(state: domain.QueuedCase, events: list) -> domain.QueuedCase:  # type: ignore[type-arg]
    for e in events:
        state = domain.evolve(state, e)
    return state


def waiting(urgency: Urgency = Urgency.YELLOW, at: datetime = START) -> domain.QueuedCase:
    return fold(
        domain.QueuedCase(),
        domain.decide_place(
            domain.QueuedCase(), triage_event(0, at, urgency, UPPSALA_NURSES, 1), at
        ),
    )


# --- the property ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(operations())
def test_the_next_claimed_case_is_always_the_most_urgent_oldest_waiting_one(ops) -> None:  # type: ignore[no-untyped-def]
    """Any interleaving of arrivals, claims, withdrawals and re-triages: the domain's
    decisions, folded into the waiting room, hand out exactly the case the rule names."""
    model = Model()
    states: dict[int, domain.QueuedCase] = {}
    room: dict = {}  # type: ignore[type-arg]
    now = START
    for op, step in ops:
        now += step

        def record(case: int, events: list) -> None:  # type: ignore[type-arg]
            nonlocal room
            states[case] = fold(states.get(case, domain.QueuedCase()), events)
            for e in events:
                room = domain.project_waiting(room, e)

        if isinstance(op, Enqueue):
            model.enqueue(op.case, now, op.urgency, op.queue)
            event = triage_event(op.case, now, op.urgency, op.queue, 1)
            record(op.case, domain.decide_place(domain.QueuedCase(), event, now))
        elif isinstance(op, Retriage):
            revision = model.retriage(op.case, now, op.urgency, op.queue)
            event = triage_event(op.case, now, op.urgency, op.queue, revision)
            record(op.case, domain.decide_place(states[op.case], event, now))
        elif isinstance(op, Claim):
            expected = model.expected_claim(op.region, op.skills)
            got = domain.next_waiting(room.values(), op.region, op.skills)
            assert (got.case_id if got else None) == (
                case_uuid(expected) if expected is not None else None
            )
            if expected is not None:
                model.claimed(expected)
                who = staff(op.region, op.skills)
                record(expected, domain.decide_take(states[expected], who, now, event_id=uuid4()))
        else:
            assert isinstance(op, Withdraw)
            state = states.get(op.case, domain.QueuedCase())
            if model.withdraw(op.case):
                record(op.case, domain.decide_withdraw(state, PATIENT, now, event_id=uuid4()))
            else:
                with pytest.raises(Conflict):
                    domain.decide_withdraw(state, PATIENT, now, event_id=uuid4())
        # The waiting room and the aggregates agree on who waits.
        assert set(room) == {case_uuid(c) for c in model.waiting}
        assert {c for c, s in states.items() if s.status is domain.Status.WAITING} == set(
            model.waiting
        )


# --- moves ----------------------------------------------------------------------------------


def test_a_requeued_case_keeps_its_place_and_a_transfer_its_waiting_time() -> None:
    state = waiting()
    state = fold(
        state, domain.decide_take(state, NURSE, START + timedelta(minutes=5), event_id=uuid4())
    )
    with pytest.raises(Forbidden, match="only the professional who took"):
        domain.decide_requeue(state, OTHER_NURSE, "busy", START, event_id=uuid4())
    [back] = domain.decide_requeue(
        state, NURSE, " wrong queue ", START + timedelta(minutes=6), event_id=uuid4()
    )
    assert isinstance(back, CaseRequeued) and back.reason == "wrong queue"
    assert back.waiting_since == START and back.actor.id == NURSE.professional.staff_id
    state = fold(state, [back])
    assert state.status is domain.Status.WAITING and state.holder is None

    to = QueueRef(region="Uppsala", skill=Skill.DOCTOR)
    [moved] = domain.decide_transfer(
        state, OTHER_NURSE, to, "needs a doctor", START, event_id=uuid4()
    )
    assert isinstance(moved, CaseTransferred)
    assert moved.from_queue == UPPSALA_NURSES and moved.queue == to
    state = fold(state, [moved])
    assert state.queue == to and state.waiting_since == START
    with pytest.raises(Forbidden, match="doctor queue"):
        domain.decide_take(state, NURSE, START, event_id=uuid4())
    assert domain.decide_take(state, DOCTOR, START, event_id=uuid4())


def test_refusals_carry_a_reason() -> None:
    state = waiting()
    with pytest.raises(NotFound):
        domain.decide_take(state, GOTLAND_NURSE, START, event_id=uuid4())
    with pytest.raises(Forbidden, match="your skills are doctor"):
        domain.decide_take(state, DOCTOR, START, event_id=uuid4())
    with pytest.raises(Conflict, match="has not been taken"):
        domain.decide_requeue(state, NURSE, "x", START, event_id=uuid4())
    with pytest.raises(Invalid, match="already waits in that queue"):
        domain.decide_transfer(state, NURSE, UPPSALA_NURSES, "x", START, event_id=uuid4())
    with pytest.raises(Invalid, match="give a reason"):
        domain.decide_transfer(
            state,
            NURSE,
            QueueRef(region="Gotland", skill=Skill.NURSE),
            " ",
            START,
            event_id=uuid4(),
        )
    taken = fold(state, domain.decide_take(state, NURSE, START, event_id=uuid4()))
    with pytest.raises(Conflict, match="already taken"):
        domain.decide_take(taken, OTHER_NURSE, START, event_id=uuid4())
    with pytest.raises(Conflict, match="end it in the chat"):
        domain.decide_withdraw(taken, PATIENT, START, event_id=uuid4())
    with pytest.raises(Forbidden, match="serves no queue"):
        domain.choose_skills(staff("Uppsala", frozenset()), None)
    with pytest.raises(Forbidden, match="do not serve the doctor queue"):
        domain.choose_skills(NURSE, [Skill.DOCTOR])
    with pytest.raises(Forbidden, match="you work in region 'Uppsala'"):
        domain.check_region(NURSE, "Gotland")


def test_no_answer_after_the_turn_lets_the_professional_requeue_or_close() -> None:
    state = waiting()
    turn_at = START + timedelta(minutes=10)
    state = fold(state, domain.decide_take(state, NURSE, turn_at, event_id=uuid4()))
    within = timedelta(minutes=5)
    with pytest.raises(Conflict, match="still has 120 s to answer"):
        domain.decide_close_unanswered(
            state, NURSE, turn_at + timedelta(minutes=3), within, event_id=uuid4()
        )
    with pytest.raises(Conflict):
        domain.decide_requeue(
            state,
            NURSE,
            "no answer",
            turn_at,
            no_answer=True,
            answer_within=within,
            event_id=uuid4(),
        )
    later = turn_at + within
    [back] = domain.decide_requeue(state, NURSE, "no answer", later, True, within, event_id=uuid4())
    assert isinstance(back, CaseRequeued) and back.no_answer
    with pytest.raises(Forbidden):
        domain.decide_close_unanswered(state, OTHER_NURSE, later, within, event_id=uuid4())
    [closed] = domain.decide_close_unanswered(state, NURSE, later, within, event_id=uuid4())
    assert isinstance(closed, CaseWithdrawn) and closed.reason is WithdrawalReason.NO_ANSWER
    assert fold(state, [closed]).status is domain.Status.WITHDRAWN


def test_withdrawal_closes_the_case_and_later_triage_cannot_requeue_it() -> None:
    state = waiting()
    [gone] = domain.decide_withdraw(state, PATIENT, START + timedelta(seconds=90), event_id=uuid4())
    assert isinstance(gone, CaseWithdrawn)
    assert gone.reason is WithdrawalReason.PATIENT_WITHDREW and gone.waited_seconds == 90
    state = fold(state, [gone])
    with pytest.raises(Conflict, match="already withdrawn"):
        domain.decide_withdraw(state, PATIENT, START, event_id=uuid4())
    again = triage_event(0, START, Urgency.ORANGE, UPPSALA_NURSES, 2)
    assert domain.decide_place(state, again, START) == []


def test_a_retriage_to_call_112_takes_the_case_out_of_the_queue() -> None:
    state = waiting()
    [out] = domain.decide_place(state, triage_event(0, START, Urgency.RED, None, 2), START)
    assert isinstance(out, CaseWithdrawn) and out.reason is WithdrawalReason.NOT_FOR_QUEUE
    assert domain.project_waiting({case_uuid(0): object()}, out) == {}  # type: ignore[dict-item]


def test_skills_come_from_the_title() -> None:
    assert domain.skills_for_title("Nurse") == {Skill.NURSE}
    assert domain.skills_for_title("läkare") == {Skill.DOCTOR}
    assert domain.skills_for_title("administrator") == {Skill.ADMINISTRATIVE}
    assert domain.skills_for_title("psychologist") == {Skill.PSYCHOLOGIST}
    assert domain.skills_for_title("juggler") == frozenset()
    assert domain.skills_for_title(None) == frozenset()


# --- estimated wait -------------------------------------------------------------------------


def test_estimated_wait_follows_recent_throughput_and_opening() -> None:
    hour = timedelta(hours=1)
    assert domain.estimate_wait(1, 0, hour, timedelta(0)) is None
    # 12 turns an hour: one every 300 s; third in line waits two turns and half of one.
    assert domain.estimate_wait(3, 12, hour, timedelta(0)) == 750
    assert domain.estimate_wait(1, 12, hour, timedelta(minutes=30)) == 1800 + 150


# --- regions --------------------------------------------------------------------------------

REGIONS = adapters.load_regions()


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=REGIONS.default.zone)


def test_the_shipped_configuration_names_the_twelve_regions() -> None:
    for name in ("Dalarna", "Skåne", "Uppsala", "Västmanland", "Örebro län"):
        assert REGIONS.knows(name) and REGIONS.knows(name.upper())
    assert not REGIONS.knows("Atlantis")
    assert REGIONS.calendar("Atlantis").weekly == REGIONS.default.weekly


def test_opening_hours_weekdays_holidays_and_exceptions() -> None:
    uppsala = REGIONS.calendar("Uppsala")
    wednesday = date(2026, 11, 25)
    assert uppsala.is_open(local(wednesday, 9))
    assert not uppsala.is_open(local(wednesday, 21))
    assert uppsala.opens_at(local(wednesday, 21)) == local(wednesday + timedelta(days=1), 8)
    # Christmas Eve (a Thursday) is closed; the 23rd closes early; Boxing day is a Saturday
    # holiday, the 27th a Sunday: next opening is Monday the 28th.
    assert uppsala.hours_on(date(2026, 12, 24)) is None
    assert uppsala.is_open(local(date(2026, 12, 23), 14))
    assert not uppsala.is_open(local(date(2026, 12, 23), 16))
    assert uppsala.opens_at(local(date(2026, 12, 23), 16)) == local(date(2026, 12, 28), 8)
    # Västmanland answers every day, holidays included.
    assert REGIONS.calendar("Västmanland").is_open(local(date(2026, 12, 24), 12))
    # The time zone is Stockholm's: 07:30 UTC in winter is 08:30 local.
    assert uppsala.is_open(datetime(2026, 11, 25, 7, 30, tzinfo=UTC))
    assert not uppsala.is_open(datetime(2026, 11, 25, 6, 30, tzinfo=UTC))


def test_bad_configuration_is_refused_with_a_reason() -> None:
    with pytest.raises(Invalid, match="unknown weekday"):
        domain.regions_from_config({"default": {"hours": {"someday": "08:00-17:00"}}})
    with pytest.raises(Invalid, match="close before they open"):
        domain.regions_from_config({"default": {"hours": {"mon": "17:00-08:00"}}})
    with pytest.raises(Invalid, match="unknown time zone"):
        domain.regions_from_config({"default": {"timezone": "Mars/Olympus"}})
    with pytest.raises(Invalid, match="not a date"):
        domain.regions_from_config({"regions": {"X": {"closed": {"soon": "party"}}}})


def test_the_care_guarantee_flags_cases_near_their_limits() -> None:
    uppsala = REGIONS.calendar("Uppsala")
    wednesday = date(2026, 11, 25)
    warn = timedelta(hours=1)
    morning = domain.guarantee(uppsala, local(wednesday, 9), local(wednesday, 10), warn)
    assert morning.contact_due == local(wednesday, 20) and not morning.near
    assert morning.assessment_due == local(wednesday, 9) + timedelta(days=3)
    evening = domain.guarantee(uppsala, local(wednesday, 9), local(wednesday, 19, 30), warn)
    assert evening.near and not evening.overdue
    late = domain.guarantee(uppsala, local(wednesday, 9), local(wednesday, 20, 1), warn)
    assert late.overdue
    # Arriving after closing: due by the close of the next opening day.
    night = domain.guarantee(uppsala, local(wednesday, 22), local(wednesday, 22), warn)
    assert night.contact_due == local(wednesday + timedelta(days=1), 20)
