"""Chat's pure rules and attachment checks: no I/O besides a temporary folder."""

from __future__ import annotations

import ast
import asyncio
import base64
import hashlib
import hmac
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from chat_support import photo_with_exif
from PIL import Image
from pydantic import TypeAdapter

from careflow.chat import attachments, blobs, domain
from careflow.chat.settings import ChatSettings, ice_servers
from careflow.contracts import (
    CaseClosed,
    Event,
    MessageSent,
    Outcome,
    Professional,
    SenderRole,
    VideoContactEnded,
    VideoContactStarted,
)
from careflow.contracts.chat_events import BookedAppointment, ConsultantInvited, ContactRated
from careflow.kit.domain import Conflict, Forbidden, Invalid

pytestmark = [pytest.mark.chat, pytest.mark.unit]

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NURSE = Professional(staff_id="SE-1", name="Nina", title="nurse", care_unit="1177 direkt")
DOCTOR = Professional(staff_id="SE-2", name="Erik", title="doctor", care_unit="1177 direkt")
STAFF = domain.Sender("SE-1", is_staff=True)
PATIENT = domain.Sender("p-1")
GUARDIAN = domain.Sender("g-1", acting_for="p-1")


def who() -> domain.Participants:
    case = uuid.uuid4()
    return domain.Participants(case, case, "p-1", "g-1", NURSE)


def apply(state: domain.Conversation, events: list) -> domain.Conversation:  # type: ignore[type-arg]
    for e in events:
        state = domain.evolve(state, e)
    return state


def test_an_invited_consultant_writes_as_themself_and_only_the_professional_invites() -> None:
    w, s = who(), domain.Conversation()
    with pytest.raises(Forbidden):
        domain.decide_send(s, w, domain.Sender("SE-2", is_staff=True), "hej", NOW)
    with pytest.raises(Forbidden):
        domain.decide_invite(s, w, PATIENT, DOCTOR, "second opinion", NOW)
    with pytest.raises(Invalid):
        domain.decide_invite(s, w, STAFF, DOCTOR, "  ", NOW)
    [invited] = domain.decide_invite(s, w, STAFF, DOCTOR, "Bedöm utslaget", NOW)
    assert isinstance(invited, ConsultantInvited) and invited.reason == "Bedöm utslaget"
    s = apply(s, [invited])
    with pytest.raises(Conflict):
        domain.decide_invite(s, w, STAFF, DOCTOR, "again", NOW)
    [msg] = domain.decide_send(s, w, domain.Sender("SE-2", is_staff=True), "Läkaren här", NOW)
    assert isinstance(msg, MessageSent) and msg.professional == DOCTOR
    # A consultant may neither close nor take part in the video.
    with pytest.raises(Forbidden):
        domain.decide_close(
            s, w, domain.Sender("SE-2", is_staff=True), Outcome.REFERRAL, None, "n", NOW
        )
    assert domain.video_side(domain.Sender("SE-2", is_staff=True), w) is None
    assert domain.video_side(GUARDIAN, w) == "patient" and domain.video_side(STAFF, w) == "staff"


def test_video_has_one_contact_at_a_time_and_closing_ends_it_with_its_duration() -> None:
    w, s = who(), domain.Conversation()
    with pytest.raises(Conflict):
        domain.decide_end_video(s, w, STAFF, NOW)
    with pytest.raises(Forbidden):
        domain.decide_start_video(s, w, domain.Sender("p-9"), NOW, uuid.uuid4())
    contact = uuid.uuid4()
    [started] = domain.decide_start_video(s, w, GUARDIAN, NOW, contact)
    assert isinstance(started, VideoContactStarted)
    assert started.participant_ids == ("p-1", "g-1", "SE-1")
    assert started.video_contact_id == contact
    s = apply(s, [started])
    with pytest.raises(Conflict):
        domain.decide_start_video(s, w, STAFF, NOW, uuid.uuid4())
    ended, closed = domain.decide_close(
        s, w, STAFF, Outcome.SELF_CARE_ADVICE, "Vila", "note", NOW + timedelta(minutes=7)
    )
    assert isinstance(ended, VideoContactEnded) and ended.duration_seconds == 420.0
    assert ended.video_contact_id == started.video_contact_id
    assert isinstance(closed, CaseClosed) and closed.causation_id == ended.event_id
    s = apply(s, [ended, closed])
    assert s.video_contact_id is None and s.closed


