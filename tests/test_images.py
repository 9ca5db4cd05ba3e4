"""Images are judged by decoding them (Pillow: verify, then load), on every path that pays.

Each unusable input goes through the single-image task (as a data URI) and the CLI (as a file
and as a data URI) against the emulator over loopback HTTP: each is rejected with its reason
and the emulator sees 0 POSTs. (The S3 flow's own check is `delivery.s3_image_job`, the same
function, exercised by tests/test_flows.py.)
"""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import Image
from prefect import flow

from prefect_runway import ImageToVideoRequest
from prefect_runway.cli import main
from prefect_runway.errors import ImageRejectedError
from prefect_runway.images import check_data_uri, check_image
from prefect_runway.tasks import asubmit_image_to_video
from prefect_runway.testing.emulator.samples import GIF, png
from tests.conftest import API_KEY

GEN = ["--model", "gen4_turbo", "--ratio", "1280:720", "--duration", "5"]


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png16(width: int = 320, height: int = 180) -> bytes:
    rows = b"".join(b"\x00" + b"\x12\x34\x56\x78\x9a\xbc" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


RGB = Image.new("RGB", (320, 180), (10, 20, 30))
NOISE = Image.effect_noise((320, 180), 60).convert("RGB")
BAD = {
    "truncated-jpeg": (_encoded(NOISE, "JPEG")[:3000], "truncated or corrupt"),
    "cmyk-jpeg": (_encoded(Image.new("CMYK", (320, 180)), "JPEG"), "is CMYK"),
    "16-bit-png": (_png16(), "16 bits per channel"),
    "animated-webp": (
        _encoded(RGB, "WEBP", save_all=True, duration=100,
                 append_images=[Image.new("RGB", (320, 180), (200, 0, 0))]),
        "animated (2 frames)",
    ),  # fmt: skip
    "1x1": (_encoded(Image.new("RGB", (1, 1)), "PNG"), "is 1x1 px"),
    "10000x100": (_encoded(Image.new("RGB", (10000, 100)), "PNG"), "under 8000 px"),
    "text": (b"just some text, certainly not a picture", "not a JPEG, PNG or WebP"),
    "empty": (b"", "empty"),
    "gif": (GIF, "is a GIF"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "not a JPEG"),
}
CASES = [pytest.param(data, reason, id=name) for name, (data, reason) in BAD.items()]


def _as_png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(("data", "reason"), CASES)
def test_check_image_rejects_with_the_reason(data, reason):
    with pytest.raises(ImageRejectedError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_image(data, "x", "gen4_turbo")


def test_usable_images_pass_and_documented_model_limits_bind():
    for fmt in ("PNG", "JPEG", "WEBP"):
        info = check_image(_encoded(RGB, fmt), "ok", "gen4_turbo")
        assert (info.width, info.height) == (320, 180) and not info.warnings
    assert check_image(png(4, 4), "tiny", "gen4_turbo").width == 4
    with pytest.raises(ImageRejectedError, match="h3_max needs at least 256 px"):
        check_image(_encoded(RGB, "PNG"), "small", "h3_max")
    wide = _encoded(Image.new("RGB", (1300, 500)), "PNG")
    with pytest.raises(ImageRejectedError, match="grok_imagine_1_5 accepts 0.4 to 2.5"):
        check_image(wide, "wide", "grok_imagine_1_5")
    assert check_image(wide, "wide", "gen4_turbo").warnings  # undocumented there: warned
    with pytest.raises(ImageRejectedError, match="labelled image/png but its bytes are image/jpeg"):
        check_data_uri(_as_png_uri(_encoded(RGB, "JPEG")), "label", "gen4_turbo")


@pytest.mark.parametrize(("data", "reason"), CASES)
def test_the_task_rejects_bad_data_uris_without_a_post(
    prefect_harness, credentials, emulator, data, reason
):
    request = ImageToVideoRequest.model_construct(
        prompt_image=_as_png_uri(data), model="gen4_turbo", ratio="1280:720", duration=5
    )
    if data:  # the request model refuses an empty data URI itself
        request = ImageToVideoRequest(prompt_image=_as_png_uri(data), model="gen4_turbo",
                                      ratio="1280:720", duration=5)  # fmt: skip

    @flow
    async def run():
        return await asubmit_image_to_video(credentials, request)

    with pytest.raises(ImageRejectedError) as caught:
        import asyncio

        asyncio.run(run())
    assert reason in str(caught.value)
    assert emulator.stats()["posts"] == 0


@pytest.mark.parametrize(("data", "reason"), CASES)
def test_the_cli_rejects_bad_files_and_data_uris_without_a_post(
    emulator, monkeypatch, tmp_path, capsys, data, reason
):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    path = tmp_path / "input.png"
    path.write_bytes(data)
    assert main(["submit", str(path), *GEN]) == 1
    assert main(["submit", _as_png_uri(data), *GEN]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") >= 2 and reason in err, err
    assert emulator.stats()["posts"] == 0


async def test_the_s3_flow_rejects_undecodable_images_without_a_post(
    credentials, emulator, s3, tmp_path
):
    """The flow's job (`delivery.s3_image_job`): rejected rows, the good image still paid."""
    from prefect_runway.api.models import GenerationSettings
    from prefect_runway.delivery import s3_image_job
    from prefect_runway.ledger.engine import Engine
    from prefect_runway.ledger.records import Ledger
    from prefect_runway.s3.objects import iter_s3_pages
    from tests.conftest import BUCKET

    bad = ("truncated-jpeg", "cmyk-jpeg", "16-bit-png", "animated-webp", "1x1", "10000x100")
    for name in bad:
        s3.put_object(Bucket=BUCKET, Key=f"in/{name}.png", Body=BAD[name][0])
    s3.put_object(Bucket=BUCKET, Key="in/good.png", Body=png(16, 9))
    settings = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
    async with credentials.get_async_client() as client:
        engine = await Engine.create(credentials, client, Ledger(tmp_path / "records"))
        objs = [obj for page in iter_s3_pages(s3, BUCKET, "in/") for obj in page]
        rows = {obj.key: await engine.submit(s3_image_job(s3, obj, model=settings.model),
                                             settings) for obj in objs}  # fmt: skip
    assert rows.pop("in/good.png").status == "submitted"
    for key, row in rows.items():
        name = key.removeprefix("in/").removesuffix(".png")
        assert row.status == "rejected" and BAD[name][1] in (row.error or ""), (key, row.error)
    stats = emulator.stats()
    assert stats["posts"] == 1 and stats["tasks_created"] == 1
