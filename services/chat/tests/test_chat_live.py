"""Chat against real Kafka and PostgreSQL: two chat replicas, real WebSocket clients."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from chat_support import (
    ChatProcess,
    connect_live,
    files_under,
    live,
    live_url,
    open_contact,
    patient_token,
    photo_with_exif,
    professional,
    quiet,
    staff_token,
    stored_blobs,
    until,
)
from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import MAX_ATTACHMENT_BYTES

pytestmark = [pytest.mark.chat, pytest.mark.integration]

Replicas = tuple[ChatProcess, ChatProcess]


def key() -> str:
    return f"k-{uuid.uuid4()}"


async def test_live_delivery_crosses_replicas_and_a_reconnect_resumes_without_gap(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    # The nurse is on replica A, the patient on replica B.
    nurse = await live(a.ws, c.case_id, c.staff)
    patient = await live(b.ws, c.case_id, c.patient)
    assert patient.hello["role"] == "patient" and nurse.hello["role"] == "staff"

    await nurse.send(
        json.dumps({"type": "send", "text": "Hej, hur mår du?", "idempotency_key": "n-000001"})
    )
    acked = await until(nurse, lambda f: f["type"] == "ack")
    assert acked[-1]["sequence"] == 1
    got = await until(patient, lambda f: f["type"] == "message")
    assert (got[-1]["sequence"], got[-1]["text"], got[-1]["sender_role"]) == (
        1,
        "Hej, hur mår du?",
        "staff",
    )

    # A retried send (same key) is not a second message.
    await nurse.send(
        json.dumps({"type": "send", "text": "Hej, hur mår du?", "idempotency_key": "n-000001"})
    )
    assert (await until(nurse, lambda f: f["type"] == "ack"))[-1]["sequence"] == 1

    await patient.close()
    async with httpx.AsyncClient(base_url=a.url) as http:
        for i in range(3):  # sent while the patient is away
            r = await http.post(
                f"/chat/cases/{c.case_id}/messages",
                headers=c.auth(c.staff, key()),
                json={"text": f"meddelande {i}"},
            )
            assert r.status_code == 201
    patient = await live(b.ws, c.case_id, c.patient, after=1)
    missed = await until(patient, lambda f: f.get("sequence") == 4)
    assert [f["sequence"] for f in missed if f["type"] == "message"] == [2, 3, 4]
    await nurse.send(json.dumps({"type": "send", "text": "en till", "idempotency_key": "n-000002"}))
    nxt = await until(patient, lambda f: f["type"] == "message")
    assert [f["sequence"] for f in nxt if f["type"] == "message"] == [5]
    await nurse.close()
    await patient.close()


async def test_read_receipts_are_stored_and_reach_the_other_side(replicas: Replicas, infra) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    async with httpx.AsyncClient(base_url=a.url) as http:
        await http.post(
            f"/chat/cases/{c.case_id}/messages",
            headers=c.auth(c.staff, key()),
            json={"text": "Hej"},
        )
        nurse = await live(a.ws, c.case_id, c.staff)
        patient = await live(b.ws, c.case_id, c.patient)
        await until(patient, lambda f: f["type"] == "message")
        await patient.send(json.dumps({"type": "read", "up_to": 1}))
        receipt = (await until(nurse, lambda f: f["type"] == "receipt"))[-1]
        assert (receipt["reader_role"], receipt["up_to"]) == ("patient", 1)
        # Receipts never move back, and cannot run ahead of the conversation.
        await patient.send(json.dumps({"type": "read", "up_to": 0}))
        ahead = await http.post(
            f"/chat/cases/{c.case_id}/read", headers=c.auth(c.patient), json={"up_to": 9}
        )
        assert ahead.status_code == 422
        stored = (
            await http.get(f"/chat/cases/{c.case_id}/receipts", headers=c.auth(c.staff))
        ).json()
        assert [(r["reader_role"], r["up_to_sequence"]) for r in stored] == [("patient", 1)]
        reconnect = await live(a.ws, c.case_id, c.staff)
        assert [r["up_to"] for r in reconnect.hello["receipts"]] == [1]
    for ws in (nurse, patient, reconnect):
        await ws.close()


async def test_video_signalling_goes_only_between_patient_and_professional(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    doctor = professional("doctor")
    async with httpx.AsyncClient(base_url=a.url) as http:
        invited = await http.post(
            f"/chat/cases/{c.case_id}/consultants",
            headers=c.auth(c.staff),
            json={"consultant": doctor.model_dump(), "reason": "Utslaget behöver läkarbedömning."},
        )
        assert invited.status_code == 201
        # The patient cannot invite anyone.
        refused = await http.post(
            f"/chat/cases/{c.case_id}/consultants",
            headers=c.auth(c.patient),
            json={"consultant": professional().model_dump(), "reason": "x"},
        )
        assert refused.status_code == 403
        ice = (await http.get("/chat/video/ice-servers", headers=c.auth(c.patient))).json()
    # STUN for anyone; TURN logins only in a running video (below).
    assert ice == [{"urls": ["stun:stun.careflow.test:3478"]}]

    nurse = await live(a.ws, c.case_id, c.staff)
    patient = await live(b.ws, c.case_id, c.patient)
    consultant = await live(b.ws, c.case_id, staff_token(doctor))
    assert consultant.hello["video_participant"] is False and patient.hello["video_participant"]
    assert patient.hello["ice_servers"][0]["urls"] == ["stun:stun.careflow.test:3478"]

    # Signalling before the video started is refused.
    await patient.send(json.dumps({"type": "signal", "kind": "offer", "data": {"sdp": "v=0"}}))
    assert (await until(patient, lambda f: f["type"] == "error"))[-1]["status"] == 422

    await patient.send(json.dumps({"type": "video_start"}))
    for ws in (nurse, patient, consultant):
        started = (await until(ws, lambda f: f["type"] == "video_started"))[-1]
        # The two in the call get TURN logins, the consultant does not.
        assert ("ice_servers" in started) is (ws is not consultant)
    video_id = started["video_contact_id"]
    async with httpx.AsyncClient(base_url=a.url) as http:
        url = f"/chat/cases/{c.case_id}/video/ice-servers"
        ice = (await http.get(url, headers=c.auth(c.patient))).json()
        assert ice[1]["username"].endswith(":" + c.patient_id) and ice[1]["credential"]
        assert len((await http.get(url, headers=c.auth(staff_token(doctor)))).json()) == 1

    offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
    await patient.send(json.dumps({"type": "signal", "kind": "offer", "data": offer}))
    got = (await until(nurse, lambda f: f["type"] == "signal"))[-1]
    assert (got["kind"], got["data"], got["video_contact_id"]) == ("offer", offer, video_id)
    answer = {"type": "answer", "sdp": "v=0\r\n"}
    await nurse.send(json.dumps({"type": "signal", "kind": "answer", "data": answer}))
    assert (await until(patient, lambda f: f["type"] == "signal"))[-1]["data"] == answer
    candidate = {
        "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host",
        "sdpMid": "0",
    }
    await nurse.send(json.dumps({"type": "signal", "kind": "ice", "data": candidate}))
    assert (await until(patient, lambda f: f["type"] == "signal"))[-1]["data"] == candidate

    # The consultant follows the chat but is neither sent signals nor may send them.
    assert not [f for f in await quiet(consultant, 1.0) if f["type"] == "signal"]
    await consultant.send(json.dumps({"type": "signal", "kind": "offer", "data": offer}))
    assert (await until(consultant, lambda f: f["type"] == "error"))[-1]["status"] == 422
    # ... and writes in the chat as themself.
    await consultant.send(
        json.dumps({"type": "send", "text": "Läkare här.", "idempotency_key": key()})
    )
    msg = (await until(patient, lambda f: f["type"] == "message"))[-1]
    assert msg["sender_role"] == "staff" and msg["text"] == "Läkare här."

    await nurse.send(json.dumps({"type": "video_end"}))
    ended = (await until(patient, lambda f: f["type"] == "video_ended"))[-1]
    assert ended["video_contact_id"] == video_id and ended["duration_seconds"] >= 0
    for ws in (nurse, patient, consultant):
        await ws.close()


async def test_live_socket_refuses_bad_tokens_and_strangers(replicas: Replicas, infra) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    for token, code in [
        ("not-a-token", 4401),
        (patient_token("sub_stranger"), 4404),  # another patient
        (staff_token(professional()), 4404),  # staff of the region, not in the conversation
    ]:
        ws = await connect_live(a.ws, c.case_id, token)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    # No auth frame at all: refused once the wait is over.
    ws = await connect(live_url(a.ws, c.case_id))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 20)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_attachments_are_checked_by_content_and_lose_their_metadata(
    replicas: Replicas, infra, attachments_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    photo = photo_with_exif()
    assert Image.open(io.BytesIO(photo)).getexif()  # the original does carry EXIF
    async with httpx.AsyncClient(base_url=a.url) as http:
        up = await http.post(
            f"/chat/cases/{c.case_id}/attachments",
            headers={**c.auth(c.patient), "Content-Type": "application/pdf"},  # the name lies
            content=photo,
        )
        assert up.status_code == 201, up.text
        ref = up.json()
        assert ref["media_type"] == "image/jpeg"
        sent = await http.post(
            f"/chat/cases/{c.case_id}/messages",
            headers=c.auth(c.patient, key()),
            json={"text": "", "attachments": [ref["sha256"]]},
        )
        assert sent.status_code == 201 and sent.json()["attachments"] == [ref]
        got = await http.get(
            f"/chat/cases/{c.case_id}/attachments/{ref['sha256']}", headers=c.auth(c.staff)
        )
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    clean = Image.open(io.BytesIO(got.content))
    assert clean.size == (64, 48) and not clean.getexif()
    assert b"SERIAL-123456" not in got.content and b"PhoneMaker" not in got.content
    # Stored once, cleaned, in the database every replica shares; nothing on local disk.
    assert (await stored_blobs(infra.database_url))[ref["sha256"]] == got.content
    assert files_under(attachments_dir) == []
    # Replica B serves it too (shared store), and a PDF passes as a PDF.
    pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    async with httpx.AsyncClient(base_url=b.url) as http:
        from_b = await http.get(
            f"/chat/cases/{c.case_id}/attachments/{ref['sha256']}", headers=c.auth(c.staff)
        )
        assert from_b.status_code == 200 and from_b.content == got.content
        up = await http.post(
            f"/chat/cases/{c.case_id}/attachments", headers=c.auth(c.staff), content=pdf
        )
        assert up.status_code == 201 and up.json()["media_type"] == "application/pdf"


async def test_bad_input_gets_a_clear_4xx_and_stores_nothing(replicas: Replicas, infra) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    other = await open_contact(infra.bootstrap_servers, a.url)
    blobs_before = await stored_blobs(infra.database_url)
    url = f"/chat/cases/{c.case_id}"
    async with httpx.AsyncClient(base_url=a.url) as http:

        async def history() -> list[dict[str, object]]:
            return (await http.get(f"{url}/messages", headers=c.auth(c.staff))).json()

        too_long = await http.post(
            f"{url}/messages", headers=c.auth(c.patient, key()), json={"text": "x" * 4001}
        )
        assert too_long.status_code == 422
        empty = await http.post(
            f"{url}/messages", headers=c.auth(c.patient, key()), json={"text": " "}
        )
        assert empty.status_code == 422 and "text or an attachment" in empty.json()["detail"]
        stranger = await http.post(
            f"{url}/messages",
            headers=c.auth(patient_token("sub_someone"), key()),
            json={"text": "hej"},
        )
        assert stranger.status_code == 404
        colleague = await http.post(
            f"{url}/messages", headers=c.auth(other.staff, key()), json={"text": "hej"}
        )
        assert colleague.status_code == 403 and "consultant" in colleague.json()["detail"]
        foreign = await http.post(  # an attachment uploaded to another case
            f"{url}/messages",
            headers=c.auth(c.patient, key()),
            json={"attachments": ["0" * 64]},
        )
        assert foreign.status_code == 422 and "attachment" in foreign.json()["detail"]
        assert await history() == []

        for body, code, reason in [
            (b"MZ\x90\x00 an executable named photo.jpg", 415, "only JPEG"),
            (b"\xff\xd8\xff\xe0 not really a jpeg", 415, "cannot be read"),
            (b"%PDF-1.4 but cut short", 415, "PDF"),
            (b"", 422, "empty"),
            (photo_with_exif((1500, 1500)) + b"\0" * MAX_ATTACHMENT_BYTES, 413, "at most"),
        ]:
            r = await http.post(
                f"{url}/attachments",
                headers={**c.auth(c.patient), "Content-Type": "image/jpeg"},
                content=body,
            )
            assert (r.status_code, reason in r.json()["detail"]) == (code, True), r.text
        stranger_upload = await http.post(
            f"{url}/attachments",
            headers=c.auth(patient_token("sub_someone")),
            content=photo_with_exif(),
        )
        assert stranger_upload.status_code == 404
        assert await stored_blobs(infra.database_url) == blobs_before

        early_rating = await http.post(
            f"{url}/rating", headers=c.auth(c.patient), json={"rating": 4}
        )
        assert early_rating.status_code == 409
        no_unit = await http.post(
            f"{url}/close",
            headers=c.auth(c.staff),
            json={"outcome": "referral", "documentation_note": "Remiss."},
        )
        assert no_unit.status_code == 422 and "receiving unit" in no_unit.json()["detail"]
        closed = await http.post(
            f"{url}/close",
            headers=c.auth(c.staff),
            json={
                "outcome": "referral",
                "referral_to": "Hudkliniken, Akademiska",
                "documentation_note": "Remiss.",
            },
        )
        assert (
            closed.status_code == 200 and closed.json()["referral_to"] == "Hudkliniken, Akademiska"
        )
        after = await http.post(
            f"{url}/messages", headers=c.auth(c.patient, key()), json={"text": "hallå?"}
        )
        assert after.status_code == 409 and "closed" in after.json()["detail"]
        upload_after = await http.post(
            f"{url}/attachments", headers=c.auth(c.patient), content=photo_with_exif()
        )
        assert upload_after.status_code == 409
        assert await history() == []
        assert await stored_blobs(infra.database_url) == blobs_before


async def test_patients_read_their_closed_cases_and_rate_them_once(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    own = await open_contact(infra.bootstrap_servers, a.url)
    child = await open_contact(infra.bootstrap_servers, a.url, guardian=True)
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    async with httpx.AsyncClient(base_url=a.url) as http:
        for c, body in [
            (
                own,
                {
                    "outcome": "booked_appointment",
                    "appointment": {"care_unit": "VC Gottsunda", "starts_at": starts.isoformat()},
                },
            ),
            (child, {"outcome": "self_care_advice", "advice": "Vila och drick."}),
        ]:
            await http.post(
                f"/chat/cases/{c.case_id}/messages",
                headers=c.auth(c.patient, key()),
                json={"text": "Hej"},
            )
            r = await http.post(
                f"/chat/cases/{c.case_id}/close",
                headers=c.auth(c.staff),
                json={**body, "documentation_note": "Bedömning gjord."},
            )
            assert r.status_code == 200, r.text

        mine = (await http.get("/chat/my/closed-cases", headers=own.auth(own.patient))).json()
        assert [m["case_id"] for m in mine] == [own.case_id]
        assert mine[0]["appointment"]["care_unit"] == "VC Gottsunda"
        assert datetime.fromisoformat(mine[0]["appointment"]["starts_at"]) == starts
        # The guardian, acting for the child, sees the child's case, its advice and conversation.
        theirs = (await http.get("/chat/my/closed-cases", headers=child.auth(child.patient))).json()
        assert [(t["case_id"], t["advice"]) for t in theirs] == [(child.case_id, "Vila och drick.")]
        convo = (
            await http.get(
                f"/chat/cases/{child.case_id}/messages", headers=child.auth(child.patient)
            )
        ).json()
        assert [m["sender_role"] for m in convo] == ["guardian"]
        # The guardian acting for themself does not see the child's case.
        alone = patient_token(child.guardian_id or "")
        assert (
            await http.get("/chat/my/closed-cases", headers={"Authorization": f"Bearer {alone}"})
        ).json() == []
        staff = await http.get("/chat/my/closed-cases", headers=own.auth(own.staff))
        assert staff.status_code == 403

        rated = await http.post(
            f"/chat/cases/{own.case_id}/rating",
            headers=own.auth(own.patient),
            json={"rating": 5, "comment": "Tack!"},
        )
        assert rated.status_code == 201 and (
            rated.json()["rating"],
            rated.json()["rating_comment"],
        ) == (5, "Tack!")
        again = await http.post(
            f"/chat/cases/{own.case_id}/rating", headers=own.auth(own.patient), json={"rating": 1}
        )
        assert again.status_code == 409
        by_staff = await http.post(
            f"/chat/cases/{own.case_id}/rating", headers=own.auth(own.staff), json={"rating": 1}
        )
        assert by_staff.status_code == 403
        out_of_range = await http.post(
            f"/chat/cases/{child.case_id}/rating",
            headers=child.auth(child.patient),
            json={"rating": 6},
        )
        assert out_of_range.status_code == 422
