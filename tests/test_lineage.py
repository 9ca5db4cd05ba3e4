"""Lineage: every output the collector publishes is a Prefect asset materialization, keyed by
its S3 URI, with its input object upstream and the generation's metadata, read back from the
Prefect API."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from prefect_runway import collect_videos, s3_image_to_video
from tests._support import BUCKET
from tests._support.prefect_api import read_asset_events
from tests._support.s3 import fill

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_each_collected_video_is_an_asset_with_its_image_upstream(s3, runway):
    images = fill(s3, 3, bad=False)
    batch = asyncio.run(s3_image_to_video(BUCKET, "in/", concurrency=4, seed=7,
                                          prompt_text="a slow pan"))  # fmt: skip
    out = f"s3://{BUCKET}/lineage/"
    result = asyncio.run(collect_videos(output_prefix=out, manifest_uri=batch.manifest_uri,
                                        wait_seconds=30))  # fmt: skip
    outputs = {row.output for row in result.rows if row.output}
    assert len(outputs) == 3

    events = asyncio.run(read_asset_events(outputs, expected=3))
    assert len(events) == 3 and {e["resource"]["prefect.resource.id"] for e in events} == outputs
    for event in events:
        assert event["event"] == "prefect.asset.materialization.succeeded"
        upstream = {r["prefect.resource.id"] for r in event["related"]
                    if r.get("prefect.resource.role") == "asset"}  # fmt: skip
        assert len(upstream) == 1 and upstream <= set(images)
        metadata = event["payload"]
        assert metadata["task_id"] in batch.task_ids and metadata["endpoint"] == "image_to_video"
        assert metadata["bytes"] > 0 and len(metadata["sha256"]) == 64
        assert (metadata["model"], metadata["seed"]) == ("gen4_turbo", 7)
        assert metadata["prompt_sha256"] == hashlib.sha256(b"a slow pan").hexdigest()
        assert "a slow pan" not in json.dumps(event)  # the prompt's hash, never the prompt

    again = asyncio.run(collect_videos(output_prefix=out, manifest_uri=batch.manifest_uri))
    assert again.collected == 0  # nothing published again: no second materialization
    assert len(asyncio.run(read_asset_events(outputs, expected=4, tries=25))) == 3
