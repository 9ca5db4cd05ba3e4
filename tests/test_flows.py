"""The S3 fan-out flow against moto's S3 server and the emulator, on the Prefect test harness."""

from __future__ import annotations

import asyncio
import json
import sys
from unittest.mock import patch

import httpx
import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.flows.common import batch_key
from prefect_runway.flows.s3_image_to_video import SUMMARY_KEY, TABLE_KEY, s3_image_to_video
from prefect_runway.testing.emulator.samples import GIF, png
from tests._support.prefect_api import read_artifact
from tests._support.s3 import BAD, fill
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")


TABLE = batch_key(TABLE_KEY, f"{BUCKET}/in/")
SUMMARY = batch_key(SUMMARY_KEY, f"{BUCKET}/in/")


def run(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "in/", concurrency=8, **kwargs))


def test_prefix_with_bad_objects_submits_each_image_once_and_reports_the_rest(s3, runway):
    images = fill(s3)
    result = run()
    stats = runway.stats()
    assert stats["tasks_created"] == stats["posts"] == 30 and stats["duplicates"] == 0
    assert (result.submitted, result.cached, result.rejected, result.failed) == (30, 0, 4, 0)
    assert result.estimated_credits == 30 * 25
    errors = {row.source: row.error for row in result.rows if row.status == "rejected"}
    assert errors == {f"s3://{BUCKET}/{key}": reason for key, (_, _, reason) in BAD.items()}

    table = json.loads(asyncio.run(read_artifact(TABLE)).data)
    by_source = {row["source"]: row for row in table}
    assert {by_source[s]["task_id"] for s in images} == set(result.task_ids)
    assert len(set(result.task_ids)) == 30
    assert all(by_source[s]["cache"] == "new" and by_source[s]["status"] == "submitted"
               for s in images)
    summary = asyncio.run(read_artifact(SUMMARY)).data
    assert "| 30 | 0 | 0 | 4 | 0 | 0 | 0 | 0 | 750 (~7.50 USD) |" in summary
    assert "in/anim.gif" in summary and API_KEY not in summary + json.dumps(table)

    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key="in/runway-manifest.json")["Body"]
                          .read())
    assert [r["task_id"] for r in manifest["rows"]] == [row["task_id"] or None for row in table]
    assert manifest["settings"] == {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5}

    rerun = run()
    assert runway.stats()["posts"] == 30  # zero new submissions
    assert (rerun.submitted, rerun.cached, rerun.rejected) == (0, 30, 4)
    assert sorted(rerun.task_ids) == sorted(result.task_ids)
    table = json.loads(asyncio.run(read_artifact(TABLE)).data)
    assert {row["cache"] for row in table if row["task_id"]} == {"hit"}


def test_changed_image_is_a_new_generation(s3, runway):
    s3.put_object(Bucket=BUCKET, Key="in/a.png", Body=png(8, 8, (1, 2, 3)))
    first = run()
    s3.put_object(Bucket=BUCKET, Key="in/a.png", Body=png(8, 8, (9, 9, 9)))  # new ETag
    second = run()
    assert first.task_ids != second.task_ids and runway.stats()["tasks_created"] == 2


def test_budget_refuses_before_any_post(s3, runway):
    fill(s3, 10)
    # 10 images + 3 non-empty bad objects: the plan reads only the listing, an upper bound.
    with pytest.raises(Exception, match=r"Estimated cost 325 credits \(~3.25 USD\) exceeds the "
                       "budget of 100 credits"):
        run(budget_credits=100)
    assert runway.stats()["posts"] == 0


def test_cached_images_do_not_count_against_the_budget(s3, runway):
    fill(s3, 4, bad=False)
    run(budget_credits=100)
    assert run(budget_credits=0).cached == 4


def test_bad_settings_fail_before_listing(s3, runway):
    with pytest.raises(Exception, match="ratio '1280:768' is not supported by gen4_turbo"):
        run(ratio="1280:768")
    assert runway.stats()["posts"] == 0


def test_missing_bucket_is_a_clear_error(s3, runway):
    with pytest.raises(Exception, match="s3://no-such-bucket/in/: the bucket does not exist"):
        asyncio.run(s3_image_to_video("no-such-bucket", "in/"))


def test_api_failures_fail_the_run_after_reporting(s3, runway):
    from prefect_runway.testing.emulator import Faults

    fill(s3, 3)
    # Each POST refused by the API itself (nothing created); a refused key stops a batch at
    # once instead (tests/reliability/test_checks_before_paying.py).
    runway.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,)))  # with the API's own body
    once = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url, max_retries=0)
    failed = "3 of 7 submissions failed; see the 'runway-task-ids-stills-in'"
    with pytest.raises(Exception, match=failed):
        run(credentials_block=once)
    table = json.loads(asyncio.run(read_artifact(TABLE)).data)
    failed = [row for row in table if row["status"] == "failed"]
    assert len(failed) == 3 and runway.stats()["tasks_created"] == 0
    assert all(row["estimated_credits"] == 0 for row in failed)


