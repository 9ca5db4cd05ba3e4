"""Nothing after a POST hides its task ID, and storage errors are failures, not rejections."""

from __future__ import annotations

import asyncio
import importlib
import json
from types import SimpleNamespace

import pytest

from prefect_runway.errors import ManifestError
from prefect_runway.flows.common import S3Location, batch_key
from prefect_runway.testing.emulator.samples import png
from tests._support.prefect_api import read_artifact
from tests.conftest import BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")
flow_module = importlib.import_module("prefect_runway.flows.s3_image_to_video")


def fill(s3, prefix: str, count: int) -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.png", Body=png(8, 8, (i, 50, 9)))


def test_a_failed_manifest_write_fails_the_run_with_every_new_task_id(
    s3, runway, monkeypatch, run_logs
):
    def broken(*args, **kwargs):
        raise ConnectionError("S3 went away")

    real = flow_module.merge_manifest
    monkeypatch.setattr(flow_module, "merge_manifest", broken)
    fill(s3, "mf/", 3)
    with pytest.raises(ManifestError) as error:
        asyncio.run(flow_module.s3_image_to_video(BUCKET, "mf/"))
    created = {task["id"] for task in runway.tasks()}
    assert len(created) == 3
    assert all(task_id in str(error.value) for task_id in created)
    key = batch_key(flow_module.TABLE_KEY, S3Location(BUCKET, "mf/"))
    table = json.loads(asyncio.run(read_artifact(key)).data)
    assert {row["task_id"] for row in table} == created  # written before the manifest
    [line] = [m for m in run_logs if "Runway task(s) this run created" in m]
    assert "S3 went away" in line
    assert all(task_id in line for task_id in created)
    # The ledger has them: a rerun pays nothing and writes the manifest.
    monkeypatch.setattr(flow_module, "merge_manifest", real)
    again = asyncio.run(flow_module.s3_image_to_video(BUCKET, "mf/"))
    assert again.cached == 3 and runway.stats()["posts"] == 3
    assert "mf/runway-manifest.json" in {o["Key"] for o in s3.list_objects_v2(
        Bucket=BUCKET)["Contents"]}  # fmt: skip


def denied_reads(client):
    """Answer every GetObject of an image with S3's 403 AccessDenied, before it is sent (the
    manifest stays readable)."""

    def deny(params, **kwargs):
        if not params["url_path"].endswith(".png"):
            return None
        return (SimpleNamespace(status_code=403, headers={}),
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                 "ResponseMetadata": {"HTTPStatusCode": 403}})  # fmt: skip

    client.meta.events.register("before-call.s3.GetObject", deny)
    return client


def test_unreadable_objects_fail_the_image_and_the_run_and_are_retried(s3, runway, monkeypatch):
    real = S3Location.client
    monkeypatch.setattr(S3Location, "client", lambda self: denied_reads(real(self)))
    fill(s3, "dn/", 3)
    with pytest.raises(Exception, match="3 of 3 submissions failed") as error:
        asyncio.run(flow_module.s3_image_to_video(BUCKET, "dn/", fail_on_errors=True))
    assert "'runway-task-ids-stills-dn'" in str(error.value)
    key = batch_key(flow_module.TABLE_KEY, S3Location(BUCKET, "dn/"))
    table = json.loads(asyncio.run(read_artifact(key)).data)
    assert {row["status"] for row in table} == {"failed"}  # never "rejected": not the bytes
    assert all("access denied" in row["error"] for row in table)
    assert all(row["estimated_credits"] == 0 for row in table)  # nothing was spent
    assert runway.stats()["posts"] == 0
    monkeypatch.setattr(S3Location, "client", real)  # storage is back: nothing remembered
    again = asyncio.run(flow_module.s3_image_to_video(BUCKET, "dn/"))
    assert again.submitted == 3
