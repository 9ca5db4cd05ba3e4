"""Parsing of the S3-style multipart upload and sniffing of image, video and audio bytes."""

from __future__ import annotations

import email.parser
import email.policy

from prefect_runway.api import limits as LIMITS  # data only: the published input limits

MB = LIMITS.MB
MAX_UPLOAD_BYTES = LIMITS.MAX_UPLOAD_BYTES


def parse_form(content_type: str, body: bytes) -> dict[str, bytes]:
    """Parse a ``multipart/form-data`` body with the stdlib ``email`` parser.

    Args:
        content_type: The request's ``Content-Type`` header (with its boundary).
        body: The raw request body.

    Returns:
        Field name to raw value bytes (the last value wins for a repeated name).

    Raises:
        ValueError: When the body is not multipart/form-data.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        raise ValueError("Content-Type must be multipart/form-data")
    header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise ValueError("body is not multipart")
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields[name] = payload
    return fields


def sniff_image(data: bytes) -> str | None:
    """Return ``image/jpeg``, ``image/png`` or ``image/webp`` from magic bytes, else None.

    The emulator's own sniffing (it may not import the client's ``sniff_image_type``); a GIF
    is None here, as is any type outside ``limits.IMAGE_CONTENT_TYPES``. Pinned to the
    client's verdicts by ``tests/test_contract.py``.
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


_MEDIA_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, M4A (ISO base media)
    (0, b"\x1a\x45\xdf\xa3"),  # WebM / Matroska (EBML)
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"ID3"),  # MP3 with an ID3 tag
)


def sniff_upload(data: bytes) -> bool:
    """Whether an ephemeral upload's bytes are an image (`sniff_image`), a video or audio
    file (MP4/MOV/M4A, WebM, WAV, OGG, FLAC, MP3): Runway's uploads take every media type."""
    if sniff_image(data) is not None:
        return True
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return True
    if len(data) >= 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0 and data[1] & 0x06:
        return True  # an MPEG audio frame (layer bits not 00)
    return any(data[at : at + len(magic)] == magic for at, magic in _MEDIA_MAGIC)
