"""Images judged by decoding them (Pillow: verify, then load), before anything is paid.

One check for the S3 flow (`prefect_runway.delivery`), the single-image task (data URIs)
and the CLI (files and data URIs). The first bytes name the format (JPEG, PNG, WebP; a GIF
is named as such); then Pillow verifies the file's structure and decodes every pixel, so a
truncated or corrupt file is rejected with Pillow's reason. Nothing is converted: what is
sent is the user's file, byte for byte, and these are **rejected**, saying what to do:

- CMYK (or any mode other than 8-bit grey, RGB, RGBA, palette): convert it to RGB;
- 16 bits per channel: save it with 8 bits per channel;
- animated (more than one frame): export the one frame to animate.

Dimensions, as documented (Runway's inputs page and the SDK's docstrings):

- enforced: each side under 8,000 px (Runway's "common error reasons" on its inputs page);
  ``h3_max``: each side at least 256 px; ``grok_imagine_1_5`` and ``_lite``: width / height
  between 0.4 and 2.5; and this package's own floor, each side at least `MIN_SIDE` px (a
  1x1 image is a placeholder, not a first frame);
- warned: width / height outside 0.4-2.5 for the other models (nothing documented for
  them; the output may be cropped or padded). Small images are not warned about: the
  models upscale them, and only h3_max documents a minimum.

Example:
    ```python
    from prefect_runway import sample_image
    from prefect_runway.images import check_image

    info = check_image(sample_image(), "cat.png", model="gen4_turbo")  # else ImageRejectedError
    print(info.content_type, info.width, info.height)  # image/png and its size in pixels
    ```
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from prefect_runway.api import limits
from prefect_runway.api.models import parse_data_uri
from prefect_runway.errors import ImageRejectedError

MAX_SIDE = limits.MAX_IMAGE_SIDE
"""Each side must be under this many pixels (Runway's inputs page, common error reasons)."""
MIN_SIDE = 4
"""This package's floor: a side of fewer pixels is no picture (a 1x1 tracking pixel)."""
ASPECT = limits.ASPECT_RATIO_RANGE
"""The width / height range documented for grok_imagine_1_5(_lite); warned for others."""
MODEL_MIN_SIDE = limits.MODEL_MIN_IMAGE_SIDE
MODEL_ASPECT = limits.MODEL_ASPECT_RATIO
SNIFF_BYTES = 16
"""Bytes enough to tell JPEG, PNG, WebP and GIF apart."""


def sniff_image_type(head: bytes) -> str | None:
    """The image type by magic bytes: ``image/jpeg``, ``image/png``, ``image/webp``, ``image/gif``.

    The one sniffing of the client side (the S3 flow, the CLI, `check_image`); the emulator
    has its own, pinned to the same verdicts by ``tests/test_contract.py``.

    Example:
        ```python
        sniff_image_type(b"\\x89PNG\\r\\n\\x1a\\n...")  # 'image/png'
        ```
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


_MODES = {"L", "RGB", "RGBA", "P", "LA"}
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ImageInfo:
    """What decoding found.

    Attributes:
        content_type: ``image/jpeg``, ``image/png`` or ``image/webp`` (from the bytes).
        width: Pixels across.
        height: Pixels down.
        warnings: Things documented nowhere as errors that may still hurt the output.
    """

    content_type: str
    width: int
    height: int
    warnings: tuple[str, ...] = field(default=())


def check_image(data: bytes, source: str, model: str | None = None) -> ImageInfo:
    """Decode `data` and reject what Runway cannot use, before anything is paid.

    Args:
        data: The whole file.
        source: What a person sees in the message (``s3://b/k``, a file name).
        model: The model it is for (per-model documented limits); None: general limits only.

    Returns:
        The type, size and warnings of a usable image.

    Raises:
        ImageRejectedError: not JPEG/PNG/WebP, truncated or corrupt, CMYK, 16-bit,
            animated, too small or too large (permanent: the bytes are the reason).
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageRejectedError(f"{source} is empty (0 bytes)")
    sniffed = sniff_image_type(data[:16])
    if sniffed == "image/gif":
        raise ImageRejectedError(f"{source} is a GIF; Runway accepts JPEG, PNG or WebP")
    if sniffed is None:
        raise ImageRejectedError(
            f"{source} is not a JPEG, PNG or WebP image (its bytes match none of them)"
        )
    def undecodable(exc: BaseException) -> ImageRejectedError:
        return ImageRejectedError(
            f"{source} cannot be decoded as {sniffed.split('/')[1].upper()} "
            f"({type(exc).__name__}: {exc}); it is truncated or corrupt"
        )

    broken = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:  # the header first: what it shows is refused before any pixel is decoded
            with Image.open(io.BytesIO(data)) as image:
                fmt, mode, (width, height) = image.format, image.mode, image.size
                frames = getattr(image, "n_frames", 1)
                bits = _bits(image, data)
        except broken as exc:
            raise undecodable(exc) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejectedError(f"{source} is too large to decode safely ({exc})") from None
        _check_kind(source, sniffed, fmt, mode, frames, bits)
        found = _check_size(source, width, height, model)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure and checksums, without decoding
            with Image.open(io.BytesIO(data)) as image:
                if image.format == "JPEG":  # every byte decoded, an eighth of the pixels kept
                    image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
                image.load()  # every pixel: a truncated file fails here
        except broken as exc:
            raise undecodable(exc) from None
    return ImageInfo(sniffed, width, height, found)


def _check_kind(
    source: str, sniffed: str, fmt: str | None, mode: str, frames: int, bits: int
) -> None:
    if _FORMATS.get(fmt or "") != sniffed:
        raise ImageRejectedError(f"{source} starts like {sniffed} but decodes as {fmt}")
    if frames > 1:
        raise ImageRejectedError(
            f"{source} is animated ({frames} frames); rejected, not converted: Runway takes "
            "one still image, so export the frame to animate as a JPEG, PNG or WebP"
        )
    if bits > 8:
        raise ImageRejectedError(
            f"{source} has {bits} bits per channel ({mode}); rejected, not converted: save it "
            "with 8 bits per channel (RGB or RGBA)"
        )
    if mode not in _MODES:
        raise ImageRejectedError(
            f"{source} is {mode} ({_MODE_NAMES.get(mode, 'not RGB')}); rejected, not "
            "converted: convert it to RGB first"
        )


_MODE_NAMES = {"CMYK": "a CMYK print colour space", "YCbCr": "YCbCr", "LAB": "CIELAB",
               "I": "32-bit integer", "F": "32-bit float", "1": "1-bit"}  # fmt: skip


def _bits(image: object, data: bytes) -> int:
    """Bits per channel: Pillow loads 16-bit RGB PNGs as 8-bit RGB, so PNGs are read from
    their header (IHDR's bit depth, byte 24)."""
    mode = getattr(image, "mode", "")
    if mode.startswith("I;16"):
        return 16
    if mode in ("I", "F"):
        return 32
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24 and data[12:16] == b"IHDR":
        return max(data[24], 8) if data[25] != 3 else 8  # palette indices are not channels
    return 8


def _check_size(source: str, width: int, height: int, model: str | None) -> tuple[str, ...]:
    shown = f"{source} is {width}x{height} px"
    if width >= MAX_SIDE or height >= MAX_SIDE:
        raise ImageRejectedError(f"{shown}; Runway accepts images under {MAX_SIDE} px a side")
    floor = MODEL_MIN_SIDE.get(model or "", MIN_SIDE)
    if min(width, height) < floor:
        whose = f"{model} needs" if model in MODEL_MIN_SIDE else "this package needs"
        raise ImageRejectedError(f"{shown}; {whose} at least {floor} px on each side")
    ratio = width / height
    low, high = MODEL_ASPECT.get(model or "", (0.0, float("inf")))
    if not low <= ratio <= high:
        raise ImageRejectedError(
            f"{shown} (width / height {ratio:.2f}); {model} accepts {low} to {high}"
        )
    found = []
    if model not in MODEL_ASPECT and not ASPECT[0] <= ratio <= ASPECT[1]:
        found.append(
            f"{shown} (width / height {ratio:.2f}): outside {ASPECT[0]}-{ASPECT[1]}, the "
            "output may be cropped or padded"
        )
    return tuple(found)


def data_uri_bytes(uri: str, source: str) -> bytes:
    """The bytes a ``data:...;base64,`` URI carries (read by `parse_data_uri`).

    Raises:
        ImageRejectedError: not a data URI, not base64, or not decodable.
    """
    parsed = parse_data_uri(uri)
    if parsed is None or not parsed.is_base64:
        raise ImageRejectedError(f"{source}: the data URI is not base64-encoded")
    try:
        return parsed.decode()
    except ValueError:
        raise ImageRejectedError(f"{source}: the data URI's base64 is invalid") from None


def check_data_uri(uri: str, source: str, model: str | None = None) -> ImageInfo:
    """`check_image` for a data URI, whose declared type must also match its bytes.

    Raises:
        ImageRejectedError: as `check_image`, or the URI says ``image/png`` of a JPEG.
    """
    info = check_image(data_uri_bytes(uri, source), source, model)
    parsed = parse_data_uri(uri)
    declared = parsed.content_type if parsed is not None else ""
    if declared and declared not in (info.content_type, "image/jpg"):
        raise ImageRejectedError(
            f"{source} is labelled {declared} but its bytes are {info.content_type}"
        )
    return info
