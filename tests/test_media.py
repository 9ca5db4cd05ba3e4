"""Inputs of every media type (`prefect_runway.media`): sniffing, Runway's limits per kind and
transport, and resolving S3 objects (moto's server), local files, data URIs, HTTPS and
``runway://`` inputs, uploads going to the emulator over loopback."""

from __future__ import annotations

import base64
import io
import pickle
import struct
import wave

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

import prefect_runway
from prefect_runway.api.limits import MB, MEDIA_LIMITS
from prefect_runway.errors import (
    ImageRejectedError,
    ImageSourceError,
    InputRejectedError,
    RunwayValidationError,
)
from prefect_runway.ledger.keys import content_identity
from prefect_runway.media import (
    MediaType,
    check_media,
    data_uri_length,
    field_kind,
    limit_for,
    resolve_asset,
    sniff_media,
)
from prefect_runway.testing.emulator.samples import GIF, png
from tests._support import BUCKET
from tests._support.runway import async_client_for

# -- tiny media files, made here --------------------------------------------------------------


def make_wav(frames: int = 400) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * frames)
    return out.getvalue()


def make_mp4(brand: bytes = b"isom", payload: int = 200) -> bytes:
    ftyp = b"ftyp" + brand + struct.pack(">I", 0x200) + b"isommp41"
    mdat = b"mdat" + bytes(i % 251 for i in range(payload))
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 4 + len(mdat)) + mdat


WAV = make_wav()
MP4 = make_mp4()
PNG = png(32, 18)
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01" + b"webm" + b"\x00" * 64
KIND_SAMPLES = {"image": (PNG, "image/png"), "video": (MP4, "video/mp4"),
                "audio": (WAV, "audio/wav")}  # fmt: skip


def data_uri(data: bytes, content_type: str) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


# -- sniffing, fields, limits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PNG, MediaType("image", "image/png")),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", MediaType("image", "image/jpeg")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", MediaType("image", "image/webp")),
        (GIF, MediaType("image", "image/gif")),
        (MP4, MediaType("video", "video/mp4")),
        (make_mp4(b"mp42"), MediaType("video", "video/mp4")),
        (make_mp4(b"qt  "), MediaType("video", "video/quicktime")),
        (make_mp4(b"M4A "), MediaType("audio", "audio/mp4")),
        (WEBM, MediaType("video", "video/webm")),
        (WAV, MediaType("audio", "audio/wav")),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", MediaType("audio", "audio/mpeg")),
        (b"\xff\xfb\x90\x64\x00\x00", MediaType("audio", "audio/mpeg")),
        (b"OggS\x00\x02\x00\x00", MediaType("audio", "audio/ogg")),
        (b"fLaC\x00\x00\x00\x22", MediaType("audio", "audio/flac")),
        (b"\xff\xf1\x50\x80", None),  # ADTS AAC: layer bits 00, no MPEG audio frame
        (make_mp4(b"heic"), None),  # an ISO box of an image format Runway does not take
        (b"just some text", None),
        (b"", None),
    ],
)
def test_sniff_media_names_the_kind_and_type_by_the_bytes(head, expected):
    assert sniff_media(head[:16]) == expected


@pytest.mark.parametrize(
    ("field", "kind"),
    [("promptImage", "image"), ("promptImage[1].uri", "image"), ("imageUri", "image"),
     ("referenceImages[0].uri", "image"), ("videoUri", "video"), ("promptVideo", "video"),
     ("referenceVideos[2]", "video"), ("audioUri", "audio"), ("referenceAudio", "audio"),
     ("character.uri", None), ("reference.uri", None), ("media.uri", None), ("input", None)],
)  # fmt: skip
def test_field_kind_is_a_small_table(field, kind):
    assert field_kind(field) == kind


def test_the_limits_are_runways_documented_ones():
    assert {k: dict(v) for k, v in MEDIA_LIMITS.items()} == {
        "image": {"url": 16 * MB, "data_uri": 5 * MB, "upload": 200 * MB},
        "video": {"url": 32 * MB, "data_uri": 16 * MB, "upload": 200 * MB},
        "audio": {"url": 32 * MB, "data_uri": 16 * MB, "upload": 200 * MB},
    }
    assert limit_for("audio", "url") == 33_554_432
    with pytest.raises(ValueError, match="no limit for kind 'text' by transport 'url'"):
        limit_for("text", "url")


