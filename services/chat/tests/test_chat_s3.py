"""The S3-compatible attachment store (an option; PostgreSQL is the default), on its own and
behind a chat process.

These tests run against an emulator, not a real S3-compatible server: moto's S3 server on
localhost speaks the S3 HTTP API (signatures, conditional writes, versions, checksums) but
is an in-memory stand-in. No real S3-compatible server installs from the package registries
this project uses: MinIO's server is not published as a module there (and is AGPL), and
SeaweedFS's module refuses ``go install`` (its go.mod has replace directives). What these
tests show of S3 itself is therefore only as good as moto's imitation of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiobotocore.session import get_session
from chat_support import chat_ports, files_under, open_contact, photo_with_exif, start_chat
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from careflow.chat.blobs import CorruptBlob, LocalDiskStore, PostgresStore, S3Store, store_for
from careflow.chat.settings import ChatSettings
from careflow.kit.db import Database

pytestmark = [pytest.mark.chat]

REGION = "eu-north-1"
KEY_ID, SECRET = "careflow-test-key", "careflow-test-secret"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """A real S3 API over HTTP on a free local port, for this module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def s3(s3_url: str) -> AsyncIterator[Any]:
    """A plain S3 client, to look at the bucket behind the store's back."""
    async with get_session().create_client(
        "s3",
        endpoint_url=s3_url,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    ) as client:
        yield client


@pytest.fixture
async def bucket(s3: Any) -> str:
    """A new versioned bucket: a second write of a key would show as a second version."""
    name = f"careflow-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    await s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