@pytest.mark.parametrize(
    ("outcome", "details", "reason"),
    [
        (Outcome.BOOKED_APPOINTMENT, domain.ClosingDetails(), "care unit and time"),
        (
            Outcome.BOOKED_APPOINTMENT,
            domain.ClosingDetails(
                appointment=BookedAppointment(care_unit="VC", starts_at=NOW - timedelta(hours=1))
            ),
            "future",
        ),
        (Outcome.REFERRAL, domain.ClosingDetails(referral_to=" "), "receiving unit"),
        (Outcome.PRESCRIPTION_RENEWAL, domain.ClosingDetails(), "what was renewed"),
        (
            Outcome.REFERRAL,
            domain.ClosingDetails(
                referral_to="Hud",
                appointment=BookedAppointment(care_unit="VC", starts_at=NOW + timedelta(days=1)),
            ),
            "only to the booked",
        ),
    ],
)
def test_each_outcome_needs_its_own_data(
    outcome: Outcome, details: domain.ClosingDetails, reason: str
) -> None:
    with pytest.raises(Invalid, match=reason):
        domain.decide_close(domain.Conversation(), who(), STAFF, outcome, None, "n", NOW, details)


def test_outcome_data_travels_in_case_closed() -> None:
    at = NOW + timedelta(days=3)
    [closed] = domain.decide_close(
        domain.Conversation(),
        who(),
        STAFF,
        Outcome.BOOKED_APPOINTMENT,
        None,
        "Bokad tid.",
        NOW,
        domain.ClosingDetails(
            appointment=BookedAppointment(care_unit="VC Gottsunda", starts_at=at)
        ),
    )
    assert isinstance(closed, CaseClosed)
    assert closed.appointment == BookedAppointment(care_unit="VC Gottsunda", starts_at=at)
    [renewed] = domain.decide_close(
        domain.Conversation(),
        who(),
        STAFF,
        Outcome.PRESCRIPTION_RENEWAL,
        None,
        "Förnyat.",
        NOW,
        domain.ClosingDetails(renewed_prescription="Levaxin 50 mikrog"),
    )
    assert isinstance(renewed, CaseClosed) and renewed.renewed_prescription == "Levaxin 50 mikrog"


def test_rating_comes_after_closing_from_the_patient_once() -> None:
    w, s = who(), domain.Conversation()
    with pytest.raises(Conflict):
        domain.decide_rate(s, w, PATIENT, 5, None, NOW)
    s = apply(
        s,
        domain.decide_close(
            s, w, STAFF, Outcome.REFERRAL, None, "n", NOW, domain.ClosingDetails(referral_to="Hud")
        ),
    )
    with pytest.raises(Forbidden):
        domain.decide_rate(s, w, STAFF, 5, None, NOW)
    with pytest.raises(Invalid):
        domain.decide_rate(s, w, PATIENT, 0, None, NOW)
    [rated] = domain.decide_rate(s, w, GUARDIAN, 4, "  Bra  ", NOW)
    assert isinstance(rated, ContactRated) and (rated.rating, rated.comment) == (4, "Bra")
    with pytest.raises(Conflict):
        domain.decide_rate(apply(s, [rated]), w, PATIENT, 5, None, NOW)


def test_messages_need_text_or_attachments_and_carry_the_refs() -> None:
    w, s = who(), domain.Conversation()
    with pytest.raises(Invalid):
        domain.decide_send(s, w, PATIENT, "  ", NOW)
    photo = domain.Attachment("a" * 64, "image/jpeg", 1234)
    [msg] = domain.decide_send(s, w, PATIENT, "", NOW, (photo,))
    assert isinstance(msg, MessageSent)
    assert [(a.sha256, a.media_type, a.size_bytes) for a in msg.attachments] == [
        ("a" * 64, "image/jpeg", 1234)
    ]
    with pytest.raises(Invalid):
        domain.decide_send(s, w, PATIENT, "x", NOW, (photo,) * 6)


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"GIF89a", None),
        (b"MZ\x90\x00", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
    ],
)
def test_the_type_is_read_from_the_bytes(data: bytes, media_type: str | None) -> None:
    assert attachments.sniff(data) == media_type