# -- check_media: every kind x transport at the boundary --------------------------------------


@pytest.mark.parametrize("transport", ["url", "data_uri", "upload"])
@pytest.mark.parametrize("kind", ["image", "video", "audio"])
def test_every_kind_and_transport_is_checked_at_its_limit(kind, transport, monkeypatch):
    data, content_type = KIND_SAMPLES[kind]
    at_limit = data_uri_length(len(data), content_type) if transport == "data_uri" else len(data)
    monkeypatch.setitem(MEDIA_LIMITS[kind], transport, at_limit)
    info = check_media(data, "in/x", kind=kind, transport=transport)
    assert (info.kind, info.content_type, info.size) == (kind, content_type, len(data))

    monkeypatch.setitem(MEDIA_LIMITS[kind], transport, at_limit - 1)
    with pytest.raises(InputRejectedError) as caught:
        check_media(data, "in/x", kind=kind, transport=transport, field="someField")
    size = len(data)
    if transport == "data_uri":
        what = (f"in/x is {size} bytes: as a data URI it would be {at_limit} characters, over "
                f"Runway's limit of {at_limit - 1} characters for {kind} as a data URI")
    else:
        how = {"url": "by URL", "upload": "through an upload"}[transport]
        what = f"in/x is {size} bytes, over Runway's limit of {at_limit - 1} bytes for {kind} {how}"
    fits = [repr(t) for t in ("url", "data_uri", "upload") if t != transport]
    assert str(caught.value) == f"someField: {what}; send it with transport {' or '.join(fits)}"
    assert caught.value.permanent is False


def test_too_large_for_every_transport_is_permanent(monkeypatch):
    for transport in ("url", "data_uri", "upload"):
        monkeypatch.setitem(MEDIA_LIMITS["audio"], transport, 100)
    with pytest.raises(InputRejectedError) as caught:
        check_media(WAV, "s3://stills/a.wav", transport="upload", field="audioUri")
    assert str(caught.value) == (
        f"audioUri: s3://stills/a.wav is {len(WAV)} bytes, over Runway's limit of 100 bytes for "
        "audio through an upload; no transport carries it: make it at most 100 bytes"
    )
    assert caught.value.permanent is True


def test_a_wav_given_to_a_video_field_is_refused_as_audio():
    with pytest.raises(InputRejectedError) as caught:
        check_media(WAV, "a.wav", field="videoUri")
    assert str(caught.value) == (
        "videoUri: a.wav is audio (audio/wav), but videoUri takes video: give it a video file "
        "(MP4, MOV or WebM)"
    )
    with pytest.raises(InputRejectedError) as caught:
        check_media(MP4, "clip.mp4", field="promptImage")
    assert str(caught.value) == (
        "promptImage: clip.mp4 is video (video/mp4), but promptImage takes image: give it an "
        "image file (JPEG, PNG or WebP)"
    )
    assert check_media(MP4, "clip.mp4", field="character.uri").kind == "video"


def test_unknown_bytes_and_empty_files_are_named():
    with pytest.raises(InputRejectedError) as caught:
        check_media(b"just some text", "notes.txt")
    assert str(caught.value) == (
        "input: notes.txt is not an image, video or audio file Runway reads (its bytes match none "
        "of JPEG, PNG or WebP, MP4, MOV or WebM, WAV, MP3, OGG, FLAC or M4A)"
    )
    with pytest.raises(InputRejectedError) as caught:
        check_media(b"just some text", "notes.txt", kind="audio", field="audioUri")
    assert str(caught.value) == (
        "audioUri: notes.txt is not an audio file Runway reads (WAV, MP3, OGG, FLAC or M4A; its "
        "bytes match none of them)"
    )
    with pytest.raises(InputRejectedError, match=r"^videoUri: e.mp4 is empty \(0 bytes\)$"):
        check_media(b"", "e.mp4", field="videoUri")


