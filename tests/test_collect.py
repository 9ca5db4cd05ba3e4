"""The incremental collector against moto's S3 server and the emulator, on Prefect's harness.

Downloads are counted by the emulator (``stats()["downloads"]``), manifests are read back from
S3, artifacts and events from the Prefect API. Time moves with the emulator's clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import threading
import time

import pytest

from prefect_runway.errors import BatchFailedError
from prefect_runway.flows.collect_videos import COLLECT_SUMMARY_KEY, VIDEOS_KEY, collect_videos
from prefect_runway.flows.common import batch_key
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.s3.manifest import ManifestRow, merge_manifest, read_manifest
from prefect_runway.testing.emulator import Faults
from prefect_runway.testing.emulator.samples import png
from tests._support.prefect_api import read_artifact, read_events
from tests._support.s3 import fill
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")
# The module, not the flow of the same name that the package exports.
collector_module = importlib.import_module("prefect_runway.flows.collect_videos")

MANIFEST = f"s3://{BUCKET}/in/runway-manifest.json"
VIDEOS = f"s3://{BUCKET}/videos/"
MINUTES_10 = 600


@pytest.fixture
def slow_runway(make_emulator):
    """Ten-minute generations, two at a time: only the emulator's clock makes them finish."""
    return make_emulator(env=True, concurrency=2, generation_seconds=MINUTES_10,
                         output_url_ttl=3600)  # fmt: skip


def submit(prefix: str = "in/", **kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, prefix, concurrency=4, **kwargs))


def collect(**kwargs):
    kwargs.setdefault("manifest_uri", MANIFEST)
    return asyncio.run(collect_videos(output_prefix=VIDEOS, **kwargs))


def claim_objects(s3) -> list[str]:
    """The keys of the collector's claim objects under the output prefix."""
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix="videos/.runway-claims/")
    return sorted(item["Key"] for item in found.get("Contents", []))


def manifest_rows(s3) -> dict[str, dict]:
    raw = json.loads(s3.get_object(Bucket=BUCKET, Key="in/runway-manifest.json")["Body"].read())
    return {row["source"] or row["task_id"]: row for row in raw["rows"]}


def test_collect_puts_every_video_in_s3_and_updates_the_manifest(s3, runway):
    fill(s3, 5, bad=False)
    s3.put_object(Bucket=BUCKET, Key="in/z-unsafe.png", Body=png(4, 4))
    s3.put_object(Bucket=BUCKET, Key="unsafe/z.png", Body=png(4, 4))
    batch = submit()
    # One generation fails on the emulator's side: its failure must be reported, not lost.
    failing = asyncio.run(s3_image_to_video(
        BUCKET, "unsafe/", prompt_text="[emulator:fail=SAFETY.INPUT.TEXT]", write_manifest=False))
    result = collect(task_ids=failing.task_ids, wait_seconds=30)
    assert (result.succeeded, result.failed, result.pending, result.errors) == (6, 1, 0, 0)
    rows = manifest_rows(s3)
    assert len(rows) == 7  # the batch's 6, plus the task ID given by hand
    for row in [r for r in rows.values() if r["task_id"] not in failing.task_ids]:
        bucket, key = row["output"][5:].split("/", 1)
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == "video/mp4"
        assert head["ContentLength"] == row["output_bytes"] > 0
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == row["output_sha256"]
        assert row["final_status"] == "SUCCEEDED" and key.startswith("videos/")
        assert row["status"] == "submitted" and row["collected_task_id"] == row["task_id"]
        assert row["credits"] == row["estimated_credits"] == 25  # the API's final cost
    [failed] = [r for r in result.rows if r.final_status != "SUCCEEDED"]
    assert failed.final_status == "FAILED" and failed.failure_code == "SAFETY.INPUT.TEXT"
    assert failed.credits == 0  # a failed generation's final cost, as the API said
    table = json.loads(asyncio.run(read_artifact(batch_key(VIDEOS_KEY, VIDEOS))).data)
    assert {r["task_id"] for r in table} == set(batch.task_ids + failing.task_ids)
    ids = set(batch.task_ids + failing.task_ids)
    events = asyncio.run(read_events("runway.generation.", ids, expected=7))
    names = sorted(e["event"] for e in events)
    assert names == ["runway.generation.failed"] + ["runway.generation.succeeded"] * 6
    assert claim_objects(s3) == []  # every task is recorded finished: no claim is left


