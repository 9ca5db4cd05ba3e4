"""Task inputs of every media type (image, video, audio), checked against Runway's limits.

An input may be an S3 object (``s3://bucket/key``), an HTTPS URL, a local file (a path or
``file://``), a data URI or a ``runway://`` upload. `resolve_asset` turns it into what the
request carries (`ResolvedAsset.wire_uri`) and the input's stable identity for the cache key
(``s3://bucket/key#etag``, ``sha256:...`` of the bytes, the URL without its signature, the
``runway://`` URI itself), after checking it locally the way Runway will:

- the kind: the bytes are sniffed (`sniff_media`) and must be what the field takes
  (`field_kind`): a WAV given to ``videoUri`` is refused, saying it is audio;
- the size for the transport (`limit_for`, from `prefect_runway.api.limits.MEDIA_LIMITS`):
  image 16 MB by URL and 5 MB as a data URI; video and audio 32 MB by URL and 16 MB as a
  data URI; 200 MB through an upload, for every kind;
- images are also decoded (`prefect_runway.images.check_image`).

A refusal is an `InputRejectedError` (`ImageRejectedError` for images) naming the field, the
value (redacted: never a presigned URL's query string), the limit and what to do. A storage
that fails (access denied, no such object, throttling) is an `ImageSourceError`: a failure of
this run, not of the input.

Example:
    ```python
    from prefect_runway.media import check_media, resolve_asset, sniff_media

    sniff_media(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")  # MediaType(kind='audio', ...)
    asset = await resolve_asset("s3://stills/cat.png", field="promptImage", kind=None, s3=s3)
    print(asset.transport, asset.identity)  # data_uri s3://stills/cat.png#<etag>
    ```
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from prefect_runway.api.limits import MEDIA_KINDS, MEDIA_LIMITS
from prefect_runway.api.models import check_image_uri, parse_data_uri, redact_url
from prefect_runway.errors import ImageRejectedError, ImageSourceError, InputRejectedError
from prefect_runway.images import check_image, sniff_image_type
from prefect_runway.ledger.keys import content_identity, url_identity

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from prefect_runway.api.client import AsyncRunwayClient
    from prefect_runway.s3.objects import S3Image

SNIFF_BYTES = 16
"""Bytes enough to tell every format `sniff_media` knows apart."""
TRANSPORTS: tuple[str, ...] = ("url", "data_uri", "upload")
"""How an input travels: fetched by Runway from a URL, inline, or an ephemeral upload."""

_FORMATS = {"image": "JPEG, PNG or WebP", "video": "MP4, MOV or WebM",
            "audio": "WAV, MP3, OGG, FLAC or M4A"}  # fmt: skip
_HOW = {"url": "by URL", "data_uri": "as a data URI", "upload": "through an upload"}
_FTYP_BRANDS = {
    b"qt  ": "video/quicktime", b"M4A ": "audio/mp4", b"M4B ": "audio/mp4",
    **dict.fromkeys([b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
                     b"M4V ", b"dash", b"mmp4"], "video/mp4"),
}  # fmt: skip
_FIELD_KINDS = {
    "promptImage": "image", "imageUri": "image", "referenceImages": "image",
    "videoUri": "video", "promptVideo": "video", "referenceVideos": "video",
    "audioUri": "audio", "referenceAudio": "audio",
}  # fmt: skip
"""Wire fields and the kind each takes; ``uri`` inside ``character``, ``reference`` or
``media`` objects takes any kind (not listed: `field_kind` answers None)."""
_ALLOWED = (
    "an s3://bucket/key, an https:// URL, a local file (a path or file://), a data: URI or a "
    "runway:// upload URI"
)


@dataclass(frozen=True)
class MediaType:
    """What the first bytes of a file say it is.

    Attributes:
        kind: ``image``, ``video`` or ``audio``.
        content_type: ``image/png``, ``video/mp4``, ``audio/wav``...
    """

    kind: str
    content_type: str


@dataclass(frozen=True)
class MediaInfo:
    """An input `check_media` accepted.

    Attributes:
        kind: ``image``, ``video`` or ``audio``.
        content_type: From the bytes, never from a name or a label.
        size: Bytes.
        warnings: An image's warnings (`prefect_runway.images.ImageInfo.warnings`).
    """

    kind: str
    content_type: str
    size: int
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedAsset:
    """An input ready for the request.

    Attributes:
        wire_uri: What the request's field carries (a presigned or given URL, a data URI, a
            ``runway://`` URI).
        identity: The input's stable identity for the cache key (same whatever the transport).
        transport: ``url``, ``data_uri`` or ``upload``.
        kind: ``image``, ``video`` or ``audio``; for a passed-through URL, what the field
            expects (None: any).
        content_type: From the bytes; None when they were not read (HTTPS, ``runway://``).
        size: Bytes; None when not known (HTTPS URLs are not fetched, ``runway://``).
    """

    wire_uri: str
    identity: str
    transport: str
    kind: str | None
    content_type: str | None
    size: int | None


def sniff_media(head: bytes) -> MediaType | None:
    """The kind and type of a file from its first bytes (`SNIFF_BYTES` are enough).

    Images as `prefect_runway.images.sniff_image_type` (a GIF is named, and refused later);
    video: MP4 and MOV (an ``ftyp`` box at offset 4), WebM (EBML); audio: WAV, MP3 (ID3 or
    an MPEG frame), OGG, FLAC, M4A (``ftyp`` brand ``M4A``).

    Example:
        ```python
        sniff_media(b"\\x00\\x00\\x00\\x18ftypmp42").content_type  # 'video/mp4'
        sniff_media(b"fLaC\\x00\\x00\\x00\\x22").kind              # 'audio'
        sniff_media(b"just text")                                 # None
        ```
    """
    image = sniff_image_type(head[:16])
    if image is not None:
        return MediaType("image", image)
    if head[4:8] == b"ftyp":
        brand = _FTYP_BRANDS.get(head[8:12])
        return MediaType(brand.split("/")[0], brand) if brand else None
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MediaType("video", "video/webm")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return MediaType("audio", "audio/wav")
    if head.startswith(b"ID3") or (
        len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06
    ):  # an MPEG audio frame: 11 sync bits, then a layer other than 00 (ADTS AAC)
        return MediaType("audio", "audio/mpeg")
    if head.startswith(b"OggS"):
        return MediaType("audio", "audio/ogg")
    if head.startswith(b"fLaC"):
        return MediaType("audio", "audio/flac")
    return None


def limit_for(kind: str, transport: str) -> int:
    """Runway's limit for `kind` sent by `transport`: bytes of the file by ``url`` and
    ``upload``, characters of the whole URI by ``data_uri``.

    Example:
        ```python
        limit_for("video", "url")       # 33554432 (32 MB)
        limit_for("image", "data_uri")  # 5242880 characters
        ```
    """
    try:
        return MEDIA_LIMITS[kind][transport]
    except KeyError:
        raise ValueError(
            f"no limit for kind {kind!r} by transport {transport!r}: kinds are "
            f"{', '.join(MEDIA_KINDS)}, transports {', '.join(TRANSPORTS)}"
        ) from None


def field_kind(field: str) -> str | None:
    """The media kind a wire field takes, or None when it takes any (or is not known).

    Example:
        ```python
        field_kind("videoUri")             # 'video'
        field_kind("referenceImages[0].uri")  # 'image'
        field_kind("character.uri")        # None: an image or a video
        ```
    """
    return _FIELD_KINDS.get(re.split(r"[.\[]", field, maxsplit=1)[0])


def data_uri_length(size: int, content_type: str) -> int:
    """Characters of the base64 data URI that carries `size` bytes of `content_type`."""
    return len(f"data:{content_type};base64,") + 4 * ((size + 2) // 3)


def check_media(
    data: bytes,
    source: str,
    *,
    kind: str | None = None,
    transport: str = "url",
    field: str = "input",
) -> MediaInfo:
    """Sniff `data`, check it is what `field` takes and fits `transport`; decode images.

    Args:
        data: The whole file.
        source: What a person sees in a message (``s3://b/k``, a file name): never a
            presigned URL.
        kind: The kind expected; None: what `field_kind` says of `field` (None again: any).
        transport: ``url``, ``data_uri`` or ``upload`` (`limit_for`).
        field: The wire field, named in messages.

    Raises:
        InputRejectedError: empty, of no known format, the wrong kind for the field, or
            over the transport's limit (``permanent`` False when another transport fits).
        ImageRejectedError: an image `prefect_runway.images.check_image` refuses.

    Example:
        ```python
        from prefect_runway.samples import sample_image

        check_media(sample_image(), "cat.png", field="promptImage").content_type  # 'image/png'
        ```
    """
    return _check(data, source, kind, transport, field, TRANSPORTS, None)


def _check(
    data: bytes,
    source: str,
    kind: str | None,
    transport: str,
    field: str,
    available: tuple[str, ...],
    uri_chars: int | None,
) -> MediaInfo:
    expected = _expected(kind, field)
    if not data:
        raise InputRejectedError(f"{field}: {source} is empty (0 bytes)")
    found = _sniffed(data[:SNIFF_BYTES], source, expected, field)
    if found.content_type == "image/gif":  # refused whatever its size: check_image says why
        _check_image(data, source, field)
    _check_size(field, source, found, len(data), transport, available, uri_chars)
    warnings: tuple[str, ...] = ()
    if found.kind == "image":
        warnings = _check_image(data, source, field)
    return MediaInfo(found.kind, found.content_type, len(data), warnings)


def _expected(kind: str | None, field: str) -> str | None:
    expected = kind if kind is not None else field_kind(field)
    if expected is not None and expected not in MEDIA_KINDS:
        raise ValueError(f"kind must be one of {', '.join(MEDIA_KINDS)} or None, not {kind!r}")
    return expected


def _sniffed(head: bytes, source: str, expected: str | None, field: str) -> MediaType:
    found = sniff_media(head)
    if found is None:
        if expected is None:
            raise InputRejectedError(
                f"{field}: {source} is not an image, video or audio file Runway reads (its "
                f"bytes match none of {_FORMATS['image']}, {_FORMATS['video']}, "
                f"{_FORMATS['audio']})"
            )
        raise InputRejectedError(
            f"{field}: {source} is not {_a(expected)} file Runway reads ({_FORMATS[expected]}; "
            "its bytes match none of them)"
        )
    if expected is not None and found.kind != expected:
        raise InputRejectedError(
            f"{field}: {source} is {found.kind} ({found.content_type}), but {field} takes "
            f"{expected}: give it {_a(expected)} file ({_FORMATS[expected]})"
        )
    return found


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _measure(found: MediaType, size: int, transport: str, uri_chars: int | None) -> int:
    if transport != "data_uri":
        return size
    return uri_chars if uri_chars is not None else data_uri_length(size, found.content_type)


def _check_size(
    field: str,
    source: str,
    found: MediaType,
    size: int,
    transport: str,
    available: tuple[str, ...],
    uri_chars: int | None = None,
) -> None:
    limit = limit_for(found.kind, transport)
    measured = _measure(found, size, transport, uri_chars)
    if measured <= limit:
        return
    fits = [t for t in available if t != transport
            and _measure(found, size, t, None) <= limit_for(found.kind, t)]  # fmt: skip
    if fits:
        advice = "send it with transport " + " or ".join(repr(t) for t in fits)
    else:
        advice = (f"no transport carries it: make it at most "
                  f"{limit_for(found.kind, 'upload')} bytes")  # fmt: skip
    if transport == "data_uri":
        what = (f"{source} is {size} bytes: as a data URI it would be {measured} characters, "
                f"over Runway's limit of {limit} characters for {found.kind} as a data URI")
    else:
        what = (f"{source} is {size} bytes, over Runway's limit of {limit} bytes for "
                f"{found.kind} {_HOW[transport]}")  # fmt: skip
    raise InputRejectedError(f"{field}: {what}; {advice}", permanent=not fits)


def _check_image(data: bytes, source: str, field: str) -> tuple[str, ...]:
    try:
        return check_image(data, source).warnings
    except ImageRejectedError as exc:
        raise ImageRejectedError(f"{field}: {exc}", permanent=exc.permanent) from None


# -- resolving an input ----------------------------------------------------------------------


async def resolve_asset(
    uri: str,
    *,
    field: str,
    kind: str | None,
    transport: str = "auto",
    s3: S3Client | None = None,
    client: AsyncRunwayClient | None = None,
    held: tuple[S3Image, bytes] | None = None,
) -> ResolvedAsset:
    """Check one input and turn it into what the request carries, with its identity.

    - ``s3://bucket/key``: HeadObject first (identity ``s3://bucket/key#etag``). ``url``: a
      presigned GET URL after a size check of the HEAD's length against the URL limit (an
      image is read and decoded as well, a video or audio file sniffed by its first bytes);
      ``data_uri`` and ``upload``: the bytes are read and checked, then inlined or uploaded.
      ``auto`` chooses as `prefect_runway.delivery` does for images: a data URI when it
      fits, else an upload when `client` can make one, else the presigned URL.
    - a local path or ``file://``: read and checked; ``auto`` inlines it when the data URI
      fits, else uploads it (which needs `client`); identity ``sha256:`` of the bytes.
    - ``data:``: decoded and checked as it is (its length against the data-URI limit, its
      label against its bytes' kind); identity ``sha256:`` of the bytes.
    - ``https://``: passed through after the URL checks Runway makes (length, domain host);
      its size is **not** fetched, so Runway's URL limits are checked by Runway alone.
      Identity: the URL without its signature (`prefect_runway.ledger.keys.url_identity`).
    - ``runway://``: passed through; the URI itself is the identity.

    Args:
        uri: The input.
        field: The wire field (``promptImage``, ``videoUri``...), named in messages.
        kind: The kind expected; None: what `field_kind` says (None again: any).
        transport: ``auto``, ``url``, ``data_uri`` or ``upload``.
        s3: A boto3 S3 client for ``s3://`` inputs (default: ``boto3.client("s3")``).
        client: An `AsyncRunwayClient` for uploads.
        held: An ``s3://`` input's object (ETag, size) and bytes, when the caller has just
            written them (a pipeline's stage output): checked the same, but not read again.

    Raises:
        InputRejectedError: another scheme (``http://``, ``ftp://``, empty), the wrong kind,
            over the limit, or a transport that cannot carry this input.
        ImageRejectedError: an image that cannot become a generation.
        ImageSourceError: S3 or the local file could not be read (access denied, no such
            object, throttling): not the input's fault, so the next run tries again.
    """
    expected = _expected(kind, field)
    if transport not in ("auto", *TRANSPORTS):
        raise ValueError(f"transport must be auto, {', '.join(TRANSPORTS)}, not {transport!r}")
    if not isinstance(uri, str) or not uri.strip():
        raise InputRejectedError(f"{field} is empty; give {_ALLOWED}")
    scheme = uri.split(":", 1)[0].lower() if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", uri) else ""
    if scheme == "s3":
        try:
            return await _from_s3(uri, field, expected, transport, s3, client, held)
        except ImageSourceError as exc:  # the storage's fault: named as such, field first
            raise ImageSourceError(f"{field}: {exc}") from None
    if scheme == "data":
        return _from_data_uri(uri, field, expected, transport)
    if scheme == "runway":
        _only(field, "a runway:// upload URI", transport, "upload")
        try:
            check_image_uri(uri, field)
        except ValueError as exc:
            raise InputRejectedError(str(exc)) from None
        return ResolvedAsset(uri, uri, "upload", expected, None, None)
    if scheme in ("http", "https"):
        return _from_url(uri, field, expected, transport, scheme)
    if scheme == "file" or not scheme or re.match(r"[A-Za-z]:[\\/]", uri):
        path = Path(unquote(urlsplit(uri).path)) if scheme == "file" else Path(uri)
        return await _from_file(path, uri, field, expected, transport, client)
    raise InputRejectedError(
        f"{field}: {redact_url(uri)!r} is not an input Runway can take (scheme {scheme!r}); "
        f"give {_ALLOWED}"
    )


def _only(field: str, what: str, transport: str, allowed: str) -> None:
    if transport not in ("auto", allowed):
        raise InputRejectedError(
            f"{field}: {what} travels as it is ({allowed!r}); transport {transport!r} cannot "
            "carry it: use 'auto'"
        )


def _from_url(
    uri: str, field: str, expected: str | None, transport: str, scheme: str
) -> ResolvedAsset:
    _only(field, "an https:// URL", transport, "url")
    try:
        check_image_uri(uri, field)  # Runway's URL rules (and local runs' loopback allowance)
    except ValueError as exc:
        if scheme != "https":
            raise InputRejectedError(
                f"{field}: {redact_url(uri)!r} is a plain http:// URL, which Runway does not "
                f"fetch; give {_ALLOWED}"
            ) from None
        raise InputRejectedError(str(exc)) from None
    return ResolvedAsset(uri, url_identity(uri), "url", expected, None, None)


def _from_data_uri(
    uri: str, field: str, expected: str | None, transport: str
) -> ResolvedAsset:
    shown = redact_url(uri)
    _only(field, "a data URI", transport, "data_uri")
    parsed = parse_data_uri(uri)
    if parsed is None:
        raise InputRejectedError(f"{field}: {shown!r} is not a valid data URI")
    try:
        data = parsed.decode()
    except ValueError as exc:
        raise InputRejectedError(f"{field}: {shown!r}: {exc}; encode it as base64") from None
    info = _check(data, shown, expected, "data_uri", field, TRANSPORTS, len(uri))
    declared = parsed.content_type.split("/")[0]
    if declared != info.kind:
        raise InputRejectedError(
            f"{field}: {shown!r} is labelled {parsed.content_type} but its bytes are "
            f"{info.content_type}; label it {info.content_type}"
        )
    return ResolvedAsset(uri, content_identity(data), "data_uri", info.kind,
                         info.content_type, info.size)  # fmt: skip


async def _from_file(
    path: Path,
    uri: str,
    field: str,
    expected: str | None,
    transport: str,
    client: AsyncRunwayClient | None,
) -> ResolvedAsset:
    source = str(path)
    if transport == "url":
        raise InputRejectedError(
            f"{field}: {source} is a local file, which Runway cannot fetch by URL; use "
            "transport 'auto', 'data_uri' or 'upload'"
        )
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        raise ImageSourceError(
            f"{field}: {source} cannot be read ({type(exc).__name__}: {exc.strerror}); "
            "nothing was submitted for it"
        ) from None
    available = ("data_uri", "upload")
    how = transport
    if how == "auto":
        found = _sniffed(data[:SNIFF_BYTES], source, expected, field) if data else None
        fits = found is None or data_uri_length(len(data), found.content_type) <= limit_for(
            found.kind, "data_uri"
        )
        how = "data_uri" if fits else "upload"
    info = await asyncio.to_thread(_check, data, source, expected, how, field, available, None)
    wire = await _ship(data, info, how, path.name, source, field, client)
    return ResolvedAsset(wire, content_identity(data), how, info.kind, info.content_type,
                         info.size)  # fmt: skip


async def _ship(
    data: bytes,
    info: MediaInfo,
    how: str,
    filename: str,
    source: str,
    field: str,
    client: AsyncRunwayClient | None,
) -> str:
    if how == "data_uri":
        return f"data:{info.content_type};base64,{base64.b64encode(data).decode()}"
    if client is None:
        raise InputRejectedError(
            f"{field}: {source} is {info.size} bytes and goes through an upload, which needs a "
            "client: pass client=AsyncRunwayClient(...)",
            permanent=False,
        )
    return await client.upload_image(data, filename, info.content_type)


async def _from_s3(
    uri: str,
    field: str,
    expected: str | None,
    transport: str,
    s3: S3Client | None,
    client: AsyncRunwayClient | None,
    held: tuple[S3Image, bytes] | None = None,
) -> ResolvedAsset:
    from prefect_runway.s3.objects import head_object, presigned_url, read_object

    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or not key:
        raise InputRejectedError(f"{field}: {uri!r} is not an s3://bucket/key URI")
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    storage: Any = s3
    if held is not None and held[0].uri == uri:
        obj, data = held
    else:
        obj = await asyncio.to_thread(head_object, storage, bucket, key)
        data = None
    if obj.size == 0:
        raise InputRejectedError(f"{field}: {obj.uri} is empty (0 bytes)")
    how = transport
    if how in ("auto", "url"):
        head = data[:SNIFF_BYTES] if data is not None else await asyncio.to_thread(
            read_object, storage, obj, f"bytes=0-{SNIFF_BYTES - 1}")  # fmt: skip
        found = _sniffed(head, obj.uri, expected, field)
        if how == "auto":
            uploads = client is not None and client.dialect.uploads
            if data_uri_length(obj.size, found.content_type) <= limit_for(found.kind, "data_uri"):
                how = "data_uri"
            else:
                how = "upload" if uploads else "url"
        if how == "url":
            _check_size(field, obj.uri, found, obj.size, "url", TRANSPORTS)
            if found.kind == "image":  # never paid for on the strength of its first bytes
                if data is None:
                    data = await asyncio.to_thread(read_object, storage, obj, None)
                await asyncio.to_thread(_check, data, obj.uri, expected, "url", field,
                                        TRANSPORTS, None)  # fmt: skip
            wire = presigned_url(storage, obj, found.content_type)
            return ResolvedAsset(wire, obj.identity, "url", found.kind, found.content_type,
                                 obj.size)  # fmt: skip
    if data is None:
        data = await asyncio.to_thread(read_object, storage, obj, None)
    info = await asyncio.to_thread(_check, data, obj.uri, expected, how, field, TRANSPORTS, None)
    wire = await _ship(data, info, how, key.rsplit("/", 1)[-1], obj.uri, field, client)
    return ResolvedAsset(wire, obj.identity, how, info.kind, info.content_type, info.size)
