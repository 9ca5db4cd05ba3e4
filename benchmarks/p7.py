"""P7, delivery: how soon a finished video is in S3, and what waiting for it costs in polls.

N=60 image-to-video tasks of 10 s on the emulator (concurrency 5: twelve waves, the last
ending ~120 s in) are collected by one ``collect_videos`` run over moto's S3 server. For each
task: the time from its SUCCEEDED (the emulator's own end time) to its video being complete in
S3 (the collector's publish step returning). The baseline, from the same run's timestamps: a
collector that copies only after the last task finished (what the collector did before it
streamed), i.e. the last SUCCEEDED minus this one's, plus this video's own copy time.
The goal: a median of at most one poll interval plus the copy.

Run it with ``python benchmarks/run.py --only p7``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import time
import uuid
from typing import Any

from benchmarks import harness

N, CONCURRENCY, GENERATION = 60, 5, 10.0


def p7(runs: int, n: int = N, concurrency: int = CONCURRENCY,
       generation: float = GENERATION) -> list[dict[str, Any]]:  # fmt: skip
    """P7's figures over `runs` runs (medians)."""
    ours, base, polls, intervals, copies, duplicates = [], [], [], [], [], []
    for _ in range(runs):
        figures = _one(n, concurrency, generation)
        ours.append(figures["median_latency_s"])
        base.append(figures["baseline_median_latency_s"])
        polls.append(figures["polls_per_task"])
        intervals.append(figures["poll_interval_s"])
        copies.append(figures["median_copy_s"])
        duplicates.append(figures["downloads"] - n)
    interval, copy = harness.median(intervals), harness.median(copies)
    ours_s, base_s = harness.median(ours), harness.median(base)
    return [{
        "name": f"P7 delivery, N={n}, {generation:g} s generations, emulator concurrency "
                f"{concurrency}: median SUCCEEDED -> video in S3",
        "baseline_s": base_s, "ours_s": ours_s, "ratio": ours_s / base_s,
        "target": "median <= one poll interval + the copy; 1 download per video",
        "met": ours_s <= interval + copy and max(duplicates) == 0,
        "p7": {"polls_per_task": harness.median(polls), "poll_interval_s": interval,
               "median_copy_s": copy, "extra_downloads": max(duplicates)},
    }]  # fmt: skip


def notes(result: dict[str, Any]) -> str:
    """The README table's notes for P7."""
    p7 = result["p7"]
    return (
        f"{p7['polls_per_task']:.1f} polls/task; poll interval {p7['poll_interval_s']:g} s, "
        f"median copy {p7['median_copy_s']:.2f} s; {p7['extra_downloads']} extra downloads; "
        "baseline: copy after the last task (the collector before streaming)"
    )


def _one(n: int, concurrency: int, generation: float) -> dict[str, Any]:
    import boto3

    from prefect_runway.api.client import MIN_POLL_INTERVAL, AsyncRunwayClient
    from prefect_runway.flows.collect_videos import collect_videos
    from prefect_runway.testing.emulator import Emulator

    tasks_module = importlib.import_module("prefect_runway.tasks")
    published: dict[str, float] = {}  # task ID prefix -> when its video was complete in S3
    real_store = tasks_module._store

    def timed_store(spool: Any, target: str, s3_client: Any, size: int, digest: str) -> None:
        real_store(spool, target, s3_client, size, digest)
        published[target.rsplit("-", 1)[-1].removesuffix(".mp4")] = time.monotonic()

    real_download = tasks_module._download_fresh

    def timed_download(client: Any, task_id: str, current: Any, index: int, spool: Any) -> Any:
        started = time.monotonic()
        answer = real_download(client, task_id, current, index, spool)
        copy_started[task_id] = started
        return answer

    copy_started: dict[str, float] = {}
    bucket = f"bench-p7-{uuid.uuid4().hex[:8]}"
    with harness.moto_process() as s3_url, Emulator(
        api_key=harness.API_KEY, concurrency=concurrency, generation_seconds=generation,
        fetch_urls=False,
    ) as emu:  # fmt: skip
        saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "RUNWAYML_BASE_URL",
                                                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                "AWS_DEFAULT_REGION")}  # fmt: skip
        os.environ.update({"AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                           "RUNWAYML_BASE_URL": emu.base_url})  # fmt: skip
        tasks_module._store, tasks_module._download_fresh = timed_store, timed_download
        try:
            boto3.client("s3").create_bucket(Bucket=bucket)
            ids = asyncio.run(_submit(AsyncRunwayClient, emu.base_url, n))
            polls_before = emu.stats()["polls"]
            asyncio.run(collect_videos(output_prefix=f"s3://{bucket}/videos/", task_ids=ids,
                                       wait_seconds=(n / concurrency + 3) * generation * 2))
            stats = emu.stats()
            ends = {t.id: t.ends_at for t in emu._state._tasks.values()}  # its monotonic clock
        finally:
            tasks_module._store, tasks_module._download_fresh = real_store, real_download
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    offset = emu._state.clock.offset
    latencies, baseline, copy_times = [], [], []
    last_end = max(float(e) for e in ends.values() if e is not None) - offset
    for task_id in ids:
        end = float(ends[task_id]) - offset  # type: ignore[arg-type]
        done = published[task_id[:8]]
        copy = done - copy_started[task_id]
        latencies.append(done - end)
        copy_times.append(copy)
        baseline.append(last_end - end + copy)
    return {
        "median_latency_s": harness.median(latencies),
        "baseline_median_latency_s": harness.median(baseline),
        "polls_per_task": (stats["polls"] - polls_before) / n,
        "poll_interval_s": MIN_POLL_INTERVAL,
        "median_copy_s": harness.median(copy_times),
        "downloads": stats["downloads"],
    }


async def _submit(client_class: Any, url: str, n: int) -> list[str]:
    from benchmarks.run import IMAGE, SETTINGS

    async with client_class(harness.API_KEY, base_url=url) as client:
        ids = []
        for i in range(n):
            body = SETTINGS.for_image(IMAGE).model_copy(update={"seed": i})
            ids.append((await client.image_to_video(body)).id)
        return ids
