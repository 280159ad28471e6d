"""Attacks on chat (issue 13), each through the real interface on real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import uuid
import zlib
from datetime import timedelta

import asyncpg
import httpx
import pytest
from chat_support import (
    REGION,
    ChatProcess,
    connect_live,
    live,
    live_url,
    open_contact,
    patient_token,
    professional,
    staff_token,
    until,
)
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from careflow.kit.auth import Principal, issue_token
from careflow.kit.settings import DEV_TOKEN_SECRET

pytestmark = [pytest.mark.chat, pytest.mark.integration, pytest.mark.security]

Replicas = tuple[ChatProcess, ChatProcess]


def auditor_token() -> str:
    return issue_token(
        DEV_TOKEN_SECRET,
        Principal(subject_id=f"audit-{uuid.uuid4().hex[:8]}", role="auditor", region=REGION),
    )


async def closed_with(ws: ClientConnection, limit: float = 10) -> int | None:
    """The close code the socket gets (every frame before it is read and dropped)."""
    try:
        async with asyncio.timeout(limit):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def access_log(database_url: str, case_id: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT reader_id, reader_role, care_unit, case_id, what, basis, purpose, at"
            " FROM chat.chat_access_log WHERE case_id = $1 ORDER BY id",
            uuid.UUID(case_id),
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_finding_3_staff_without_a_care_relation_and_auditors_cannot_read_the_chat(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    url = f"/chat/cases/{c.case_id}"
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        sent = await http.post(
            f"{url}/messages",
            headers=c.auth(c.patient, "k-sec3-0001"),
            json={"text": "Ont i bröstet"},
        )
        assert sent.status_code == 201
        up = await http.post(
            f"{url}/attachments", headers=c.auth(c.patient), content=b"%PDF-1.7\n%%EOF\n"
        )
        assert up.status_code == 201, up.text
        sha = up.json()["sha256"]
        reads = [f"{url}/messages", f"{url}/receipts", url, f"{url}/attachments/{sha}"]
        # A colleague of the same region with no care relation, and an auditor of the region:
        for token in (staff_token(professional()), auditor_token()):
            for path in reads:
                r = await http.get(path, headers=c.auth(token))
                assert r.status_code == 404, (path, r.status_code)
            assert await closed_with(await connect_live(a.ws, c.case_id, token)) == 4404
        assert await access_log(infra.database_url, c.case_id) == []

        # The professional reads, and each read is logged with who, unit, what, basis, purpose.
        for path in reads:
            assert (await http.get(path, headers=c.auth(c.staff))).status_code == 200
        nurse = await live(a.ws, c.case_id, c.staff)
        await nurse.close()
        # The patient's own reads are not logged.
        assert (await http.get(f"{url}/messages", headers=c.auth(c.patient))).status_code == 200
    logged = await access_log(infra.database_url, c.case_id)
    assert [e["what"] for e in logged] == ["messages", "receipts", "summary", "attachment", "live"]
    assert {(e["reader_id"], e["reader_role"], e["care_unit"], e["basis"]) for e in logged} == {
        (c.nurse.staff_id, "staff", c.nurse.care_unit, "professional")
    }
    assert all(e["purpose"] and e["at"] for e in logged)


async def test_a_page_asking_every_second_leaves_one_entry_per_kind_of_read(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    """A nurse's open conversation page asks for the summary, messages and receipts every
    second: the access log keeps the first of each within minutes, not one per second."""
    a, b = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    url = f"/chat/cases/{c.case_id}"
    reads = [url, f"{url}/messages", f"{url}/receipts"]
    for server in (a, b, a):  # on any replica: the log is the check, not memory
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            for path in reads:
                r = await http.get(path, headers=c.auth(c.staff))
                assert r.status_code == 200, (path, r.status_code)
    logged = await access_log(infra.database_url, c.case_id)
    assert [e["what"] for e in logged] == ["summary", "messages", "receipts"]
    assert {e["reader_id"] for e in logged} == {c.nurse.staff_id}


async def test_finding_5_a_token_in_the_websocket_url_is_refused(replicas: Replicas, infra) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    ws = await connect(f"{live_url(a.ws, c.case_id)}&token={c.patient}")
    first = None
    try:
        first = await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401
        assert "URL" in closed.rcvd.reason
    assert first is None, f"authenticated from the URL: {first!r}"
    # Even with a good auth frame after it: the leaked token is not used.
    ws = await connect(f"{live_url(a.ws, c.case_id)}&token={c.patient}")
    with contextlib.suppress(ConnectionClosed):
        await ws.send(json.dumps({"type": "auth", "token": c.patient}))
    assert await closed_with(ws) == 4401


async def test_finding_19_a_live_session_ends_when_its_token_expires(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    short = issue_token(
        DEV_TOKEN_SECRET,
        Principal(subject_id=c.patient_id, role="patient", region=REGION),
        ttl=timedelta(seconds=3),
    )
    ws = await live(a.ws, c.case_id, short)
    try:
        async with asyncio.timeout(15):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 4401
        assert "expired" in closed.rcvd.reason
    except TimeoutError:
        pytest.fail("the socket outlived its token")


async def test_finding_19_an_oversized_frame_closes_the_socket(replicas: Replicas, infra) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    ws = await live(a.ws, c.case_id, c.patient)
    huge = {"type": "send", "text": "x" * 100_000, "idempotency_key": "k-sec19-huge"}
    await ws.send(json.dumps(huge))
    assert await closed_with(ws) == 1009


async def test_finding_19_a_flood_of_frames_is_throttled_then_closed(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    ws = await live(a.ws, c.case_id, c.patient)
    for _ in range(200):
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "read", "up_to": 0}))
    refused = await until(ws, lambda f: f.get("status") == 429)
    assert refused[-1]["type"] == "error"
    assert await closed_with(ws) == 1008
    # A well-behaved client is not affected.
    calm = await live(a.ws, c.case_id, patient_token(c.patient_id))
    await calm.send(json.dumps({"type": "read", "up_to": 0}))
    assert (await until(calm, lambda f: f["type"] == "receipt"))[-1]["up_to"] == 0
    await calm.close()


def _pdf(*objects: bytes) -> bytes:
    body = b"".join(b"%d 0 obj %s endobj\n" % (n, o) for n, o in enumerate(objects, 1))
    return b"%PDF-1.7\n" + body + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def _object_stream(hidden: bytes) -> bytes:
    packed = zlib.compress(b"2 0 " + hidden)
    return (
        b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(packed)
        + packed
        + b"\nendstream"
    )


async def test_finding_18_active_pdfs_and_oversized_images_are_refused(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    active = [
        _pdf(b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /JavaScript /JS (app.alert(1)) >>"),
        _pdf(b"<< /Type /Catalog /Open#41ction << /S /Launch /F (calc.exe) >> >>"),
        _pdf(b"<< /Type /Catalog /Names << /EmbeddedFiles 2 0 R >> >>", b"<< >>"),
        _pdf(b"<< /Type /Catalog /AA << /O << /S /JavaScript /JS (x) >> >> >>"),
        _pdf(b"<< /Type /Catalog >>", _object_stream(b"<< /S /JavaScript /JS (x) >>")),
    ]
    big = io.BytesIO()
    Image.new("L", (4000, 3300), 0).save(big, "PNG")  # 13.2 megapixels, a few kB
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        for pdf in active:
            r = await http.post(
                f"/chat/cases/{c.case_id}/attachments", headers=c.auth(c.patient), content=pdf
            )
            assert r.status_code == 415 and "active content" in r.json()["detail"], r.text
        r = await http.post(
            f"/chat/cases/{c.case_id}/attachments",
            headers=c.auth(c.patient),
            content=big.getvalue(),
        )
        assert r.status_code == 413 and "pixels" in r.json()["detail"], r.text
        plain = _pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>")
        r = await http.post(
            f"/chat/cases/{c.case_id}/attachments", headers=c.auth(c.patient), content=plain
        )
        assert r.status_code == 201, r.text


async def test_low_turn_logins_go_only_to_the_video_participants_of_a_running_video(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        for token in (patient_token("sub_anyone"), c.patient, staff_token(professional())):
            ice = (await http.get("/chat/video/ice-servers", headers=c.auth(token))).json()
            assert not [s for s in ice if "credential" in s], ice
        url = f"/chat/cases/{c.case_id}/video/ice-servers"
        assert (await http.get(url, headers=c.auth(patient_token("sub_anyone")))).status_code == 404
        before = (await http.get(url, headers=c.auth(c.patient))).json()
        assert not [s for s in before if "credential" in s]  # no video yet
        assert (
            await http.post(f"/chat/cases/{c.case_id}/video/start", headers=c.auth(c.staff))
        ).status_code == 201
        during = (await http.get(url, headers=c.auth(c.patient))).json()
        assert [s for s in during if "credential" in s]


async def chat_events(database_url: str, case_id: str) -> list[dict[str, object]]:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT payload::text AS payload FROM chat.events WHERE case_id = $1 ORDER BY position",
            uuid.UUID(case_id),
        )
    finally:
        await conn.close()
    return [json.loads(r["payload"]) for r in rows]


async def test_low_a_consultant_invitation_cannot_forge_the_consultants_name_or_title(
    replicas: Replicas, infra
) -> None:  # type: ignore[no-untyped-def]
    """The inviter names the colleague by staff id; a name, title and care unit sent with
    it are ignored. The consultant is recorded and shown as their own token names them."""
    a, _ = replicas
    c = await open_contact(infra.bootstrap_servers, a.url)
    doctor = professional("doctor")
    forged = {
        "staff_id": doctor.staff_id,
        "name": "Överläkare Falsk",
        "title": "chief physician",
        "care_unit": "Falska kliniken",
    }
    url = f"/chat/cases/{c.case_id}"
    patient = await live(a.ws, c.case_id, c.patient)
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        invited = await http.post(
            f"{url}/consultants",
            headers=c.auth(c.staff),
            json={"consultant": forged, "reason": "Bedöm utslaget"},
        )
        assert invited.status_code == 201, invited.text
        again = await http.post(
            f"{url}/consultants",
            headers=c.auth(c.staff),
            json={"consultant": {"staff_id": doctor.staff_id}, "reason": "igen"},
        )
        assert again.status_code == 409
        # The doctor's first read makes them the consultant, as their token names them.
        read = await http.get(f"{url}/messages", headers=c.auth(staff_token(doctor)))
        assert read.status_code == 200, read.text
        sent = await http.post(
            f"{url}/messages",
            headers=c.auth(staff_token(doctor), "k-low-consult-1"),
            json={"text": "Läkaren här"},
        )
        assert sent.status_code == 201, sent.text
    joined = (await until(patient, lambda f: f["type"] == "consultant_joined"))[-1]
    assert (joined["name"], joined["title"]) == (doctor.name, doctor.title)
    await patient.close()
    recorded = await chat_events(infra.database_url, c.case_id)
    [invitation] = [e for e in recorded if e["event_type"] == "ConsultantInvited"]
    assert invitation["consultant"] == doctor.model_dump()
    assert invitation["invited_by"] == c.nurse.staff_id
    [message] = [e for e in recorded if e["event_type"] == "MessageSent"]
    assert message["professional"] == doctor.model_dump()
    assert not any(
        forged_value in json.dumps(e, ensure_ascii=False)
        for e in recorded
        for forged_value in ("Falsk", "chief physician", "Falska kliniken")
    )