def test_images_lose_exif_but_stay_upright_and_the_hash_addresses_the_clean_bytes() -> None:
    raw = photo_with_exif((40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° to display
    exif[0xA431] = "SERIAL-9"
    buffer = io.BytesIO()
    Image.open(io.BytesIO(raw)).save(buffer, "JPEG", exif=exif)
    cleaned = attachments.clean(buffer.getvalue(), 1_000_000)
    image = Image.open(io.BytesIO(cleaned.data))
    assert not image.getexif() and image.size == (20, 40)
    assert b"SERIAL-9" not in cleaned.data
    assert cleaned.sha256 == hashlib.sha256(cleaned.data).hexdigest()


def test_limits_and_broken_files_are_refused_with_their_status() -> None:
    with pytest.raises(attachments.TooLarge) as too_big:
        attachments.clean(photo_with_exif(), 100)
    assert too_big.value.status_code == 413
    with pytest.raises(attachments.UnsupportedType) as truncated:
        attachments.clean(photo_with_exif()[:200], 1_000_000)
    assert truncated.value.status_code == 415
    with pytest.raises(attachments.UnsupportedType):
        attachments.clean(b"%PDF-1.4\nno end", 1_000_000)
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, "PNG")  # small file, 64 Mpx decoded
    with pytest.raises(attachments.TooLarge, match="pixels"):
        attachments.clean(bomb.getvalue(), 10_000_000)


def test_local_disk_store_is_content_addressed(tmp_path: Path) -> None:
    store = blobs.LocalDiskStore(tmp_path)
    data = b"%PDF-1.7 ... %%EOF"
    sha = hashlib.sha256(data).hexdigest()
    asyncio.run(store.put(sha, data))
    asyncio.run(store.put(sha, data))  # storing twice is a no-op
    assert (tmp_path / sha[:2] / sha[2:4] / sha).read_bytes() == data
    assert asyncio.run(store.get(sha)) == data
    assert asyncio.run(store.get("0" * 64)) is None
    assert asyncio.run(store.get("../../etc/passwd")) is None


def test_turn_logins_follow_the_coturn_rest_scheme() -> None:
    settings = ChatSettings(
        stun_urls=["stun:s:3478"],
        turn_urls=["turn:t:3478"],
        turn_secret="s3cret",
        turn_ttl_seconds=60,
    )
    stun, turn = ice_servers(settings, "sub-1", 1_000.0)
    assert stun == {"urls": ["stun:s:3478"]}
    assert turn["username"] == "1060:sub-1"
    expected = hmac.new(b"s3cret", b"1060:sub-1", hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert ice_servers(ChatSettings(turn_urls=["turn:t:3478"]), "sub-1", 0.0) == []


def test_reading_and_signalling_rules() -> None:
    w, s = who(), domain.Conversation()
    with pytest.raises(Invalid, match="negative"):
        domain.check_reading(-1)
    with pytest.raises(Invalid, match="no message 1 yet"):
        domain.check_reading(1, s)
    s = apply(s, domain.decide_send(s, w, PATIENT, "hej", NOW))
    domain.check_reading(1, s)
    with pytest.raises(Invalid, match="offer, answer or ice"):
        domain.check_signal_kind("bye")
    with pytest.raises(Invalid, match="start the video"):
        domain.signal_route(s, w, PATIENT)
    contact = uuid.uuid4()
    s = apply(s, domain.decide_start_video(s, w, STAFF, NOW, contact))
    assert domain.signal_route(s, w, GUARDIAN) == (contact, "staff")
    assert domain.signal_route(s, w, STAFF) == (contact, "patient")
    with pytest.raises(Invalid, match="only the patient and the professional"):
        domain.signal_route(s, w, domain.Sender("SE-2", is_staff=True))


def test_nobody_writes_in_a_closed_case() -> None:
    w, s = who(), domain.Conversation()
    assert domain.writer_role(PATIENT, w, s) is SenderRole.PATIENT
    s = apply(
        s,
        domain.decide_close(
            s, w, STAFF, Outcome.REFERRAL, None, "n", NOW, domain.ClosingDetails(referral_to="Hud")
        ),
    )
    for sender in (PATIENT, GUARDIAN, STAFF):
        with pytest.raises(Conflict, match="closed"):
            domain.writer_role(sender, w, s)
    with pytest.raises(Conflict, match="closed"):
        domain.decide_send(s, w, STAFF, "one more thing", NOW)


@pytest.mark.architecture
def test_the_same_decision_from_the_same_state_gives_the_same_events() -> None:
    """Ids come from natural keys or the caller (its Clock), never drawn inside the domain."""
    w = who()
    contact = uuid.uuid4()

    def story() -> list[Event]:
        s, events = domain.Conversation(), []
        for decide in (
            lambda s: domain.decide_send(s, w, PATIENT, "hej", NOW),
            lambda s: domain.decide_invite(s, w, STAFF, DOCTOR, "bedöm", NOW),
            lambda s: domain.decide_start_video(s, w, STAFF, NOW, contact),
            lambda s: domain.decide_send(s, w, STAFF, "ser du mig?", NOW),
            lambda s: domain.decide_close(
                s,
                w,
                STAFF,
                Outcome.REFERRAL,
                None,
                "n",
                NOW,
                domain.ClosingDetails(referral_to="Hud"),
            ),
        ):
            new = decide(s)
            events += new
            s = apply(s, new)
        return events

    first, second = story(), story()
    assert first == second
    assert len({e.event_id for e in first}) == len(first)
    messages = [e for e in first if isinstance(e, MessageSent)]
    assert len({m.message_id for m in messages}) == 2


@pytest.mark.architecture
def test_the_conversation_state_round_trips_through_its_stored_json() -> None:
    """The state kept in ``aggregate_states`` reads back equal to what was stored."""
    w, s = who(), domain.Conversation()
    for decide in (
        lambda s: domain.decide_send(s, w, PATIENT, "hej", NOW),
        lambda s: domain.decide_invite(s, w, STAFF, DOCTOR, "bedöm", NOW),
        lambda s: domain.decide_start_video(s, w, STAFF, NOW, uuid.uuid4()),
    ):
        s = apply(s, decide(s))
    closed = apply(
        s,
        domain.decide_close(
            s, w, STAFF, Outcome.REFERRAL, None, "n", NOW, domain.ClosingDetails(referral_to="Hud")
        ),
    )
    rated = apply(closed, domain.decide_rate(closed, w, PATIENT, 5, None, NOW))
    store = TypeAdapter(domain.Conversation)
    for state in (domain.Conversation(), s, closed, rated):
        assert store.validate_python(json.loads(store.dump_json(state))) == state


@pytest.mark.architecture
def test_the_domain_neither_reads_the_clock_nor_draws_ids() -> None:
    """Time and fresh ids reach the rules as arguments, from the runtime's Clock."""
    tree = ast.parse(Path(domain.__file__).read_text())
    called = {
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
    }
    forbidden = {"uuid4", "uuid.uuid4", "datetime.now", "datetime.utcnow", "date.today"}
    forbidden |= {"time.time", "time.monotonic"}
    assert not called & forbidden
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert "uuid4" not in imported


def staging_settings() -> dict[str, Any]:
    """Settings chat accepts in staging (no development secrets)."""
    return {
        "environment": "staging",
        "token_secret": "s" * 40,
        "database_url": "postgresql+asyncpg://careflow_chat:a-real-secret@db:5432/careflow"
        "?ssl=verify-full",
    }


@pytest.mark.ops
def test_the_local_disk_store_is_refused_outside_dev_and_test() -> None:
    """A folder is neither shared by replicas nor kept across a pod's restart."""
    with pytest.raises(ValueError, match="one machine"):
        ChatSettings(**{**staging_settings(), "attachments_store": "local"})
    assert ChatSettings(environment="test", attachments_store="local").attachments_store == "local"
    assert ChatSettings().attachments_store == "postgres"
    assert ChatSettings(**staging_settings()).attachments_store == "postgres"


@pytest.mark.journey
def test_every_guardian_acting_for_the_child_takes_part_not_only_the_opener() -> None:
    """Identity grants acting for a child only to the register's guardians: the other one is
    on the patient side too; with their own token, or acting for another child, they are not."""
    w = who()
    other = domain.Sender("g-2", acting_for="p-1")
    assert domain.role_of(other, w) is SenderRole.GUARDIAN
    assert domain.video_side(other, w) == "patient"
    for stranger in (domain.Sender("g-2"), domain.Sender("g-2", acting_for="p-9")):
        with pytest.raises(Forbidden):
            domain.role_of(stranger, w)
