"""generate_from_table against the emulator and moto's S3: one paid generation per row (per
variant), bad rows reported by line and column, reruns that pay nothing, artifacts and the
manifest read back."""

from __future__ import annotations

import asyncio
import json

import pytest

from prefect_runway import collect_videos, s3_image_to_video
from prefect_runway.flows.generate_from_table import generate_from_table
from prefect_runway.s3.manifest import read_manifest
from prefect_runway.testing.emulator.mp4 import build_mp4
from prefect_runway.testing.emulator.samples import png
from tests._support import BUCKET
from tests._support.prefect_api import read_artifact
from tests._support.s3 import put_csv

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_csv_in_s3_pays_once_per_row_and_variant_and_reports_bad_rows(runway, s3):
    table = put_csv(s3, "jobs/stills.csv", [
        {"id": "kite", "prompt_text": "a red kite", "ratio": "1920:1080", "variants": "2"},
        {"id": "sea", "prompt_text": "a calm sea", "ratio": "1920:1080", "variants": ""},
        {"id": "bad", "prompt_text": "a cat", "ratio": "4:3", "variants": ""},
    ])  # fmt: skip
    defaults = {"model": "gen4_image"}

    result = asyncio.run(generate_from_table(table, endpoint="text_to_image", defaults=defaults))
    assert (result.submitted, result.rejected, result.cached) == (3, 1, 0)
    assert runway.stats()["posts"] == 3
    [bad] = [row for row in result.rows if row.status == "rejected"]
    assert bad.error is not None and bad.error.startswith("line 4 (id bad), column 'ratio': '4:3'")
    seeds = {row.seed for row in result.rows if "kite#" in row.source}
    assert len(seeds) == 2 and None not in seeds  # two variants, two seeds

    again = asyncio.run(generate_from_table(table, endpoint="text_to_image", defaults=defaults))
    assert (again.submitted, again.cached) == (0, 3) and runway.stats()["posts"] == 3
    assert sorted(again.task_ids) == sorted(result.task_ids)

    manifest = read_manifest(s3, BUCKET, "jobs/stills.csv.runway-manifest.json")
    assert manifest is not None
    assert {row.task_id for row in manifest.rows} >= set(result.task_ids)
    assert {(row.model_extra or {}).get("endpoint") for row in manifest.rows
            if row.task_id} == {"text_to_image"}  # fmt: skip
    artifact = json.loads(asyncio.run(read_artifact("runway-task-ids-stills-jobs-stills-csv")).data)
    assert {row["task_id"] for row in artifact if row["task_id"]} == set(result.task_ids)
    assert {row["endpoint"] for row in artifact if row["task_id"]} == {"text_to_image"}


def test_rows_with_s3_videos_are_keyed_by_etag(runway, s3, tmp_path):
    for name in ("a", "b"):
        s3.put_object(Bucket=BUCKET, Key=f"clips/{name}.mp4", Body=build_mp4(2),
                      ContentType="video/mp4")  # fmt: skip
    table = tmp_path / "edits.jsonl"
    table.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a", "model": "aleph2", "videoUri": f"s3://{BUCKET}/clips/a.mp4",
         "promptText": "make it snow"},
        {"id": "b", "model": "aleph2", "videoUri": f"s3://{BUCKET}/clips/b.mp4",
         "promptText": "make it snow"},
        {"id": "gone", "model": "aleph2", "videoUri": f"s3://{BUCKET}/clips/gone.mp4"},
    ]))  # fmt: skip

    first = asyncio.run(generate_from_table(str(table), endpoint="video_to_video",
                                            fail_on_errors=False))  # fmt: skip
    assert (first.submitted, first.failed) == (2, 1) and runway.stats()["posts"] == 2
    [gone] = [row for row in first.rows if row.status == "failed"]
    assert "clips/gone.mp4" in (gone.error or "") and "ImageSourceError" in (gone.error or "")
    s3.put_object(Bucket=BUCKET, Key="clips/b.mp4", Body=build_mp4(3), ContentType="video/mp4")
    second = asyncio.run(generate_from_table(str(table), endpoint="video_to_video",
                                             fail_on_errors=False))  # fmt: skip
    assert (second.submitted, second.cached) == (1, 1) and runway.stats()["posts"] == 3


