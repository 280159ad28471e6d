"""Where attachment bytes live: content-addressed by their SHA-256, shared by every replica.

``CAREFLOW_ATTACHMENTS_STORE`` chooses the store. ``postgres`` (the default, and what every
shipped configuration uses) keeps the bytes in chat's own schema: every replica reads what
another wrote, they survive restarts and are backed up with the rest of chat's data. ``s3``
puts them in an S3-compatible bucket, for installations that would rather keep large
objects out of the database. ``local`` is a folder on one machine, for development only: a
second replica or a restarted pod would not see it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from careflow.chat.tables import attachment_blobs
from careflow.kit.db import Database

if TYPE_CHECKING:
    from careflow.chat.settings import ChatSettings

log = structlog.get_logger(__name__)


class BlobStore(Protocol):
    """Where attachment bytes live, addressed by their SHA-256 (hex)."""

    async def start(self) -> None:
        """Check the store is usable; called once at service start (raises otherwise)."""

    async def close(self) -> None:
        """Release connections; called once at service stop."""

    async def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under ``sha256`` (a no-op when it is already there)."""

    async def get(self, sha256: str) -> bytes | None:
        """The bytes stored under ``sha256``, or None."""


def _check_digest(sha256: str) -> None:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")


def store_for(settings: ChatSettings, db: Database) -> BlobStore:
    """The blob store the settings choose (``CAREFLOW_ATTACHMENTS_STORE``); ``db`` is chat's
    own database, where the ``postgres`` store keeps the bytes."""
    if settings.attachments_store == "postgres":
        return PostgresStore(db)
    if settings.attachments_store == "s3":
        # ChatSettings refuses to load with any of these missing; re-checked for mypy.
        assert settings.attachments_s3_bucket and settings.attachments_s3_region
        assert settings.attachments_s3_access_key_id
        assert settings.attachments_s3_secret_access_key is not None
        return S3Store(
            settings.attachments_s3_bucket,
            endpoint_url=settings.attachments_s3_endpoint_url,
            region=settings.attachments_s3_region,
            access_key_id=settings.attachments_s3_access_key_id,
            secret_access_key=settings.attachments_s3_secret_access_key.get_secret_value(),
            prefix=settings.attachments_s3_prefix,
        )
    return LocalDiskStore(settings.attachments_dir)


class PostgresStore:
    """The bytes in chat's own schema (``attachment_blobs``), one row per SHA-256.

    Every replica shares the database, so an attachment uploaded through one is served by
    any other, and a restart loses nothing. A second write of the same bytes (a retry, two
    replicas at once) is a no-op (``ON CONFLICT DO NOTHING``), and every read is hashed
    again before it is served.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def start(self) -> None:
        """Refuse to start when the table is missing or out of the runtime role's reach."""
        async with self.db.transaction() as conn:
            await conn.execute(select(attachment_blobs.c.sha256).limit(0))

    async def close(self) -> None:
        """Nothing to release: the pool is the service's."""

    async def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under ``sha256`` unless a row is already there."""
        _check_digest(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("the data does not hash to the given sha256")
        async with self.db.transaction() as conn:
            await conn.execute(
                insert(attachment_blobs)
                .values(sha256=sha256, data=data, size_bytes=len(data))
                .on_conflict_do_nothing(index_elements=[attachment_blobs.c.sha256])
            )

    async def get(self, sha256: str) -> bytes | None:
        """The stored bytes, or None when there are none."""
        try:
            _check_digest(sha256)
        except ValueError:
            return None
        async with self.db.transaction() as conn:
            data = await conn.scalar(
                select(attachment_blobs.c.data).where(attachment_blobs.c.sha256 == sha256)
            )
        if data is None:
            return None
        stored = bytes(data)
        if hashlib.sha256(stored).hexdigest() != sha256:
            log.error("attachment_corrupt", sha256=sha256, store="postgres")
            raise CorruptBlob("the stored attachment does not match its hash")
        return stored


class LocalDiskStore:
    """Development store on one machine (no replica shares it): ``root/ab/cd/<sha256>``,
    written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def start(self) -> None:
        """Nothing to check: folders are made on the first write."""

    async def close(self) -> None:
        """Nothing to release."""

    def _path(self, sha256: str) -> Path:
        _check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, sha256: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, sha256, data)

    async def get(self, sha256: str) -> bytes | None:
        return await asyncio.to_thread(self._get, sha256)

    def _put(self, sha256: str, data: bytes) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _get(self, sha256: str) -> bytes | None:
        try:
            return self._path(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None


class CorruptBlob(RuntimeError):
    """The bytes read back do not hash to their key (never served; HTTP 500)."""


class S3Store:
    """Production store: one object per attachment in an S3-compatible bucket.

    The key is ``<prefix><sha256>``, so the same bytes always land on the same
    object. A write first asks whether the object is there and then writes with
    ``If-None-Match: *``, so neither a retry nor two replicas storing the same
    bytes at once add a second object (or a second version in a versioned
    bucket). The store is sent the SHA-256 as the object's checksum, which S3
    verifies on arrival, and every read is hashed again before it is served.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        prefix: str = "attachments/",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            # Path-style addressing works on every S3-compatible server (MinIO, Ceph);
            # the default checksum mode sends aws-chunked bodies that some of them refuse.
            "config": AioConfig(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 4, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        }
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    def key(self, sha256: str) -> str:
        """The object key of an attachment."""
        _check_digest(sha256)
        return f"{self.prefix}{sha256}"

    async def _s3(self) -> Any:
        # Opened lazily so that the store also works when start() was not called.
        async with self._lock:
            if self._client is None:
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    get_session().create_client("s3", **self._client_args)
                )
                self._stack = stack
        return self._client

    async def start(self) -> None:
        """Refuse to start when the bucket is missing or the credentials do not reach it."""
        s3 = await self._s3()
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            raise RuntimeError(
                f"the attachment bucket {self.bucket!r} is not usable: {_code(e)}"
            ) from None

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        async with self._lock:
            if self._stack is not None:
                await self._stack.aclose()
            self._stack = None
            self._client = None

    async def _exists(self, s3: Any, key: str) -> bool:
        try:
            await s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if _status(e) == 404:
                return False
            raise
        return True

    async def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under ``sha256`` unless an object is already there."""
        digest = hashlib.sha256(data)
        if digest.hexdigest() != sha256:
            raise ValueError("the data does not hash to the given sha256")
        key = self.key(sha256)
        s3 = await self._s3()
        for attempt in range(5):
            if await self._exists(s3, key):
                return
            try:
                await s3.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ContentType="application/octet-stream",
                    ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                    IfNoneMatch="*",
                )
                return
            except ClientError as e:
                if _status(e) == 412:  # another writer stored the same bytes first
                    return
                if _code(e) != "ConditionalRequestConflict":
                    raise
                # A concurrent write of this key is under way; look again once it is done.
                await asyncio.sleep(0.05 * 2**attempt)
        raise RuntimeError("the attachment could not be stored: concurrent writes kept conflicting")

    async def get(self, sha256: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        try:
            key = self.key(sha256)
        except ValueError:
            return None
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if _status(e) == 404 or _code(e) == "NoSuchKey":
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        if hashlib.sha256(data).hexdigest() != sha256:
            log.error("attachment_corrupt", sha256=sha256, bucket=self.bucket)
            raise CorruptBlob("the stored attachment does not match its hash")
        return data


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