def test_images_are_decoded_too():
    with pytest.raises(ImageRejectedError) as caught:
        check_media(GIF, "anim.gif", field="promptImage")
    assert str(caught.value) == "promptImage: anim.gif is a GIF; Runway accepts JPEG, PNG or WebP"
    with pytest.raises(ImageRejectedError, match=r"^promptImage: cut.png cannot be decoded as PNG"):
        check_media(PNG[:60], "cut.png", field="promptImage")


def test_the_errors_tree_and_pickling():
    assert issubclass(InputRejectedError, RunwayValidationError)
    assert issubclass(ImageRejectedError, InputRejectedError)
    assert issubclass(InputRejectedError, ValueError)
    assert prefect_runway.InputRejectedError is InputRejectedError
    assert "InputRejectedError" in prefect_runway.__all__
    errors = [InputRejectedError("too big", permanent=False), ImageRejectedError("a GIF"),
              ImageRejectedError("changed", permanent=False)]  # fmt: skip
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert (type(again), str(again), again.permanent) == (
            type(error), str(error), error.permanent
        )


# -- resolve_asset: S3 ------------------------------------------------------------------------


def _put(s3, key: str, body: bytes) -> str:
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')


async def test_s3_image_auto_goes_inline_with_the_etag_identity(s3):
    etag = _put(s3, "in/cat.png", PNG)
    asset = await resolve_asset("s3://stills/in/cat.png", field="promptImage", kind=None, s3=s3)
    assert asset.wire_uri == data_uri(PNG, "image/png")
    assert (asset.identity, asset.transport, asset.kind, asset.content_type, asset.size) == (
        f"s3://stills/in/cat.png#{etag}", "data_uri", "image", "image/png", len(PNG)
    )


async def test_held_bytes_are_checked_the_same_and_not_read_again(s3):
    """A pipeline feeds a stage output it has just written from memory: same wire URI and
    identity as reading it, no S3 request, and bad bytes are refused all the same."""
    from prefect_runway.s3.objects import S3Image
    from prefect_runway.tasks import generation_job

    etag = _put(s3, "in/cat.png", PNG)
    held = (S3Image(BUCKET, "in/cat.png", etag, len(PNG)), PNG)
    read = await resolve_asset("s3://stills/in/cat.png", field="promptImage", kind=None, s3=s3)
    kept = await resolve_asset("s3://stills/in/cat.png", field="promptImage", kind=None,
                               s3=object(), held=held)  # any S3 request would fail  # fmt: skip
    assert (kept.wire_uri, kept.identity, kept.transport) == (
        read.wire_uri, read.identity, read.transport
    )
    with pytest.raises(InputRejectedError, match="promptImage"):
        await resolve_asset("s3://stills/in/cat.png", field="promptImage", kind=None,
                            s3=object(), held=(held[0], b"not an image at all"))  # fmt: skip
    request = {"model": "gen4_turbo", "promptImage": "s3://stills/in/cat.png", "ratio": "1280:720"}
    from prefect_runway.api.requests import GenerationRequest

    asked = await generation_job(GenerationRequest(endpoint="image_to_video", body=request), s3=s3)
    given = await generation_job(GenerationRequest(endpoint="image_to_video", body=request),
                                 s3=object(), held={"s3://stills/in/cat.png": held})  # type: ignore[arg-type]  # fmt: skip
    assert given.identities == asked.identities  # the same key: a rerun pays nothing


async def test_s3_video_auto_uploads_when_it_does_not_fit_inline(s3, emulator, monkeypatch):
    etag = _put(s3, "in/clip.mp4", MP4)
    monkeypatch.setitem(MEDIA_LIMITS["video"], "data_uri", 100)
    async with async_client_for(emulator) as client:
        asset = await resolve_asset("s3://stills/in/clip.mp4", field="videoUri", kind=None,
                                    s3=s3, client=client)  # fmt: skip
    assert asset.wire_uri.startswith("runway://uploads/")
    assert emulator._state.upload_ready(asset.wire_uri.rsplit("/", 1)[1])
    assert (asset.identity, asset.transport, asset.content_type) == (
        f"s3://stills/in/clip.mp4#{etag}", "upload", "video/mp4"
    )
    # without a client, auto falls back to a presigned URL: the same identity
    by_url = await resolve_asset("s3://stills/in/clip.mp4", field="videoUri", kind=None, s3=s3)
    assert by_url.transport == "url" and by_url.identity == asset.identity
    assert "Signature=" in by_url.wire_uri and "response-content-type=video%2Fmp4" in (
        by_url.wire_uri
    )


