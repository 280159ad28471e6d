"""The care journey's rules (issue 18), pure: unreached patients, signing, the closing note,
the care guarantee's assessment limit, complaints. No I/O; plain data in and out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from careflow.chat import domain as chat
from careflow.contracts import CaseClosed, Outcome, Professional
from careflow.contracts.chat_events import BookedAppointment, ComplaintFiled
from careflow.contracts.journal_events import JournalNoteSigned
from careflow.contracts.notify_events import NotificationFailed
from careflow.journal import domain as journal
from careflow.journal.samples import NURSE, case_events
from careflow.kit.domain import Conflict, Forbidden, Invalid, NotFound
from careflow.notify import domain as notify
from careflow.queue import domain as queue

pytestmark = [pytest.mark.journey, pytest.mark.unit]

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


# --- every patient reached ------------------------------------------------------------------


def in_app(seen: datetime | None = None, at: datetime = NOW) -> notify.InAppTurn:
    return notify.InAppTurn(
        notification_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        correlation_id=uuid.uuid4(),
        cause_event_id=uuid.uuid4(),
        recipient_id="sub-1",
        notified_at=at,
        seen_at=seen,
    )


def test_your_turn_unseen_and_unsent_in_time_puts_the_patient_on_the_list() -> None:
    wait = timedelta(minutes=5)
    turn = in_app()
    assert notify.reach_verdict(turn, [], NOW + timedelta(minutes=4), wait) == "wait"
    assert notify.decide_unreached(turn, [], NOW + timedelta(minutes=4), wait) == []
    [failed] = notify.decide_unreached(turn, [], NOW + wait, wait)
    assert isinstance(failed, NotificationFailed)
    assert (failed.channel, failed.reason, failed.kind) == ("in_app", "no_channel", "your_turn")
    assert failed.event_id == notify.unreached_id(turn.notification_id)  # decided once
    # Outside channels tried and all failed: not seen.
    [tried] = notify.decide_unreached(turn, ["failed", "failed"], NOW + wait, wait)
    assert isinstance(tried, NotificationFailed) and tried.reason == "not_seen"
    assert tried.attempts == 2


def test_a_patient_reached_in_the_app_or_outside_is_not_on_the_list() -> None:
    wait = timedelta(minutes=5)
    late = NOW + timedelta(hours=1)
    assert notify.reach_verdict(in_app(seen=NOW), [], late, wait) == "seen"
    assert notify.reach_verdict(in_app(), ["failed", "sent"], late, wait) == "reached"
    assert notify.reach_verdict(in_app(), ["pending"], late, wait) == "wait"  # still trying
    assert notify.decide_unreached(in_app(seen=NOW), [], late, wait) == []


# --- the closing note and signing -----------------------------------------------------------


def closed(**details: object) -> CaseClosed:
    base = case_events(messages=1, video=False)[-1]
    assert isinstance(base, CaseClosed)
    return base.model_copy(update=details)


def test_the_closing_note_holds_the_outcomes_data() -> None:
    visit = BookedAppointment(
        care_unit="Vårdcentralen Teleborg",
        starts_at=datetime(2030, 1, 15, 9, 30, tzinfo=UTC),
    )
    note = journal.draft_for(closed(outcome=Outcome.BOOKED_APPOINTMENT, appointment=visit))
    assert note is not None and note.kind == "documentation_note"
    assert note.content["appointment"] == {
        "care_unit": "Vårdcentralen Teleborg",
        "starts_at": "2030-01-15T09:30:00+00:00",
    }
    for outcome, field, value in (
        (Outcome.REFERRAL, "referral_to", "Ortopeden, Växjö lasarett"),
        (Outcome.PRESCRIPTION_RENEWAL, "renewed_prescription", "Levaxin 50 mikrogram"),
        (Outcome.REDIRECTED_TO_EMERGENCY, "emergency_unit", "Akuten, Centrallasarettet"),
    ):
        drafted = journal.draft_for(closed(outcome=outcome, **{field: value}))
        assert drafted is not None and drafted.content[field] == value
    # A note with no such data reads as notes always did.
    plain = journal.draft_for(closed())
    assert plain is not None
    assert set(plain.content) == {"outcome", "advice", "note", "signed_by"}


def stored_note() -> journal.StoredEntry:
    events = case_events(messages=1, video=False)
    drafts = [(d, "191212121212") for e in events if (d := journal.draft_for(e))]
    rows = journal.chain([(d, p) for d, p in drafts if d.lane == "chat"], 0, journal.GENESIS)
    return next(r for r in rows if r.draft.kind == "documentation_note")


def test_only_the_notes_author_signs_it_and_only_once() -> None:
    note = stored_note()
    author = note.draft.author_id
    unsigned = journal.NoteSignature()
    with pytest.raises(NotFound):
        journal.decide_signature(unsigned, None, NURSE, author, NOW)
    other = Professional(staff_id="other", name="Olle Berg", title="doctor", care_unit="VC")
    with pytest.raises(Forbidden, match="responsible professional"):
        journal.decide_signature(unsigned, note, other, "other", NOW)
    [signed] = journal.decide_signature(unsigned, note, NURSE, author, NOW)
    assert isinstance(signed, JournalNoteSigned)
    assert signed.signs_entry_hash == note.entry_hash and signed.occurred_at == NOW
    assert signed.event_id == journal.signature_id(note.draft.source_event_id)
    after = journal.evolve_signature(unsigned, signed)
    with pytest.raises(Conflict, match="already signed"):
        journal.decide_signature(after, note, NURSE, author, NOW)
    entry = journal.draft_for(signed)
    assert entry is not None and entry.kind == "signature"
    assert entry.professional_name == NURSE.name and entry.professional_title == NURSE.title
    message = stored_note()
    with pytest.raises(Invalid):
        journal.decide_signature(
            unsigned,
            journal.StoredEntry(1, _as_kind(message.draft, "message"), None, "0" * 64, "1" * 64),
            NURSE,
            author,
            NOW,
        )
    assert journal.is_overdue(NOW, NOW + timedelta(hours=24), timedelta(hours=24))
    assert not journal.is_overdue(NOW, NOW + timedelta(hours=23), timedelta(hours=24))


def _as_kind(draft: journal.EntryDraft, kind: str) -> journal.EntryDraft:
    from dataclasses import replace

    return replace(draft, kind=kind)


# --- the care guarantee across the whole case -----------------------------------------------


def test_the_assessment_limit_runs_from_first_contact_to_the_assessment() -> None:
    warn = timedelta(hours=12)
    waiting = queue.assessment_status(NOW, None, False, NOW + timedelta(hours=1), warn)
    assert waiting.assessment_due == NOW + timedelta(days=3)
    assert not waiting.near and not waiting.overdue and not waiting.met
    close = queue.assessment_status(NOW, None, False, NOW + timedelta(days=2, hours=13), warn)
    assert close.near and not close.overdue
    late = queue.assessment_status(NOW, None, False, NOW + timedelta(days=3), warn)
    assert late.overdue
    # A visit booked five days out breaks the guarantee even though the chat was quick.
    booked = queue.assessment_status(NOW, NOW + timedelta(days=5), True, NOW, warn)
    assert booked.booking_beyond_limit and booked.overdue and not booked.met
    in_time = queue.assessment_status(NOW, NOW + timedelta(days=2), True, NOW, warn)
    assert in_time.met and not in_time.booking_beyond_limit


# --- complaints -----------------------------------------------------------------------------


def test_a_complaint_is_the_patients_own_event_about_the_contact() -> None:
    who = chat.Participants(uuid.uuid4(), uuid.uuid4(), "p-1", None, NURSE)
    state = chat.Conversation()
    patient = chat.Sender(subject_id="p-1", acting_for=None, is_staff=False, is_auditor=False)
    complaint_id = uuid.uuid4()
    [filed] = chat.decide_complaint(
        state, who, patient, "Värmland", "waiting", "  Lång väntan.  ", complaint_id, NOW
    )
    assert isinstance(filed, ComplaintFiled)
    assert (filed.region, filed.category, filed.text) == ("Värmland", "waiting", "Lång väntan.")
    assert filed.professional == NURSE and filed.complaint_id == complaint_id
    staff = chat.Sender(subject_id=NURSE.staff_id, acting_for=None, is_staff=True, is_auditor=False)
    with pytest.raises(Forbidden):
        chat.decide_complaint(state, who, staff, "Värmland", "other", "x", complaint_id, NOW)
    with pytest.raises(Invalid):
        chat.decide_complaint(state, who, patient, "Värmland", "other", "  ", complaint_id, NOW)
