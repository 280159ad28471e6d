"""The care contact end to end: the whole platform, a chat with an attachment, video, closing
with advice, and the patient reading it afterwards."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from chat_support import connect_live, photo_with_exif, until
from PIL import Image

from careflow.cli.flow import reach_turn, wait_for
from careflow.cli.platform import Platform
from careflow.cli.replay import read_case

pytestmark = [pytest.mark.chat, pytest.mark.e2e]

REGION = "Västmanland"


@pytest.fixture(scope="module")
def platform(infra, service_ports, tmp_path_factory) -> Iterator[Platform]:  # type: ignore[no-untyped-def]
    with Platform.running(
        service_ports,
        infra.bootstrap_servers,
        infra.database_url,
        str(tmp_path_factory.mktemp("chat-e2e-logs")),
        {
            "CAREFLOW_ATTACHMENTS_DIR": str(tmp_path_factory.mktemp("attachments")),
            "CAREFLOW_STUN_URLS": '["stun:stun.careflow.test:3478"]',
        },
    ) as running:
        yield running


def _case_at_its_turn(platform: Platform) -> dict[str, Any]:
    """Log in, triage, queue and claim as patient and nurse do; returns tokens and ids."""
    turn = reach_turn(platform.url, region=REGION)
    case_id = turn.case_id
    wait_for(
        "the conversation to open",
        lambda: (
            turn.http.get(
                f"{platform.url('chat')}/chat/cases/{case_id}",
                headers={"Authorization": f"Bearer {turn.patient}"},
            ).status_code
            == 200
        ),
    )
    turn.http.close()
    return {"case_id": case_id, "patient": turn.patient, "nurse": turn.nurse}


async def test_chat_with_attachment_video_close_and_reading_it_afterwards(
    platform: Platform, infra
) -> None:  # type: ignore[no-untyped-def]
    case = await asyncio.to_thread(_case_at_its_turn, platform)
    case_id, patient_token, nurse_token = case["case_id"], case["patient"], case["nurse"]
    base = platform.url("chat")
    ws_base = base.replace("http://", "ws://")
    nurse = await connect_live(ws_base, case_id, nurse_token)
    patient = await connect_live(ws_base, case_id, patient_token)
    hello = (await until(patient, lambda f: f["type"] == "hello"))[-1]
    assert hello["ice_servers"] == [{"urls": ["stun:stun.careflow.test:3478"]}]
    await until(nurse, lambda f: f["type"] == "hello")

    # Chat, with a photo of the rash.
    await nurse.send(
        json.dumps({"type": "send", "text": "Hej! Berätta.", "idempotency_key": "e2e-nurse-1"})
    )
    answered = (await until(nurse, lambda f: f["type"] in ("ack", "error")))[-1]
    assert answered == {"type": "ack", "idempotency_key": "e2e-nurse-1", "sequence": 1}
    assert (await until(patient, lambda f: f["type"] == "message"))[-1]["text"] == "Hej! Berätta."
    auth = {"Authorization": f"Bearer {patient_token}"}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        up = await http.post(
            f"/chat/cases/{case_id}/attachments", headers=auth, content=photo_with_exif()
        )
        assert up.status_code == 201, up.text
        ref = up.json()
    await patient.send(
        json.dumps(
            {
                "type": "send",
                "text": "Så här ser utslaget ut.",
                "attachments": [ref["sha256"]],
                "idempotency_key": "e2e-patient-1",
            }
        )
    )
    photo_msg = (await until(nurse, lambda f: f["type"] == "message" and f["sequence"] == 2))[-1]
    assert photo_msg["attachments"] == [ref]
    await nurse.send(json.dumps({"type": "read", "up_to": 2}))
    assert (await until(patient, lambda f: f["type"] == "receipt"))[-1]["up_to"] == 2

    # Switch to video: signalling over the same sockets, media elsewhere.
    await nurse.send(json.dumps({"type": "video_start"}))
    await until(patient, lambda f: f["type"] == "video_started")
    await patient.send(json.dumps({"type": "signal", "kind": "offer", "data": {"sdp": "offer"}}))
    assert (await until(nurse, lambda f: f["type"] == "signal"))[-1]["data"] == {"sdp": "offer"}
    await nurse.send(json.dumps({"type": "signal", "kind": "answer", "data": {"sdp": "answer"}}))
    assert (await until(patient, lambda f: f["type"] == "signal"))[-1]["data"] == {"sdp": "answer"}
    await nurse.send(json.dumps({"type": "video_end"}))
    await until(patient, lambda f: f["type"] == "video_ended")

    # Close with advice; the patient sees it happen.
    advice = "Smörj med mjukgörande kräm två gånger om dagen. Hör av dig om det sprider sig."
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        closed = await http.post(
            f"/chat/cases/{case_id}/close",
            headers={"Authorization": f"Bearer {nurse_token}"},
            json={
                "outcome": "self_care_advice",
                "advice": advice,
                "documentation_note": "Eksem på underarmen, bedömt via bild och video.",
            },
        )
        assert closed.status_code == 200, closed.text
        assert (await until(patient, lambda f: f["type"] == "closed"))[-1]["outcome"] == (
            "self_care_advice"
        )
        await nurse.close()
        await patient.close()

        # Afterwards: the patient lists closed cases, reads the advice, the chat, the photo.
        mine = (await http.get("/chat/my/closed-cases", headers=auth)).json()
        [summary] = [m for m in mine if m["case_id"] == case_id]
        assert (summary["outcome"], summary["advice"]) == ("self_care_advice", advice)
        conversation = (await http.get(f"/chat/cases/{case_id}/messages", headers=auth)).json()
        assert [(m["sequence"], m["sender_role"]) for m in conversation] == [
            (1, "staff"),
            (2, "patient"),
        ]
        assert conversation[1]["attachments"] == [ref]
        photo = await http.get(f"/chat/cases/{case_id}/attachments/{ref['sha256']}", headers=auth)
        assert photo.status_code == 200 and not Image.open(io.BytesIO(photo.content)).getexif()
        rated = await http.post(
            f"/chat/cases/{case_id}/rating", headers=auth, json={"rating": 5, "comment": "Tack!"}
        )
        assert rated.status_code == 201

    chat_events = {
        "MessageSent",
        "VideoContactStarted",
        "VideoContactEnded",
        "CaseClosed",
        "ContactRated",
    }

    async def timeline() -> list[str]:
        items = await read_case(infra.bootstrap_servers, uuid.UUID(case_id))
        return [i.event.event_type for i in items if i.event.event_type in chat_events]

    expected = [
        "MessageSent",
        "MessageSent",
        "VideoContactStarted",
        "VideoContactEnded",
        "CaseClosed",
        "ContactRated",
    ]
    for _ in range(30):  # the relay publishes shortly after each commit
        if (seen := await timeline()) == expected:
            break
        await asyncio.sleep(0.5)
    assert seen == expected
