"""Helpers for chat's tests: chat processes, a case at its turn, tokens, WebSocket frames."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect

from careflow.contracts import (
    Actor,
    ActorRole,
    CaseOpened,
    Professional,
    QueueRef,
    Skill,
    TurnReached,
    topic_for_service,
)
from careflow.kit.auth import Principal, issue_token
from careflow.kit.settings import DEV_TOKEN_SECRET

REGION = "Uppsala"


def chat_ports() -> tuple[int, int]:
    """Two ports for standalone chat replicas, per infra slot (clear of ``service_ports``)."""
    base = 18051 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    return base, base + 1


@dataclass
class ChatProcess:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def start_chat(port: int, env: dict[str, str], log: Path) -> ChatProcess:
    """Start one chat process and wait until it is ready."""
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "careflow.chat"],
        env={**os.environ, **env, "CAREFLOW_HTTP_PORT": str(port)},
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    # Generous: a loaded CI machine may take a minute or more just to import the service.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chat exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return ChatProcess(port, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"chat not ready: {log.read_text()[-3000:]}")


def patient_token(subject: str, acting_for: str | None = None) -> str:
    return issue_token(
        DEV_TOKEN_SECRET,
        Principal(subject_id=subject, role="patient", region=REGION, acting_for=acting_for),
    )


def staff_token(professional: Professional, region: str = REGION) -> str:
    return issue_token(
        DEV_TOKEN_SECRET,
        Principal(
            subject_id=professional.staff_id,
            role="staff",
            region=region,
            name=professional.name,
            title=professional.title,
            care_unit=professional.care_unit,
        ),
    )


def professional(title: str = "nurse") -> Professional:
    return Professional(
        staff_id=f"SE2321000131-{uuid.uuid4().hex[:8]}",
        name="Nina Sjöberg" if title == "nurse" else "Erik Holm",
        title=title,
        care_unit="1177 direkt Uppsala",
    )


@dataclass
class Contact:
    """A case whose turn has come: a conversation is open in chat."""

    case_id: str
    patient_id: str
    patient: str  # token
    nurse: Professional
    staff: str  # token
    guardian_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def auth(self, token: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key
        return headers


async def open_contact(bootstrap: str, base_url: str, guardian: bool = False) -> Contact:
    """Publish CaseOpened and TurnReached as triage and queue would; wait for the conversation."""
    case_id = uuid.uuid4()
    patient_id = f"sub_{uuid.uuid4().hex[:10]}"
    guardian_id = f"sub_{uuid.uuid4().hex[:10]}" if guardian else None
    nurse = professional()
    now = datetime.now(UTC)
    opened = CaseOpened(
        case_id=case_id,
        occurred_at=now,
        producer="triage",
        correlation_id=case_id,
        actor=Actor(
            id=guardian_id or patient_id,
            role=ActorRole.GUARDIAN if guardian else ActorRole.PATIENT,
            on_behalf_of=patient_id if guardian else None,
        ),
        patient_id=patient_id,
        region=REGION,
        acting_guardian_id=guardian_id,
    )
    turn = TurnReached(
        case_id=case_id,
        occurred_at=now,
        producer="queue",
        correlation_id=case_id,
        actor=Actor(id=nurse.staff_id, role=ActorRole.STAFF),
        queue=QueueRef(region=REGION, skill=Skill.NURSE),
        professional=nurse,
        waited_seconds=30.0,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_for_service("triage"), opened.to_json(), key=opened.key()
        )
        await producer.send_and_wait(topic_for_service("queue"), turn.to_json(), key=turn.key())
    finally:
        await producer.stop()
    token = (
        patient_token(guardian_id, acting_for=patient_id)
        if guardian_id
        else patient_token(patient_id)
    )
    contact = Contact(str(case_id), patient_id, token, nurse, staff_token(nurse), guardian_id)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r = await http.get(f"/chat/cases/{case_id}", headers=contact.auth(contact.patient))
            if r.status_code == 200:
                return contact
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the conversation did not open: {r.status_code} {r.text}")


def live_url(ws_base: str, case_id: str, after: int = 0) -> str:
    return f"{ws_base}/chat/cases/{case_id}/live?after={after}"


async def connect_live(ws_base: str, case_id: str, token: str, after: int = 0) -> ClientConnection:
    """A live socket that has sent its auth frame (the token never goes in the URL)."""
    ws = await connect(live_url(ws_base, case_id, after))
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws


async def live(ws_base: str, case_id: str, token: str, after: int = 0) -> ClientConnection:
    """A connected live socket, its hello frame already read (stored on ``.hello``)."""
    ws = await connect_live(ws_base, case_id, token, after)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 20))
    assert hello["type"] == "hello", hello
    ws.hello = hello  # type: ignore[attr-defined]
    return ws


async def until(
    ws: ClientConnection, match: Callable[[dict[str, Any]], bool], limit: float = 20
) -> list[dict[str, Any]]:
    """Frames read until one matches (inclusive); fails if none within ``limit`` seconds."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(limit):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if match(frame):
                return seen


async def quiet(ws: ClientConnection, seconds: float = 1.0) -> list[dict[str, Any]]:
    """Whatever frames arrive within ``seconds`` (used to show something did NOT arrive)."""
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                seen.append(json.loads(await ws.recv()))
    except TimeoutError:
        return seen


def photo_with_exif(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying EXIF with a GPS position and a camera serial number."""
    image = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-123456"  # BodySerialNumber
    exif[0x8825] = {1: "N", 2: (59.0, 51.0, 30.0)}  # GPSInfo: latitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def stored_blobs(database_url: str) -> dict[str, bytes]:
    """The attachment bytes chat's PostgreSQL store holds, by SHA-256."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT sha256, data FROM chat.attachment_blobs"))
            return {row.sha256: bytes(row.data) for row in rows}
    finally:
        await engine.dispose()