def test_runs_over_days_copy_what_finished_and_each_video_once(s3, slow_runway):
    fill(s3, 5, bad=False)
    submit()
    first = collect()  # nothing has finished: poll once each and return at once
    assert (first.collected, first.pending, first.succeeded) == (0, 5, 0)
    assert slow_runway.stats()["downloads"] == 0
    summary = asyncio.run(read_artifact(batch_key(COLLECT_SUMMARY_KEY, VIDEOS))).data
    assert "| 0 | 0 | 5 | 0 | 0 |" in summary

    slow_runway.advance_clock(MINUTES_10)  # two slots: two videos are ready
    second = collect()
    assert (second.collected, second.already_collected, second.pending) == (2, 0, 3)
    slow_runway.advance_clock(MINUTES_10)
    third = collect()
    assert (third.collected, third.already_collected, third.pending) == (2, 2, 1)
    # Two days later: every URL handed out earlier has expired; the last video still arrives.
    slow_runway.advance_clock(2 * 86400)
    fourth = collect()
    assert (fourth.collected, fourth.already_collected, fourth.pending) == (1, 4, 0)
    assert fourth.succeeded == 5 and slow_runway.stats()["downloads"] == 5
    again = collect()
    assert (again.collected, again.already_collected, again.pending) == (0, 5, 0)
    assert slow_runway.stats()["downloads"] == 5  # each video downloaded exactly once
    rows = manifest_rows(s3)
    assert all(r["output"] and r["status"] == "submitted" for r in rows.values())
    raw = json.loads(s3.get_object(Bucket=BUCKET, Key="in/runway-manifest.json")["Body"].read())
    assert raw["flow_run_id"] != raw["collector_flow_run_id"]  # each writer's last run
    # An image deferred by the daily limit is reported, and kept by the collector's write.
    merge_manifest(s3, BUCKET, "in/runway-manifest.json",
                   [ManifestRow(source=f"s3://{BUCKET}/in/late.png", status="deferred")])
    later = collect()
    assert (later.deferred, later.collected) == (1, 0)
    assert manifest_rows(s3)[f"s3://{BUCKET}/in/late.png"]["status"] == "deferred"


def test_a_failed_copy_fails_only_its_row_and_the_next_run_retries_it(s3, runway):
    fill(s3, 6, bad=False)
    submit()
    runway.set_faults(Faults(rate_download_error=0.5, seed=3))
    first = collect(wait_seconds=30, download_retries=0)
    broken = runway.stats()["download_errors"]
    assert 0 < broken < 6 and first.errors == broken and first.collected == 6 - broken
    rows = manifest_rows(s3)  # written despite the failures, the saved videos recorded
    assert sum(bool(r["output"]) for r in rows.values()) == 6 - broken
    failed = [r for r in rows.values() if not r["output"]]
    assert all("copy to S3 failed" in r["failure"] for r in failed)
    assert all("exp=" not in r["failure"] for r in failed)  # no URL query strings leak
    runway.set_faults(Faults())
    second = collect(download_retries=0)
    assert (second.collected, second.already_collected, second.errors) == (broken, 6 - broken, 0)
    assert runway.stats()["downloads"] == 6
    assert all(r["output"] and r["failure"] is None for r in manifest_rows(s3).values())


def test_fail_on_errors_fails_the_run_after_writing_the_manifest(s3, runway):
    fill(s3, 2, bad=False)
    submit()
    runway.set_faults(Faults(rate_download_error=1.0))
    with pytest.raises(BatchFailedError, match="could not be copied"):
        collect(wait_seconds=30, download_retries=0, fail_on_errors=True)
    assert all("copy to S3 failed" in r["failure"] for r in manifest_rows(s3).values())


def test_a_lost_manifest_write_does_not_download_again(s3, runway, monkeypatch):
    fill(s3, 3, bad=False)
    batch = submit()

    def stopped(*args, **kwargs):
        raise RuntimeError("the run stopped before its manifest write")

    # As if the run had stopped after the copies and before its manifest write.
    real = collector_module.merge_manifest
    monkeypatch.setattr(collector_module, "merge_manifest", stopped)
    with pytest.raises(RuntimeError, match="stopped before"):
        collect(wait_seconds=30)
    assert len(claim_objects(s3)) == 3  # the done markers are the only record: kept
    monkeypatch.setattr(collector_module, "merge_manifest", real)
    again = collect()  # recorded from the claims' done markers: nothing copied again
    assert again.collected == 0 and again.succeeded == 3 and runway.stats()["downloads"] == 3
    assert all(r["output_sha256"] for r in manifest_rows(s3).values())
    assert claim_objects(s3) == []  # recorded in the manifest now: the markers are gone
    events = asyncio.run(read_events("runway.generation.", set(batch.task_ids), expected=3))
    assert sorted(e["payload"]["task_id"] for e in events) == sorted(batch.task_ids)


def test_collector_and_submission_runs_at_once_keep_every_row(s3, runway):
    """Whole runs side by side; the forced write order is in tests/test_manifest.py."""
    fill(s3, 4, bad=False)
    submit()
    for i in range(4, 8):  # more images land while the collector runs
        s3.put_object(Bucket=BUCKET, Key=f"in/img-{i:03d}.png", Body=png(32, 18, (i, 9, 9)))
    results: dict[str, object] = {}
    runs = {"collect": lambda: collect(wait_seconds=30), "submit": submit}
    threads = [threading.Thread(target=lambda n=n: results.update({n: runs[n]()}))
               for n in runs]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(results) == {"collect", "submit"}
    assert results["collect"].deferred == 0  # type: ignore[attr-defined]
    rows = manifest_rows(s3)
    assert len(rows) == 8 and all(r["task_id"] for r in rows.values())
    final = collect(wait_seconds=30)
    assert final.succeeded == 8 and runway.stats()["downloads"] == 8
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None and all(r.collected for r in manifest.rows)


