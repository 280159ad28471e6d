"""Live chat over WebSocket: many concurrent connections exchanging messages.

Chat: one real chat service process (uvicorn, the full stack: authentication, event
store append, message projection, PostgreSQL NOTIFY, the LISTEN hub, a read of the
new rows, the WebSocket send; its relay publishes every MessageSent to Kafka).
``CHAT_BENCH_CONNECTIONS`` sockets (default 500) form pairs, patient and nurse of one
case; each socket sends ``CHAT_BENCH_MESSAGES`` messages (default 2) about every
``CHAT_BENCH_INTERVAL_S`` seconds (default 20, jittered: 500 sockets offer about 50
messages/s), and the latency is from the sender's ``send`` to the peer receiving the frame.
Baseline, same run, same clients and pacing: a bare ``websockets`` relay process that
forwards each frame to the peer socket in memory (no authentication, no storage).
Both servers run as one process on the same machine as the clients (2 cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

from careflow.kit.auth import Principal, issue_token
from careflow.kit.migrations import upgrade
from careflow.kit.settings import DEV_TOKEN_SECRET

CONNECTIONS = int(os.environ.get("CHAT_BENCH_CONNECTIONS", "500"))
MESSAGES = int(os.environ.get("CHAT_BENCH_MESSAGES", "2"))
INTERVAL_S = float(os.environ.get("CHAT_BENCH_INTERVAL_S", "20.0"))
PORT = 18900 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0")) % 1000
BASELINE_PORT = PORT + 1
MIGRATIONS = Path(__file__).parents[1] / "services/chat/src/careflow/chat/migrations"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _seed(url: str, pairs: int) -> list[tuple[str, str, str]]:
    """Cases at their turn, written straight into chat's tables (setup, not measured)."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "chat"})
    now = datetime.now(UTC)
    cases = [(str(uuid.uuid4()), f"sub_bench_{i}", f"SE-BENCH-{i}") for i in range(pairs)]
    try:
        await conn.executemany(
            "INSERT INTO case_patients (case_id, patient_id, region) VALUES ($1, $2, 'Uppsala')",
            [(uuid.UUID(c), p) for c, p, _ in cases],
        )
        await conn.executemany(
            "INSERT INTO conversations (case_id, correlation_id, staff_id, staff_name,"
            " staff_title, care_unit, opened_at) VALUES ($1, $1, $2, 'Nina', 'nurse', 'Bench', $3)",
            [(uuid.UUID(c), s, now) for c, _, s in cases],
        )
    finally:
        await conn.close()
    return cases


def _tokens(case: tuple[str, str, str]) -> tuple[str, str]:
    _, patient, staff = case
    p = issue_token(
        DEV_TOKEN_SECRET, Principal(subject_id=patient, role="patient", region="Uppsala")
    )
    s = issue_token(
        DEV_TOKEN_SECRET,
        Principal(subject_id=staff, role="staff", region="Uppsala", name="Nina", title="nurse"),
    )
    return p, s