@pytest.mark.parametrize(("kind", "key"), [("audio", "in/a.wav"), ("video", "in/clip.mp4")])
async def test_s3_by_url_is_checked_against_the_heads_size(s3, monkeypatch, kind, key):
    data, content_type = KIND_SAMPLES[kind]
    _put(s3, key, data)
    field = f"{kind}Uri"
    monkeypatch.setitem(MEDIA_LIMITS[kind], "url", len(data))
    asset = await resolve_asset(f"s3://stills/{key}", field=field, kind=None, s3=s3,
                                transport="url")  # fmt: skip
    assert (asset.transport, asset.content_type, asset.size) == ("url", content_type, len(data))
    monkeypatch.setitem(MEDIA_LIMITS[kind], "url", len(data) - 1)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(f"s3://stills/{key}", field=field, kind=None, s3=s3, transport="url")
    assert str(caught.value) == (
        f"{field}: s3://stills/{key} is {len(data)} bytes, over Runway's limit of "
        f"{len(data) - 1} bytes for {kind} by URL; send it with transport 'data_uri' or 'upload'"
    )
    assert "X-Amz" not in str(caught.value) and "?" not in str(caught.value)


async def test_s3_data_uri_and_upload_transports_check_the_bytes(s3, emulator, monkeypatch):
    _put(s3, "in/a.wav", WAV)
    asset = await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=s3,
                                transport="data_uri")  # fmt: skip
    assert asset.wire_uri == data_uri(WAV, "audio/wav")
    async with async_client_for(emulator) as client:
        up = await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=s3,
                                 transport="upload", client=client)  # fmt: skip
    assert up.transport == "upload" and up.wire_uri.startswith("runway://")
    monkeypatch.setitem(MEDIA_LIMITS["audio"], "data_uri", 100)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=s3,
                            transport="data_uri")  # fmt: skip
    chars = data_uri_length(len(WAV), "audio/wav")
    assert str(caught.value) == (
        f"audioUri: s3://stills/in/a.wav is {len(WAV)} bytes: as a data URI it would be {chars} "
        "characters, over Runway's limit of 100 characters for audio as a data URI; send it "
        "with transport 'url' or 'upload'"
    )
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=s3,
                            transport="upload")  # fmt: skip
    assert str(caught.value) == (
        f"audioUri: s3://stills/in/a.wav is {len(WAV)} bytes and goes through an upload, which "
        "needs a client: pass client=AsyncRunwayClient(...)"
    )


async def test_s3_kind_mismatch_is_bad_input(s3):
    _put(s3, "in/a.wav", WAV)
    for transport in ("auto", "url", "data_uri"):
        with pytest.raises(InputRejectedError) as caught:
            await resolve_asset("s3://stills/in/a.wav", field="videoUri", kind=None, s3=s3,
                                transport=transport)  # fmt: skip
        assert str(caught.value) == (
            "videoUri: s3://stills/in/a.wav is audio (audio/wav), but videoUri takes video: give "
            "it a video file (MP4, MOV or WebM)"
        )


async def test_s3_image_by_url_is_decoded_before_it_is_sent(s3):
    _put(s3, "in/cut.png", PNG[:60])
    with pytest.raises(ImageRejectedError, match=r"^promptImage: s3://stills/in/cut.png cannot be "
                       "decoded as PNG"):
        await resolve_asset("s3://stills/in/cut.png", field="promptImage", kind=None, s3=s3,
                            transport="url")  # fmt: skip


async def test_s3_empty_object_and_bad_s3_uri_are_bad_input(s3):
    _put(s3, "in/empty.mp4", b"")
    with pytest.raises(InputRejectedError, match=r"^videoUri: s3://stills/in/empty.mp4 is empty"):
        await resolve_asset("s3://stills/in/empty.mp4", field="videoUri", kind=None, s3=s3)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset("s3://stills", field="videoUri", kind=None, s3=s3)
    assert str(caught.value) == "videoUri: 's3://stills' is not an s3://bucket/key URI"