def test_task_ids_without_manifest_and_nothing_to_collect(s3, runway):
    with pytest.raises(ValueError, match="Nothing to collect"):
        collect(manifest_uri=None)
    with pytest.raises(ValueError, match="No manifest at"):
        collect()
    fill(s3, 1, bad=False)
    batch = submit(write_manifest=False)
    result = collect(manifest_uri=None, task_ids=batch.task_ids, wait_seconds=30)
    assert result.collected == 1 and result.rows[0].output and result.manifest_uri is None


def grace_credentials(emu, seconds: float):
    """Credentials for `emu` whose not-found grace is `seconds` (a setting a person sets)."""
    from pydantic import SecretStr

    from prefect_runway import RunwayCredentials

    return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url,
                             not_found_grace=seconds)  # fmt: skip


def test_a_deleted_task_is_missing_then_lost_across_runs(s3, slow_runway):
    from prefect_runway.api.client import RunwayClient

    fill(s3, 2, bad=False)
    batch = submit()
    gone, alive = batch.task_ids
    with RunwayClient(API_KEY, base_url=slow_runway.base_url) as client:
        client.cancel_task(gone)  # cancels it (it was still running) ...
        client.cancel_task(gone)  # ... then deletes it: from now on it answers 404
    creds = grace_credentials(slow_runway, 2.0)
    first = collect(credentials_block=creds)  # one 404 is no verdict, even with no wait
    assert (first.pending, first.lost, first.failed, first.errors) == (2, 0, 0, 0)
    rows = {r.task_id: r for r in first.rows}
    assert rows[gone].missing_since is not None and rows[gone].final_status is None
    assert rows[alive].missing_since is None
    table = json.loads(asyncio.run(read_artifact(batch_key(VIDEOS_KEY, VIDEOS))).data)
    states = {r["task_id"]: (r["state"], bool(r["missing_since"])) for r in table}
    assert states == {gone: ("missing", True), alive: ("pending", False)}

    time.sleep(2.5)  # the 404s have now lasted longer than the grace, across two runs
    second = collect(credentials_block=creds)
    assert (second.pending, second.lost, second.failed) == (1, 1, 0)
    lost = next(r for r in second.rows if r.task_id == gone)
    assert lost.final_status == "LOST" and lost.finished and not lost.collected
    assert gone in str(lost.failure) and "404" in str(lost.failure)
    assert "grace of 2s" in str(lost.failure)
    assert lost.missing_since == rows[gone].missing_since  # the first 404 seen, kept
    summary = asyncio.run(read_artifact(batch_key(COLLECT_SUMMARY_KEY, VIDEOS))).data
    assert "| lost |" in summary and "| 0 | 0 | 1 | 0 | 0 | 1 |" in summary
    table = json.loads(asyncio.run(read_artifact(batch_key(VIDEOS_KEY, VIDEOS))).data)
    assert {r["task_id"]: r["state"] for r in table} == {gone: "LOST", alive: "pending"}
    [event] = asyncio.run(read_events("runway.generation.", {gone}, expected=1))
    assert event["event"] == "runway.generation.failed"
    assert event["payload"]["status"] == "LOST"

    third = collect(credentials_block=creds)  # a verdict stands: not polled, not told again
    assert (third.already_collected, third.lost, third.pending) == (1, 1, 1)
    assert claim_objects(s3) == []
    with pytest.raises(BatchFailedError, match="1 are lost"):
        collect(credentials_block=creds, fail_on_errors=True)


def test_a_404_blip_clears_and_is_never_lost(s3, slow_runway):
    fill(s3, 1, bad=False)
    [task_id] = submit().task_ids
    creds = grace_credentials(slow_runway, 1.0)
    slow_runway.set_faults(Faults(get_script=("404",)))  # the next poll only
    first = collect(credentials_block=creds)
    assert first.pending == 1 and first.rows[0].missing_since is not None
    time.sleep(1.5)  # longer than the grace since that 404
    second = collect(credentials_block=creds)  # it answers normally: the mark is cleared
    assert (second.pending, second.lost) == (1, 0) and second.rows[0].missing_since is None
    assert manifest_rows(s3)[second.rows[0].key]["missing_since"] is None
    slow_runway.set_faults(Faults(get_script=("404",)))  # another blip, a new first 404
    third = collect(credentials_block=creds)
    assert (third.pending, third.lost) == (1, 0) and third.rows[0].final_status is None
    slow_runway.advance_clock(MINUTES_10)
    last = collect(credentials_block=creds)
    assert last.collected == 1 and last.rows[0].missing_since is None
    assert last.rows[0].task_id == task_id and slow_runway.stats()["downloads"] == 1
