"""Sample images for local runs and tests, made without an imaging library."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 64, height: int = 36, rgb: tuple[int, int, int] = (40, 90, 200)) -> bytes:
    """A valid RGB PNG of one colour with a lighter diagonal band.

    Example:
        ```python
        png(16, 9, (255, 0, 0))[:8]  # b'\\x89PNG\\r\\n\\x1a\\n'
        ```
    """
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            band = abs(x * height - y * width) < width * 2
            rows += bytes(min(c + 80, 255) for c in rgb) if band else bytes(rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
"""A 1x1 GIF: a real image format Runway refuses."""


def wav(seconds: float = 0.25, rate: int = 8000) -> bytes:
    """A valid mono 16-bit PCM WAV of silence (every audio task's output in the emulator)."""
    frames = b"\x00\x00" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


WAV = wav()
"""The audio every audio task outputs."""