async def test_a_missing_object_is_a_storage_error_not_bad_input(s3):
    with pytest.raises(ImageSourceError) as caught:
        await resolve_asset("s3://stills/in/none.mp4", field="videoUri", kind=None, s3=s3)
    assert not isinstance(caught.value, InputRejectedError)
    assert str(caught.value) == (
        "videoUri: s3://stills/in/none.mp4: the object does not exist; nothing was submitted for it"
    )


def _answering(status: int, body: bytes, operation: str):
    """A boto3 client of moto whose `operation` is answered `status` by a stand-in server:
    everything else (signing, parsing, error codes) is botocore's own."""
    client = boto3.client("s3", config=Config(retries={"max_attempts": 1, "mode": "standard"}))

    def answer(request, **_):
        return AWSResponse(request.url, status, {}, _Raw(body))

    client.meta.events.register(f"before-send.s3.{operation}", answer)
    return client


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body

    def read(self, *_):
        return self.body


async def test_access_denied_and_throttling_are_storage_errors(s3):
    _put(s3, "in/a.wav", WAV)
    denied = _answering(403, b"", "HeadObject")
    with pytest.raises(ImageSourceError) as caught:
        await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=denied)
    assert str(caught.value) == (
        "audioUri: s3://stills/in/a.wav: access denied: check the AWS credentials and the "
        "bucket policy; nothing was submitted for it"
    )
    slow = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>")  # fmt: skip
    throttled = _answering(503, slow, "GetObject")
    with pytest.raises(ImageSourceError) as caught:
        await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=throttled)
    assert not isinstance(caught.value, InputRejectedError)
    assert str(caught.value) == (
        "audioUri: s3://stills/in/a.wav: S3 error SlowDown; nothing was submitted for it, the "
        "next run tries again"
    )


# -- resolve_asset: local files, data URIs, URLs ----------------------------------------------


async def test_local_files_go_inline_or_through_an_upload(tmp_path, emulator, monkeypatch):
    path = tmp_path / "clip.mp4"
    path.write_bytes(MP4)
    for uri in (str(path), path.as_uri()):
        asset = await resolve_asset(uri, field="videoUri", kind=None)
        assert (asset.wire_uri, asset.identity, asset.transport, asset.size) == (
            data_uri(MP4, "video/mp4"), content_identity(MP4), "data_uri", len(MP4)
        )
    monkeypatch.setitem(MEDIA_LIMITS["video"], "data_uri", 100)
    async with async_client_for(emulator) as client:
        asset = await resolve_asset(str(path), field="videoUri", kind=None, client=client)
    assert asset.transport == "upload" and asset.wire_uri.startswith("runway://uploads/")
    assert asset.identity == content_identity(MP4)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(str(path), field="videoUri", kind=None)
    assert str(caught.value) == (
        f"videoUri: {path} is {len(MP4)} bytes and goes through an upload, which needs a client: "
        "pass client=AsyncRunwayClient(...)"
    )
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(str(path), field="videoUri", kind=None, transport="url")
    assert str(caught.value) == (
        f"videoUri: {path} is a local file, which Runway cannot fetch by URL; use transport "
        "'auto', 'data_uri' or 'upload'"
    )


async def test_a_local_file_that_cannot_be_read_is_a_source_error(tmp_path):
    missing = tmp_path / "none.wav"
    with pytest.raises(ImageSourceError) as caught:
        await resolve_asset(str(missing), field="audioUri", kind=None)
    assert str(caught.value) == (
        f"audioUri: {missing} cannot be read (FileNotFoundError: No such file or directory); "
        "nothing was submitted for it"
    )


