"""A tiny, valid, deterministic MP4 file (ISO BMFF) served as every task's output."""

from __future__ import annotations

import struct


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ftyp() -> bytes:
    return _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")


def _mvhd(timescale: int, duration: int) -> bytes:
    matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    payload = (
        struct.pack(">I", 0)  # version 0, flags 0
        + struct.pack(">IIII", 0, 0, timescale, duration)  # creation, modification, scale, dur
        + struct.pack(">I", 0x00010000)  # rate 1.0
        + struct.pack(">H", 0x0100)  # volume 1.0
        + b"\x00" * 10  # reserved
        + matrix
        + b"\x00" * 24  # pre_defined
        + struct.pack(">I", 2)  # next_track_ID
    )
    return _box(b"mvhd", payload)


def build_mp4(duration_seconds: int = 5, mdat_size: int = 2048) -> bytes:
    """Build a small MP4: ``ftyp`` (brand ``isom``), ``moov`` holding ``mvhd``, then ``mdat``.

    Args:
        duration_seconds: Duration recorded in ``mvhd``.
        mdat_size: Number of (deterministic) payload bytes in ``mdat``.

    Returns:
        The file bytes; identical for identical arguments.
    """
    timescale = 1000
    moov = _box(b"moov", _mvhd(timescale, duration_seconds * timescale))
    mdat = _box(b"mdat", bytes(i % 251 for i in range(mdat_size)))
    return _ftyp() + moov + mdat


VIDEO_MP4: bytes = build_mp4()
"""The bytes served at ``/_emulator/videos/<id>.mp4``."""