def test_an_image_table_shares_records_with_the_prefix_flow(runway, s3):
    for i in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"pics/p{i}.png", Body=png(64, 36, (i * 60, 90, 20)),
                      ContentType="image/png")  # fmt: skip
    batch = asyncio.run(s3_image_to_video(BUCKET, "pics/", model="gen4_turbo", duration=5))
    assert batch.submitted == 3 and runway.stats()["posts"] == 3
    rows = [{"promptImage": f"s3://{BUCKET}/pics/p{i}.png", "model": "gen4_turbo",
             "ratio": "1280:720", "duration": 5} for i in range(3)]  # fmt: skip

    result = asyncio.run(generate_from_table(rows, write_manifest=False))
    assert (result.submitted, result.cached) == (0, 3) and runway.stats()["posts"] == 3
    assert sorted(result.task_ids) == sorted(batch.task_ids)


def test_the_collector_copies_images_and_audio_of_a_table_batch(runway, s3):
    rows = [
        {"endpoint": "text_to_image", "model": "gen4_image", "promptText": "a red kite",
         "ratio": "1920:1080"},
        {"endpoint": "sound_effect", "model": "eleven_text_to_sound_v2",
         "promptText": "rain on a tin roof"},
        {"endpoint": "text_to_video", "model": "gen4.5", "promptText": "waves at night",
         "ratio": "1280:720", "duration": 5},
    ]  # fmt: skip
    out = f"s3://{BUCKET}/made/"
    batch = asyncio.run(generate_from_table(rows, output_prefix=out))
    assert batch.submitted == 3 and batch.manifest_uri == f"{out}runway-manifest.json"

    collected = asyncio.run(collect_videos(output_prefix=out, manifest_uri=batch.manifest_uri,
                                           wait_seconds=30))  # fmt: skip
    assert collected.collected == 3, collected
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="made/")["Contents"]
    types = {}
    for obj in listing:
        if obj["Key"].rsplit("/", 1)[-1].startswith("runway-manifest."):  # and its views
            continue
        types[obj["Key"].rsplit(".", 1)[-1]] = s3.head_object(
            Bucket=BUCKET, Key=obj["Key"])["ContentType"]
    assert types == {"png": "image/png", "wav": "audio/wav", "mp4": "video/mp4"}


def test_each_model_gets_its_own_daily_limit_and_the_rest_is_deferred(make_emulator, s3,
                                                                       monkeypatch):  # fmt: skip
    emu = make_emulator(env=True, fetch_urls=False, daily_limit=2)
    rows = [{"model": model, "promptText": f"shot {i}", "ratio": "1024:1024"}
            for model in ("gen4_image", "seedream5_pro") for i in range(3)]  # fmt: skip

    first = asyncio.run(generate_from_table(rows, endpoint="text_to_image"))
    assert (first.submitted, first.deferred) == (4, 2) and emu.stats()["posts"] == 4
    deferred = {row.model for row in first.rows if row.status == "deferred"}
    assert deferred == {"gen4_image", "seedream5_pro"}  # one of each: 2 a day per model
    emu.advance_clock(24 * 3600 + 1)
    second = asyncio.run(generate_from_table(rows, endpoint="text_to_image"))
    assert (second.submitted, second.cached, second.deferred) == (2, 4, 0)
    assert emu.stats()["posts"] == 6


def test_every_task_endpoint_pays_once_from_one_table(make_emulator, s3, tmp_path):
    """One row per endpoint (its `endpoint` column), each submitted once; a rerun pays nothing."""
    from tests._support.endpoints import first_bodies

    emu = make_emulator(env=True, fetch_urls=False, generation_seconds=0.2)
    bodies = {"image_to_video": {"model": "gen4_turbo", "ratio": "1280:720",
                                 "promptImage": "https://media.example.com/still.png"},
              **first_bodies()}  # fmt: skip
    assert len(bodies) == 25
    table = tmp_path / "everything.jsonl"
    table.write_text("\n".join(json.dumps({"id": name.replace("/", "-"), "endpoint": name, **body})
                               for name, body in bodies.items()))  # fmt: skip
    out = f"s3://{BUCKET}/everything/"
    result = asyncio.run(generate_from_table(str(table), output_prefix=out))
    assert (result.submitted, result.rejected) == (25, 0), [r.error for r in result.rows if r.error]
    assert emu.stats()["posts"] == 25
    assert sorted(t["body"].get("model", "") for t in emu.tasks()) == sorted(
        b.get("model", "") for b in bodies.values())  # fmt: skip
    again = asyncio.run(generate_from_table(str(table), output_prefix=out))
    assert (again.submitted, again.cached) == (0, 25) and emu.stats()["posts"] == 25