async def test_data_uris_are_checked_as_they_are(monkeypatch):
    uri = data_uri(WAV, "audio/wav")
    asset = await resolve_asset(uri, field="audioUri", kind=None)
    assert (asset.wire_uri, asset.identity, asset.transport, asset.kind) == (
        uri, content_identity(WAV), "data_uri", "audio"
    )
    shown = f"data:audio/wav;base64,<{len(uri) - len('data:audio/wav;base64,')} chars>"
    monkeypatch.setitem(MEDIA_LIMITS["audio"], "data_uri", len(uri) - 1)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(uri, field="audioUri", kind=None)
    assert str(caught.value) == (
        f"audioUri: {shown} is {len(WAV)} bytes: as a data URI it would be {len(uri)} "
        f"characters, over Runway's limit of {len(uri) - 1} characters for audio as a data URI; "
        "send it with transport 'url' or 'upload'"
    )
    monkeypatch.undo()
    labelled = data_uri(WAV, "video/mp4")
    with pytest.raises(InputRejectedError, match=r"is labelled video/mp4 but its bytes are "
                       r"audio/wav; label it audio/wav$"):
        await resolve_asset(labelled, field="media.uri", kind=None)
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(uri, field="videoUri", kind=None)
    assert str(caught.value).startswith(f"videoUri: {shown} is audio (audio/wav), but videoUri")
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset("data:audio/wav;base64,@@@", field="audioUri", kind=None)
    assert str(caught.value) == (
        "audioUri: 'data:audio/wav;base64,<3 chars>': the data URI does not hold valid base64 "
        "data; encode it as base64"
    )
    with pytest.raises(InputRejectedError, match="transport 'upload' cannot carry it"):
        await resolve_asset(uri, field="audioUri", kind=None, transport="upload")


async def test_https_and_runway_uris_pass_through():
    signed = ("https://b.s3.amazonaws.com/clip.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
              "X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeef&v=2")  # fmt: skip
    asset = await resolve_asset(signed, field="videoUri", kind=None)
    assert (asset.wire_uri, asset.identity, asset.transport, asset.kind, asset.size) == (
        signed, "https://b.s3.amazonaws.com/clip.mp4?v=2", "url", "video", None
    )
    upload = await resolve_asset("runway://uploads/abc", field="audioUri", kind=None)
    assert (upload.wire_uri, upload.identity, upload.transport) == (
        "runway://uploads/abc", "runway://uploads/abc", "upload"
    )
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset("https://10.0.0.1/clip.mp4?sig=secret", field="videoUri", kind=None)
    assert "secret" not in str(caught.value)
    assert str(caught.value) == (
        "videoUri 'https://10.0.0.1/clip.mp4?<redacted>' uses an IP address host (10.0.0.1); "
        "Runway requires a domain name"
    )


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://user:pw@cdn.example.com/a.wav?token=secret",
         "'http://cdn.example.com/a.wav?<redacted>' is a plain http:// URL, which Runway does "
         "not fetch"),
        ("ftp://files.example.com/a.wav",
         "'ftp://files.example.com/a.wav' is not an input Runway can take (scheme 'ftp')"),
        ("", None),
    ],
)  # fmt: skip
async def test_other_schemes_are_refused_naming_what_is_allowed(uri, shown):
    with pytest.raises(InputRejectedError) as caught:
        await resolve_asset(uri, field="audioUri", kind=None)
    allowed = ("give an s3://bucket/key, an https:// URL, a local file (a path or file://), a "
               "data: URI or a runway:// upload URI")  # fmt: skip
    expected = f"audioUri: {shown}; {allowed}" if shown else f"audioUri is empty; {allowed}"
    assert str(caught.value) == expected
    assert "secret" not in str(caught.value) and "pw" not in str(caught.value)


async def test_the_emulator_refuses_an_upload_of_no_media_type(emulator):
    from prefect_runway.errors import RunwayBadRequestError

    async with async_client_for(emulator) as client:
        with pytest.raises(RunwayBadRequestError) as caught:
            await client.upload_image(b"just some text", "notes.txt", "text/plain")
        assert caught.value.status_code == 400
        assert (await client.upload_image(WEBM, "clip.webm", "video/webm")).startswith("runway://")


async def test_an_unreachable_s3_is_a_storage_error(s3):
    from tests._support.processes import free_port

    nowhere = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )  # fmt: skip
    with pytest.raises(ImageSourceError) as caught:
        await resolve_asset("s3://stills/in/a.wav", field="audioUri", kind=None, s3=nowhere)
    assert str(caught.value) == (
        "audioUri: s3://stills/in/a.wav: S3 could not be reached (EndpointConnectionError); "
        "nothing was submitted for it"
    )