async def store(s3_url: str, bucket: str) -> AsyncIterator[S3Store]:
    made = S3Store(
        bucket,
        endpoint_url=s3_url,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    await made.start()
    try:
        yield made
    finally:
        await made.close()


async def versions(s3: Any, bucket: str) -> list[tuple[str, str]]:
    listed = await s3.list_object_versions(Bucket=bucket)
    return sorted((v["Key"], v["VersionId"]) for v in listed.get("Versions", []))


def blob(text: str) -> tuple[str, bytes]:
    data = f"%PDF-1.7\n{text}\n%%EOF\n".encode()
    return hashlib.sha256(data).hexdigest(), data


@pytest.mark.integration
async def test_put_and_get_round_trip_under_the_content_address(
    store: S3Store, s3: Any, bucket: str
) -> None:
    sha, data = blob("round trip")
    await store.put(sha, data)
    assert await store.get(sha) == data
    listed = await s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == [f"attachments/{sha}"]
    raw = await s3.get_object(Bucket=bucket, Key=f"attachments/{sha}")
    async with raw["Body"] as body:
        assert await body.read() == data
    # Bytes that do not hash to the key are refused before anything is written.
    other_sha, _ = blob("other")
    with pytest.raises(ValueError, match="hash"):
        await store.put(other_sha, data)
    assert len(await versions(s3, bucket)) == 1


@pytest.mark.integration
async def test_the_same_bytes_make_one_object_however_often_and_concurrently_stored(
    store: S3Store, s3_url: str, s3: Any, bucket: str
) -> None:
    sha, data = blob("idempotent")
    await store.put(sha, data)
    first = await versions(s3, bucket)
    await store.put(sha, data)
    # Another replica storing the same upload at the same time.
    replica = S3Store(
        bucket, endpoint_url=s3_url, region=REGION, access_key_id=KEY_ID, secret_access_key=SECRET
    )
    try:
        await asyncio.gather(*(s.put(sha, data) for s in (store, replica, store, replica)))
    finally:
        await replica.close()
    assert len(first) == 1 and await versions(s3, bucket) == first
    # Different bytes are a different object.
    sha2, data2 = blob("different")
    await store.put(sha2, data2)
    assert {k for k, _ in await versions(s3, bucket)} == {
        f"attachments/{sha}",
        f"attachments/{sha2}",
    }


@pytest.mark.integration
async def test_missing_and_corrupt_objects(store: S3Store, s3: Any, bucket: str) -> None:
    sha, data = blob("never stored")
    assert await store.get(sha) is None
    assert await store.get("not-a-digest") is None
    # Bytes changed behind careflow's back are never served as the attachment.
    await s3.put_object(Bucket=bucket, Key=f"attachments/{sha}", Body=data + b"tampered")
    with pytest.raises(CorruptBlob):
        await store.get(sha)


@pytest.mark.integration
async def test_a_missing_bucket_stops_the_start(s3_url: str) -> None:
    absent = S3Store(
        f"careflow-absent-{uuid.uuid4().hex[:8]}",
        endpoint_url=s3_url,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    try:
        with pytest.raises(RuntimeError, match="not usable"):
            await absent.start()
    finally:
        await absent.close()


@pytest.mark.unit
def test_the_s3_store_needs_all_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CAREFLOW_ATTACHMENTS"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_STORE", "s3")
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_S3_BUCKET", "careflow-attachments")
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_S3_SECRET_ACCESS_KEY", " ")
    with pytest.raises(ValidationError) as refused:
        ChatSettings()
    message = str(refused.value)
    assert "CAREFLOW_ATTACHMENTS_S3_REGION" in message
    assert "CAREFLOW_ATTACHMENTS_S3_ACCESS_KEY_ID" in message
    assert "CAREFLOW_ATTACHMENTS_S3_SECRET_ACCESS_KEY" in message
    assert "CAREFLOW_ATTACHMENTS_S3_BUCKET" not in message
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_S3_REGION", REGION)
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_S3_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_S3_SECRET_ACCESS_KEY", SECRET)
    settings = ChatSettings()
    assert SECRET not in repr(settings)
    # Never connects: the stores are only chosen here.
    db = Database("postgresql+asyncpg://careflow@127.0.0.1:1/careflow", "chat")
    chosen = store_for(settings, db)
    assert isinstance(chosen, S3Store) and chosen.bucket == "careflow-attachments"
    monkeypatch.setenv("CAREFLOW_ATTACHMENTS_STORE", "local")
    assert isinstance(store_for(ChatSettings(), db), LocalDiskStore)
    monkeypatch.delenv("CAREFLOW_ATTACHMENTS_STORE")
    assert isinstance(store_for(ChatSettings(), db), PostgresStore)


@pytest.mark.integration
@pytest.mark.long  # starts a whole chat service on S3: a minute, `make test-long`
async def test_chat_uploads_and_serves_attachments_from_s3(
    infra, s3_url: str, s3: Any, bucket: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    local_dir = tmp_path / "unused-local-store"
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": infra.database_url,
        "CAREFLOW_ENVIRONMENT": "test",
        "CAREFLOW_LOG_JSON": "true",
        "CAREFLOW_ATTACHMENTS_DIR": str(local_dir),
        "CAREFLOW_ATTACHMENTS_STORE": "s3",
        "CAREFLOW_ATTACHMENTS_S3_ENDPOINT_URL": s3_url,
        "CAREFLOW_ATTACHMENTS_S3_BUCKET": bucket,
        "CAREFLOW_ATTACHMENTS_S3_REGION": REGION,
        "CAREFLOW_ATTACHMENTS_S3_ACCESS_KEY_ID": KEY_ID,
        "CAREFLOW_ATTACHMENTS_S3_SECRET_ACCESS_KEY": SECRET,
    }
    port = chat_ports()[1] + 1
    # A bucket that does not exist: chat refuses to start rather than lose uploads later.
    with pytest.raises(RuntimeError, match="exited"):
        start_chat(
            port,
            {**env, "CAREFLOW_ATTACHMENTS_S3_BUCKET": f"careflow-absent-{uuid.uuid4().hex[:8]}"},
            tmp_path / "chat-refused.log",
        )
    chat = start_chat(port, env, tmp_path / "chat-s3.log")
    try:
        c = await open_contact(infra.bootstrap_servers, chat.url)
        photo = photo_with_exif()
        async with httpx.AsyncClient(base_url=chat.url, timeout=10) as http:
            ups = [
                await http.post(
                    f"/chat/cases/{c.case_id}/attachments", headers=c.auth(c.patient), content=photo
                )
                for _ in range(2)
            ]
            assert [u.status_code for u in ups] == [201, 201], ups[0].text
            ref = ups[0].json()
            assert ups[1].json() == ref and ref["media_type"] == "image/jpeg"
            sent = await http.post(
                f"/chat/cases/{c.case_id}/messages",
                headers=c.auth(c.patient, f"k-{uuid.uuid4()}"),
                json={"text": "", "attachments": [ref["sha256"]]},
            )
            assert sent.status_code == 201 and sent.json()["attachments"] == [ref]
            got = await http.get(
                f"/chat/cases/{c.case_id}/attachments/{ref['sha256']}", headers=c.auth(c.staff)
            )
            assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
            assert hashlib.sha256(got.content).hexdigest() == ref["sha256"]
            assert b"SERIAL-123456" not in got.content
            # Gone from the bucket: 404 like any unknown attachment, not a 500.
            await s3.delete_object(Bucket=bucket, Key=f"attachments/{ref['sha256']}")
            gone = await http.get(
                f"/chat/cases/{c.case_id}/attachments/{ref['sha256']}", headers=c.auth(c.staff)
            )
            assert gone.status_code == 404
    finally:
        code = chat.stop()
        print(chat.log.read_text()[-8000:])
    assert code in (0, -15)
    stored = await versions(s3, bucket)
    assert [k for k, _ in stored] == [f"attachments/{ref['sha256']}"]  # two uploads, one object
    assert files_under(local_dir) == []
