"""Attachments: what the content really is, images without their metadata, and storage.

The type is read from the bytes (magic numbers), never from the file name or the
client's Content-Type. Images are decoded and re-encoded by Pillow, which drops
EXIF (GPS position, camera serial, time) and anything hidden after the image data;
a file that does not decode is refused. Decoding runs in a small thread pool, never on
the event loop, and at most ``DECODERS`` at a time, with a pixel cap a 512 Mi pod can
afford. PDFs are stored as sent, so a PDF with active content (JavaScript, actions run
on opening, launches, embedded files, forms that submit) is refused. Blobs are stored
content-addressed by their SHA-256 in a ``careflow.chat.blobs.BlobStore``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import zlib
from collections.abc import AsyncIterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