def test_dask_task_runner_spreads_pages_and_keeps_the_once_only_promise(s3, runway):
    from prefect_dask import DaskTaskRunner

    fill(s3, 12, bad=False)
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "processes": False,
                                            "dashboard_address": None})
    on_dask = s3_image_to_video.with_options(task_runner=runner)
    with patch.object(sys.modules["prefect_runway.flows.s3_image_to_video"], "iter_s3_pages",
                      pages_of(5)):
        first = asyncio.run(on_dask(BUCKET, "in/", pages_in_flight=3))
        again = asyncio.run(on_dask(BUCKET, "in/", pages_in_flight=3))
    assert (first.submitted, again.cached) == (12, 12)
    assert runway.stats()["tasks_created"] == 12 and runway.stats()["duplicates"] == 0
    assert [r.source for r in first.rows] == sorted(r.source for r in first.rows)


def test_resubmit_pays_again_on_purpose(s3, runway):
    fill(s3, 2, bad=False)
    first = run()
    forced = run(resubmit=True)
    assert forced.submitted == 2 and runway.stats()["tasks_created"] == 4
    assert set(forced.task_ids).isdisjoint(first.task_ids)
    assert run().task_ids == forced.task_ids  # the new tasks replaced the cached ones


def pages_of(size: int):
    """iter_s3_pages with small pages, so a dozen objects make several page tasks."""
    from prefect_runway.s3.objects import iter_s3_pages

    def small_pages(s3, bucket, prefix=""):
        return iter_s3_pages(s3, bucket, prefix, page_size=size)

    return small_pages


def test_upload_transport_sends_runway_uris(s3, runway):
    fill(s3, 3, bad=False)
    result = run(transport="upload")
    assert result.submitted == 3 and runway.stats()["uploads"] == 3
    assert {row.transport for row in result.rows} == {"upload"}
    assert all(t["body"]["promptImage"].startswith("runway://") for t in runway.tasks())


def test_big_batches_split_the_table_artifact(s3, runway, monkeypatch):
    monkeypatch.setattr(sys.modules["prefect_runway.flows.s3_image_to_video"], "TABLE_ROWS", 4)
    fill(s3, 10, bad=False)
    result = run()
    parts = [json.loads(asyncio.run(read_artifact(key)).data)
             for key in (TABLE, f"{TABLE}-part-2", f"{TABLE}-part-3")]
    assert [len(p) for p in parts] == [4, 4, 2]
    assert [row["task_id"] for p in parts for row in p] == result.task_ids


def test_a_rerun_does_not_fetch_images_already_rejected_for_their_bytes(s3, runway, monkeypatch):
    from prefect_runway import delivery as transport

    s3.put_object(Bucket=BUCKET, Key="rj/notes.png", Body=b"plain text, not an image")
    s3.put_object(Bucket=BUCKET, Key="rj/anim.gif", Body=GIF)
    s3.put_object(Bucket=BUCKET, Key="rj/ok.png", Body=png(4, 4))
    first = asyncio.run(s3_image_to_video(BUCKET, "rj/"))
    reads = []
    real = transport.read_object
    monkeypatch.setattr(transport, "read_object", lambda *a: reads.append(a) or real(*a))
    again = asyncio.run(s3_image_to_video(BUCKET, "rj/"))
    assert (again.rejected, again.cached, again.submitted) == (2, 1, 0) and reads == []
    assert {r.source: r.error for r in again.rows if r.status == "rejected"} == {
        r.source: r.error for r in first.rows if r.status == "rejected"}


def test_a_lost_answer_is_flagged_on_the_row_the_result_and_the_summary(s3, runway, monkeypatch):
    """The first submit's answer is lost on the way back (the emulator created its task); the
    retry creates a second task. The image is reported as a possible duplicate everywhere."""
    import threading

    fill(s3, 3, bad=False)
    real, lost, guard = httpx.AsyncClient.request, [], threading.Lock()

    async def request(self, method, url, *args, **kwargs):
        response = await real(self, method, url, *args, **kwargs)
        if method == "POST" and str(url).endswith("/v1/image_to_video"):
            with guard:
                first = not lost
                lost.append(response.json()["id"])
            if first:
                raise httpx.ReadError("connection reset by peer")
        return response

    monkeypatch.setattr(httpx.AsyncClient, "request", request)
    result = run()
    stats = runway.stats()
    assert stats["tasks_created"] == 4 and stats["duplicates"] == 1
    [flagged] = [row for row in result.rows if row.possible_duplicate]
    assert (flagged.status, flagged.lost_responses) == ("submitted", 1)
    assert flagged.task_id != lost[0] and flagged.task_id in lost  # the retry's task
    assert (result.submitted, result.possible_duplicates) == (3, 1)
    table = json.loads(asyncio.run(read_artifact(TABLE)).data)
    assert [(r["source"], r["lost_responses"]) for r in table if r["possible_duplicate"]] == [
        (flagged.source, 1)]
    summary = asyncio.run(read_artifact(SUMMARY)).data
    assert "| 3 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 75 (~0.75 USD) |" in summary
    again = run()  # the record keeps the flag
    assert (again.cached, again.possible_duplicates) == (3, 1)
