"""Two chat replicas on one database and Kafka, as the manifests run them (issue 15): a
message sent through either reaches every live socket on both exactly once and in order,
and an attachment uploaded through one is served by the other, and after both restart."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest
from chat_support import (
    ChatProcess,
    files_under,
    live,
    open_contact,
    photo_with_exif,
    start_chat,
    stored_blobs,
)
from websockets.asyncio.client import ClientConnection

from careflow.cli.roles import runtime_env

# Starting chat processes takes long on a loaded machine: more than the default 300 s.
pytestmark = [
    pytest.mark.long,
    pytest.mark.chat,
    pytest.mark.ops,
    pytest.mark.integration,
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module")
def replica_env(chat_env: dict[str, str], infra) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """As ``careflow dev`` and the manifests run chat: as its restricted runtime role, the
    owner migrating."""
    return {**chat_env, **runtime_env(infra.database_url, "chat")}


def _ports() -> tuple[int, int]:
    """Ports of this module's replicas, per infra slot (clear of the other chat tests')."""
    base = 18054 + 100 * int(os.environ.get("CAREFLOW_INFRA_SLOT", "0"))
    return base, base + 1


def _start_both(env: dict[str, str], logs: Path) -> list[ChatProcess]:
    started: list[ChatProcess] = []
    try:
        for name, port in zip("ab", _ports(), strict=True):
            started.append(start_chat(port, env, logs / f"chat-{name}.log"))
    except BaseException:
        for p in started:
            p.stop()
        raise
    return started


def _stop(replicas: list[ChatProcess]) -> None:
    codes = [p.stop() for p in replicas]
    for p in replicas:
        print(f"--- {p.log.name}\n{p.log.read_text()[-6000:]}")
    assert all(code in (0, -15) for code in codes), codes


async def _messages(ws: ClientConnection, count: int) -> list[dict[str, object]]:
    """The message frames a socket receives until ``count`` have come, then one quiet second
    more: a doubled frame would show up in it."""
    frames: list[dict[str, object]] = []
    async with asyncio.timeout(60):
        while sum(1 for f in frames if f["type"] == "message") < count:
            frames.append(json.loads(await ws.recv()))
    try:
        async with asyncio.timeout(1.0):
            while True:
                frames.append(json.loads(await ws.recv()))
    except TimeoutError:
        pass
    return [f for f in frames if f["type"] == "message"]


async def test_every_message_reaches_every_socket_on_both_replicas_exactly_once(
    replica_env: dict[str, str], infra, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    a, b = _start_both(replica_env, tmp_path)
    try:
        c = await open_contact(infra.bootstrap_servers, a.url)
        # The nurse and the patient each have a socket on either replica (two tabs).
        sockets = [
            await live(a.ws, c.case_id, c.staff),
            await live(b.ws, c.case_id, c.staff),
            await live(a.ws, c.case_id, c.patient),
            await live(b.ws, c.case_id, c.patient),
        ]
        per_side = 15

        async def send(base_url: str, token: str, who: str) -> None:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                for i in range(per_side):
                    r = await http.post(
                        f"/chat/cases/{c.case_id}/messages",
                        headers=c.auth(token, f"{who}-{i:06d}"),
                        json={"text": f"{who} {i}"},
                    )
                    assert r.status_code == 201, r.text

        # The nurse writes through replica A and the patient through B, at the same time.
        receiving = [asyncio.create_task(_messages(ws, 2 * per_side)) for ws in sockets]
        await asyncio.gather(send(a.url, c.staff, "nurse"), send(b.url, c.patient, "patient"))
        received = await asyncio.gather(*receiving)
        expected = list(range(1, 2 * per_side + 1))
        for frames in received:
            assert [f["sequence"] for f in frames] == expected
        texts = {str(f["text"]) for f in received[0]}
        assert texts == {f"{w} {i}" for w in ("nurse", "patient") for i in range(per_side)}
        # Every socket saw the same message under the same sequence number.
        assert all(
            [(f["sequence"], f["message_id"]) for f in frames]
            == [(f["sequence"], f["message_id"]) for f in received[0]]
            for frames in received
        )
        for ws in sockets:
            await ws.close()
    finally:
        _stop([a, b])


async def test_attachments_are_shared_by_the_replicas_and_survive_their_restart(
    replica_env: dict[str, str], infra, attachments_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    assert "CAREFLOW_ATTACHMENTS_STORE" not in replica_env  # the default store, as shipped
    a, b = _start_both(replica_env, tmp_path)
    try:
        c = await open_contact(infra.bootstrap_servers, a.url)
        async with httpx.AsyncClient(timeout=30) as http:
            up = await http.post(
                f"{a.url}/chat/cases/{c.case_id}/attachments",
                headers=c.auth(c.patient),
                content=photo_with_exif(),
            )
            assert up.status_code == 201, up.text
            sha = up.json()["sha256"]
            served = await http.get(
                f"{b.url}/chat/cases/{c.case_id}/attachments/{sha}", headers=c.auth(c.staff)
            )
            assert served.status_code == 200, served.text
    finally:
        _stop([a, b])
    # Both replicas gone (a rolling restart, a new node): a new one still has the bytes.
    again = start_chat(_ports()[0], replica_env, tmp_path / "chat-restarted.log")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            got = await http.get(
                f"{again.url}/chat/cases/{c.case_id}/attachments/{sha}",
                headers=c.auth(c.patient),
            )
            assert got.status_code == 200 and got.content == served.content
    finally:
        _stop([again])
    assert (await stored_blobs(infra.database_url))[sha] == served.content
    assert files_under(attachments_dir) == []