async def _wait_ready(url: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if (await http.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


async def _open(url: str, token: str | None) -> ClientConnection:
    """A socket; chat's takes its token in a first auth frame, never in the URL."""
    ws = await connect(url, max_queue=None)
    if token is not None:
        await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws


async def _drive(urls: list[tuple[str, str, str | None]], chat: bool) -> dict[str, Any]:
    """Open every socket (pairs share a case), exchange messages, collect latencies."""
    latencies: list[float] = []
    expected = len(urls) * MESSAGES
    done = asyncio.Event()
    received = 0
    sent_at: dict[str, float] = {}
    sockets: list[ClientConnection] = []
    t0 = time.perf_counter()
    for i in range(0, len(urls), 50):  # ramp up in bursts of 50
        batch = await asyncio.gather(*(_open(u, token) for u, _, token in urls[i : i + 50]))
        sockets.extend(batch)
    connect_s = time.perf_counter() - t0
    if chat:
        await asyncio.gather(*(ws.recv() for ws in sockets))  # hello frames

    async def reader(ws: ClientConnection, me: str) -> None:
        nonlocal received
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") != "message" or frame["text"].startswith(me):
                continue
            sent = sent_at.get(frame["text"])
            if sent is not None:
                latencies.append((time.perf_counter() - sent) * 1000)
                received += 1
                if received >= expected:
                    done.set()

    async def writer(ws: ClientConnection, me: str) -> None:
        await asyncio.sleep(random.uniform(0, INTERVAL_S))
        for n in range(MESSAGES):
            text = f"{me}:{n}"
            sent_at[text] = time.perf_counter()
            frame = {"type": "send", "text": text, "idempotency_key": f"{me}-{n:04d}-key"}
            await ws.send(json.dumps(frame))
            await asyncio.sleep(INTERVAL_S * random.uniform(0.5, 1.5))

    names = [name for _, name, _ in urls]
    readers = [asyncio.create_task(reader(ws, me)) for ws, me in zip(sockets, names, strict=True)]
    start = time.perf_counter()
    await asyncio.gather(*(writer(ws, me) for ws, me in zip(sockets, names, strict=True)))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - start
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "latencies": latencies,
        "delivered": received,
        "expected": expected,
        "seconds": elapsed,
        "connect_s": connect_s,
    }


async def _chat(bootstrap: str, url: str) -> dict[str, Any]:
    await asyncio.to_thread(upgrade, MIGRATIONS, url, "chat")
    cases = await _seed(url, CONNECTIONS // 2)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": url,
        "CAREFLOW_HTTP_PORT": str(PORT),
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_LEVEL": "WARNING",
        "CAREFLOW_LOG_JSON": "true",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "careflow.chat",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        await _wait_ready(f"http://127.0.0.1:{PORT}/readyz", proc)
        urls: list[tuple[str, str, str | None]] = []
        for case in cases:
            p, s = _tokens(case)
            base = f"ws://127.0.0.1:{PORT}/chat/cases/{case[0]}/live"
            urls += [(base, f"p{case[1]}", p), (base, f"s{case[2]}", s)]
        return await _drive(urls, chat=True)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def _baseline() -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.chat_ws",
        "serve-baseline",
        str(BASELINE_PORT),
        cwd=Path(__file__).parents[1],
        stdin=subprocess.DEVNULL,
    )
    try:
        await _wait_ready(f"http://127.0.0.1:{BASELINE_PORT}/healthz", proc)
        urls: list[tuple[str, str, str | None]] = []
        for i in range(CONNECTIONS // 2):
            base = f"ws://127.0.0.1:{BASELINE_PORT}/room/{i}"
            urls += [(base, f"p{i}", None), (base, f"s{i}", None)]
        return await _drive(urls, chat=False)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def _serve_baseline(port: int) -> None:
    """A bare relay: each frame goes to the other sockets of the same room, as a message."""
    from http import HTTPStatus

    from websockets.asyncio.server import ServerConnection, serve

    rooms: dict[str, set[ServerConnection]] = {}

    def health(conn: ServerConnection, request: Any) -> Any:
        if request.path == "/healthz":
            return conn.respond(HTTPStatus.OK, "ok\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        room = rooms.setdefault(ws.request.path if ws.request else "", set())
        room.add(ws)
        try:
            async for raw in ws:
                frame = json.loads(raw)
                out = json.dumps({"type": "message", "text": frame["text"]})
                for peer in list(room):
                    if peer is not ws:
                        await peer.send(out)
        finally:
            room.discard(ws)

    async with serve(handler, "127.0.0.1", port, process_request=health, max_queue=None):
        await asyncio.Future()


def _summary(name: str, f: dict[str, Any]) -> dict[str, float]:
    lat = f["latencies"]
    return {
        f"{name}p50_ms": round(_pct(lat, 0.50), 2),
        f"{name}p99_ms": round(_pct(lat, 0.99), 2),
        f"{name}max_ms": round(max(lat), 2) if lat else float("nan"),
        f"{name}mean_ms": round(statistics.fmean(lat), 2) if lat else float("nan"),
        f"{name}delivered_messages": f["delivered"],
        f"{name}messages_per_s": round(f["delivered"] / f["seconds"], 1),
        f"{name}connect_all_s": round(f["connect_s"], 2),
    }


async def run(bootstrap: str, url: str) -> list[dict[str, object]]:
    """The chat service against a bare in-memory WebSocket relay, same clients and load."""
    chat = await _chat(bootstrap, url)
    base = await _baseline()
    result: dict[str, object] = {
        "name": "chat_ws_delivery",
        "connections": CONNECTIONS,
        "messages_per_connection": MESSAGES,
        "send_interval_s": INTERVAL_S,
        "expected_messages": chat["expected"],
        **_summary("", chat),
        **_summary("baseline_", base),
    }
    result["ratio_to_baseline_p50"] = round(
        float(result["p50_ms"]) / float(result["baseline_p50_ms"]),
        2,  # type: ignore[arg-type]
    )
    result["ratio_to_baseline_p99"] = round(
        float(result["p99_ms"]) / float(result["baseline_p99_ms"]),
        2,  # type: ignore[arg-type]
    )
    return [result]


if __name__ == "__main__" and sys.argv[1:2] == ["serve-baseline"]:
    asyncio.run(_serve_baseline(int(sys.argv[2])))
