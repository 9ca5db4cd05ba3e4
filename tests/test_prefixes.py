"""Prefixes are folders: no trailing slash, an empty prefix, an output inside the input."""

from __future__ import annotations

import asyncio

import pytest

from prefect_runway.errors import RunwayValidationError
from prefect_runway.testing.emulator.samples import png
from tests.conftest import BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")


def put(s3, *keys: str) -> None:
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=png(6, 6, (i, 3, 3)))


def keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_a_prefix_without_a_slash_is_the_folder_only(s3, runway, run_logs):
    from prefect_runway.flows import s3_image_to_video

    put(s3, "stills/a.png", "stills/b.png", "stills-old/c.png")
    result = asyncio.run(s3_image_to_video(BUCKET, "stills"))
    assert {row.source for row in result.rows} == {f"s3://{BUCKET}/stills/a.png",
                                                    f"s3://{BUCKET}/stills/b.png"}  # fmt: skip
    assert result.manifest_uri == f"s3://{BUCKET}/stills/runway-manifest.json"
    assert "stills/runway-manifest.json" in keys(s3)
    assert "stillsrunway-manifest.json" not in keys(s3)
    assert any("taken as the folder 'stills/'" in line for line in run_logs)


def test_an_empty_prefix_says_so_and_writes_no_manifest(s3, runway, run_logs):
    from prefect_runway.flows import s3_image_to_video

    result = asyncio.run(s3_image_to_video(BUCKET, "nothing-here/"))
    assert result.rows == [] and result.manifest_uri is None
    assert keys(s3) == set()
    assert any(f"no objects under s3://{BUCKET}/nothing-here/" in line for line in run_logs)


def test_an_output_prefix_inside_the_input_is_refused(s3, runway):
    from prefect_runway.flows import collect_videos, drive_batch, s3_image_to_video

    put(s3, "in/a.png")
    with pytest.raises(RunwayValidationError, match="is inside the input prefix"):
        asyncio.run(drive_batch(BUCKET, "in/", output_prefix=f"s3://{BUCKET}/in/videos/"))
    assert runway.stats()["posts"] == 0
    batch = asyncio.run(s3_image_to_video(BUCKET, "in/"))
    with pytest.raises(RunwayValidationError, match="is inside the input prefix"):
        asyncio.run(collect_videos(f"s3://{BUCKET}/in/out/", manifest_uri=batch.manifest_uri))
    assert not any(key.endswith(".mp4") for key in keys(s3))
