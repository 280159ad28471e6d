"""Attachments: what the content really is, images without their metadata, and storage.

The type is read from the bytes (magic numbers), never from the file name or the
client's Content-Type. Images are decoded and re-encoded by Pillow, which drops
EXIF (GPS position, camera serial, time) and anything hidden after the image data;
a file that does not decode is refused. Decoding runs in a small thread pool, never on
the event loop, and at most ``DECODERS`` at a time, with a pixel cap a 512 Mi pod can
afford. PDFs are stored as sent, so a PDF with active content (JavaScript, actions run
on opening, launches, embedded files, forms that submit) is refused. Blobs are stored
content-addressed by their SHA-256 behind ``BlobStore``: local disk in development, an
S3-compatible store in production (``S3Store``), chosen by ``CAREFLOW_ATTACHMENTS_STORE``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import re
import tempfile
import zlib
from collections.abc import AsyncIterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from PIL import Image, ImageOps, UnidentifiedImageError

from careflow.kit.domain import Invalid

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
ALLOWED = (JPEG, PNG, WEBP, PDF)
#: Pixels an image may decode to; larger is refused before decoding (decompression bombs).
#: 12 megapixels (a phone photo) decode to at most about 48 MB in RGBA.
MAX_PIXELS = 12_000_000
#: Attachments decoded at once (each in a worker thread, off the event loop).
DECODERS = 2
_decoders = ThreadPoolExecutor(max_workers=DECODERS, thread_name_prefix="chat-decode")
#: PDF names that run something or carry something: JavaScript, actions (on opening, on
#: events), launching programs, embedded files, rich media, XFA and submitting forms.
_ACTIVE_PDF_NAMES = re.compile(
    rb"/(JavaScript|JS|OpenAction|AA|Launch|EmbeddedFiles?|RichMedia|XFA|SubmitForm|ImportData"
    rb"|GoToR|GoToE)(?![A-Za-z0-9])"
)
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"(?<![A-Za-z])stream\r?\n")
_PDF_LENGTH = re.compile(rb"/Length\s+(\d+)(?![\d\s]*R)")
#: Bytes decompressed out of one PDF's streams to look for active content in them.
MAX_PDF_INFLATED = 50_000_000


class TooLarge(Invalid):
    """The upload is over the size limit (HTTP 413)."""

    status_code = 413


class UnsupportedType(Invalid):
    """The content is not an image or PDF we accept (HTTP 415)."""

    status_code = 415


def sniff(data: bytes) -> str | None:
    """The media type the bytes themselves declare, or None when not one we accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    return None


@dataclass(frozen=True)
class Cleaned:
    """An accepted attachment, ready to store."""

    data: bytes
    media_type: str
    sha256: str

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def clean(data: bytes, max_bytes: int) -> Cleaned:
    """Check an upload by its content and strip image metadata; raises a 4xx error otherwise."""
    if not data:
        raise Invalid("the attachment is empty")
    if len(data) > max_bytes:
        raise TooLarge(f"an attachment may be at most {max_bytes} bytes")
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedType("only JPEG, PNG and WebP images and PDF documents are accepted")
    if media_type == PDF:
        # A truncated or disguised PDF has no end-of-file marker near its end.
        if b"%%EOF" not in data[-1024:]:
            raise UnsupportedType("the PDF is incomplete or not a PDF")
        if pdf_has_active_content(data):
            raise UnsupportedType(
                "the PDF carries active content (JavaScript, actions, launches or embedded "
                "files); print it to a plain PDF or send a picture of it"
            )
        out = data
    else:
        out = _reencode(data, media_type)
        if len(out) > max_bytes:
            raise TooLarge(f"an attachment may be at most {max_bytes} bytes")
    return Cleaned(out, media_type, hashlib.sha256(out).hexdigest())


async def clean_off_loop(data: bytes, max_bytes: int) -> Cleaned:
    """``clean`` in a decoding worker: the event loop keeps serving while images decode."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_decoders, clean, data, max_bytes)


def pdf_has_active_content(data: bytes) -> bool:
    """True when the PDF names JavaScript, an action, a launch or an embedded file.

    Names are read with their ``#xx`` escapes undone, in the PDF's own syntax (outside
    its streams, whose binary data would give false alarms) and inside its object
    streams, which hide dictionaries in compressed streams.
    """
    budget = MAX_PDF_INFLATED
    pos = 0
    while (found := _PDF_STREAM.search(data, pos)) is not None:
        head = data[pos : found.start()]
        if _active(head):
            return True
        since = head.rfind(b"obj")
        dictionary = _unescape(head[since:] if since >= 0 else head[-4096:])
        start = found.end()
        end = _stream_end(data, start, dictionary)
        if b"/ObjStm" in dictionary:
            inflater = zlib.decompressobj()
            try:
                inflated = inflater.decompress(data[start:end], budget)
            except zlib.error:
                return True  # an object stream we cannot read is not one we can vouch for
            budget -= len(inflated)
            if budget <= 0 or _active(inflated):
                return True
        pos = end
    return _active(data[pos:])


def _stream_end(data: bytes, start: int, dictionary: bytes) -> int:
    """Where a stream's data ends: its direct ``/Length`` if ``endstream`` follows it."""
    length = _PDF_LENGTH.search(dictionary)
    if length is not None:
        end = start + int(length.group(1))
        if data[end : end + 32].lstrip().startswith(b"endstream"):
            return end
    end = data.find(b"endstream", start)
    return len(data) if end < 0 else end


def _unescape(data: bytes) -> bytes:
    return _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def _active(data: bytes) -> bool:
    return _ACTIVE_PDF_NAMES.search(_unescape(data)) is not None


async def read_within(
    chunks: AsyncIterable[bytes], max_bytes: int, declared_bytes: int | None = None
) -> bytes:
    """An upload's body, refused (413) as soon as it is known to be over ``max_bytes``.

    A declared length over the limit is refused before anything is read; a body that
    grows past it is refused without reading the rest.
    """
    if declared_bytes is not None and declared_bytes > max_bytes:
        raise TooLarge(f"an attachment may be at most {max_bytes} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"an attachment may be at most {max_bytes} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _reencode(data: bytes, media_type: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise TooLarge(f"an image may have at most {MAX_PIXELS} pixels")
            probe.load()
            # Keep the picture upright once the EXIF orientation tag is gone.
            image = ImageOps.exif_transpose(probe)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UnsupportedType("the image cannot be read") from None
    buffer = io.BytesIO()
    if media_type == JPEG:
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=90)
    elif media_type == PNG:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "WEBP", quality=90)
    return buffer.getvalue()


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


def store_for(settings: ChatSettings) -> BlobStore:
    """The blob store the settings choose (``CAREFLOW_ATTACHMENTS_STORE``)."""
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


class LocalDiskStore:
    """Development store: ``root/ab/cd/<sha256>``, written atomically (temp file + rename)."""

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
