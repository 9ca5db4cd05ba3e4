"""Daily limits in the fan-out flow: quota read up front, deferral on the first 429, days later."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from prefect_runway.flows.common import batch_key
from prefect_runway.flows.s3_image_to_video import SUMMARY_KEY, s3_image_to_video
from prefect_runway.testing.emulator.samples import png
from tests._support.prefect_api import read_artifact
from tests.conftest import BUCKET

# The module (the package exports the flow object under the same name).
flow_module = importlib.import_module("prefect_runway.flows.s3_image_to_video")

pytestmark = pytest.mark.usefixtures("prefect_harness")
DAY = 86400


@pytest.fixture
def tier1_runway(make_emulator, request):
    """An emulator at a tiny daily limit, found by RunwayCredentials() through the env
    (conftest's `runway` with tier 1's quota; test_quota's `tier1` is not in the env).
    Generations take an hour of emulated time unless the test asks for fast ones."""
    seconds = getattr(request, "param", 3600.0)
    return make_emulator(env=True, concurrency=2, generation_seconds=seconds, daily_limit=5)


def put(s3, count: int) -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"q/{i:03d}.png", Body=png(6, 6, (i, 9, 9)),
                      ContentType="image/png")  # fmt: skip


def run(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "q/", concurrency=2, **kwargs))


def test_a_known_quota_defers_the_rest_without_a_single_429(s3, tier1_runway):
    put(s3, 12)
    first = run()
    assert (first.submitted, first.deferred, first.failed) == (5, 7, 0)
    assert tier1_runway.stats()["rejected"].get("daily_limit", 0) == 0  # the quota was read first
    assert first.days_remaining == 2
    summary = asyncio.run(read_artifact(batch_key(SUMMARY_KEY, f"{BUCKET}/q/"))).data
    assert "**Deferred**: 7 image(s) were not submitted today" in summary
    assert "about 2 more day(s)" in summary
    deferred = [r for r in first.rows if r.status == "deferred"]
    assert all(r.task_id is None and r.estimated_credits is None for r in deferred)

    tier1_runway.advance_clock(DAY)
    second = run()
    assert (second.cached, second.submitted, second.deferred) == (5, 5, 2)
    tier1_runway.advance_clock(DAY)
    third = run()
    assert (third.cached, third.submitted, third.deferred, third.days_remaining) == (10, 2, 0, None)
    stats = tier1_runway.stats()
    assert stats["tasks_created"] == 12 and stats["duplicates"] == 0
    assert stats["rejected"].get("daily_limit", 0) == 0


def test_without_a_known_quota_the_first_429_defers_the_rest(s3, tier1_runway, monkeypatch):
    async def no_limits(credentials, model):  # like a proxy without /v1/organization
        return flow_module._Limits()

    monkeypatch.setattr(flow_module, "_organization_limits", no_limits)
    put(s3, 9)
    first = asyncio.run(s3_image_to_video(BUCKET, "q/", concurrency=1))
    assert (first.submitted, first.deferred, first.failed) == (5, 4, 0)
    assert tier1_runway.stats()["rejected"]["daily_limit"] == 1  # one answer, then no more asking
    assert "daily generation limit reached" in first.deferred_reason
    assert "maximum daily generations for gen4_turbo (5 per rolling 24 hours" in (
        first.deferred_reason
    )

    tier1_runway.advance_clock(DAY)
    second = asyncio.run(s3_image_to_video(BUCKET, "q/", concurrency=1))
    assert (second.cached, second.submitted, second.deferred) == (5, 4, 0)
    assert tier1_runway.stats()["tasks_created"] == 9 and tier1_runway.stats()["duplicates"] == 0


def test_the_scheduled_driver_finishes_a_batch_over_days_and_then_rests(s3, tier1_runway):
    from prefect_runway.flows.drive_batch import PROGRESS_KEY, drive_batch

    put(s3, 12)
    ticks = []
    for _ in range(6):
        ticks.append(asyncio.run(drive_batch(BUCKET, "q/")))
        tier1_runway.advance_clock(DAY)  # "tomorrow", in no real time
        if ticks[-1].complete:
            break
    assert [(t.submitted, t.deferred, t.collected) for t in ticks] == [
        (5, 7, 0), (10, 2, 5), (12, 0, 10), (12, 0, 12)]
    assert ticks[0].ticks_remaining == 2 and ticks[-1].complete
    posts = tier1_runway.stats()["posts"]

    rest = asyncio.run(drive_batch(BUCKET, "q/"))  # nothing left: says so, does no work
    assert rest.complete and tier1_runway.stats()["posts"] == posts
    progress = asyncio.run(read_artifact(batch_key(PROGRESS_KEY, f"{BUCKET}/q/"))).data
    assert "Estimated finish: complete: nothing left to submit or collect" in progress
    stats = tier1_runway.stats()
    assert stats["tasks_created"] == 12 and stats["duplicates"] == 0
    assert stats["downloads"] == 12  # every video copied exactly once
    assert stats["rejected"].get("daily_limit", 0) == 0
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="runway-videos/q/")["Contents"]
    assert sum(item["Key"].endswith(".mp4") for item in listed) == 12  # besides the claims
