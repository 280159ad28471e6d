"""Attachments: what the content really is, images without their metadata, and storage.

The type is read from the bytes (magic numbers), never from the file name or the
client's Content-Type. Images are decoded and re-encoded by Pillow, which drops
EXIF (GPS position, camera serial, time) and anything hidden after the image data;
a file that does not decode is refused. Blobs are stored content-addressed by their
SHA-256 behind ``BlobStore``: local disk in development, an S3-compatible store in
production (only the interface and the local disk store exist yet).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps, UnidentifiedImageError

from careflow.kit.domain import Invalid

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
ALLOWED = (JPEG, PNG, WEBP, PDF)
#: Pixels an image may decode to; larger is refused before decoding (decompression bombs).
MAX_PIXELS = 40_000_000


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
        out = data
    else:
        out = _reencode(data, media_type)
        if len(out) > max_bytes:
            raise TooLarge(f"an attachment may be at most {max_bytes} bytes")
    return Cleaned(out, media_type, hashlib.sha256(out).hexdigest())


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


class BlobStore(Protocol):
    """Where attachment bytes live, addressed by their SHA-256 (hex)."""

    async def put(self, sha256: str, data: bytes) -> None:
        """Store ``data`` under ``sha256`` (a no-op when it is already there)."""

    async def get(self, sha256: str) -> bytes | None:
        """The bytes stored under ``sha256``, or None."""


class LocalDiskStore:
    """Development store: ``root/ab/cd/<sha256>``, written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
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
