"""Drive a batch to completion over days: one scheduled tick submits what today's quota allows
and collects what has finished, then lets the worker go.

``tick -> nothing left? say so, stop -> s3_image_to_video (deferred past the daily limit) ->
collect_videos (no waiting) -> runway-progress artifact (counts and an estimated finish)``.

Point a daily (or hourly) schedule at it once; a 1,000-image prefix at tier 1 (50 generations
a day) finishes in 20 ticks without holding a worker between them.

Example:
    ```python
    from prefect_runway.flows.drive_batch import drive_batch

    drive_batch.serve(name="stills-daily", cron="0 3 * * *",
                      parameters={"bucket": "my-stills", "prefix": "2026/"})
    ```
"""

from __future__ import annotations

from typing import Any

import boto3
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from pydantic import BaseModel

from prefect_runway.flows.collect_videos import collect_videos
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.manifest import Manifest, read_manifest
from prefect_runway.sources import MANIFEST_NAME, iter_s3_pages

PROGRESS_KEY = "runway-progress"


class BatchProgress(BaseModel):
    """Where a driven batch stands after a tick.

    Attributes:
        images: Objects under the prefix (images and not).
        submitted: Rows with a Runway task (this tick or earlier).
        deferred: Images waiting for a later day's quota.
        running: Tasks not finished (or not collected) yet.
        collected: Videos copied to the output prefix.
        failed: Generations that failed, images rejected or failed to submit, unknown outcomes.
        ticks_remaining: Estimated ticks (days at a daily schedule) until everything is
            submitted; 0 when nothing is deferred.
        complete: True when nothing is left to submit or collect.
    """

    images: int
    submitted: int
    deferred: int
    running: int
    collected: int
    failed: int
    ticks_remaining: int
    complete: bool


@flow(name="drive-runway-batch")
async def drive_batch(
    bucket: str,
    prefix: str = "",
    output_prefix: str | None = None,
    model: str = "gen4_turbo",
    ratio: str = "1280:720",
    duration: int | None = 5,
    prompt_text: str | None = None,
    seed: int | None = None,
    credentials_block: str | None = None,
    budget_credits: float | None = None,
) -> BatchProgress:
    """One tick of a batch driven by a schedule: submit today's share, collect what finished.

    Args:
        bucket: Source bucket.
        prefix: Key prefix of the images.
        output_prefix: Where videos go; default ``s3://<bucket>/runway-videos/<prefix>``
            (outside the input prefix, so videos are never listed as inputs).
        model: Runway model.
        ratio: Output ratio.
        duration: Seconds of video.
        prompt_text: Optional prompt.
        seed: Optional seed.
        credentials_block: Name of a RunwayCredentials block; None reads the environment.
        budget_credits: Refuse a tick whose new generations would cost more.

    Returns:
        The batch's progress after this tick (also the ``runway-progress`` artifact).
    """
    logger = get_run_logger()
    output_prefix = output_prefix or f"s3://{bucket}/runway-videos/{prefix}"
    manifest_uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
    s3 = boto3.client("s3")
    before = read_manifest(s3, bucket, f"{prefix}{MANIFEST_NAME}")
    listed = sum(len(page) for page in iter_s3_pages(s3, bucket, prefix))
    if before is not None and _complete(before, listed):
        progress = _progress(before, listed, days=0)
        logger.info("Batch s3://%s/%s is complete: nothing left to do.", bucket, prefix)
        await _publish(progress, bucket, prefix, output_prefix)
        return progress

    batch = await s3_image_to_video(
        bucket, prefix, model=model, ratio=ratio, duration=duration, prompt_text=prompt_text,
        seed=seed, credentials_block=credentials_block, budget_credits=budget_credits,
        fail_on_errors=False,
    )  # fmt: skip
    await collect_videos(output_prefix, manifest_uri=manifest_uri,
                         credentials_block=credentials_block)  # fmt: skip
    after = read_manifest(s3, bucket, f"{prefix}{MANIFEST_NAME}") or Manifest()
    progress = _progress(after, listed, days=batch.days_remaining or 0)
    await _publish(progress, bucket, prefix, output_prefix)
    return progress


def _complete(manifest: Manifest, listed: int) -> bool:
    rows = [row for row in manifest.rows if row.source]
    if len(rows) < listed:
        return False  # new objects since the last tick
    return all(row.finished or (row.status == "rejected") for row in rows)


def _progress(manifest: Manifest, listed: int, days: int) -> BatchProgress:
    rows = [row for row in manifest.rows if row.source]
    bad = ("rejected", "failed", "unknown", "unrecorded")
    failed_generation = [r for r in rows if r.finished and not r.collected]
    return BatchProgress(
        images=listed,
        submitted=sum(bool(r.task_id) for r in rows),
        deferred=sum(r.status == "deferred" for r in rows),
        running=sum(bool(r.task_id) and not r.finished for r in rows),
        collected=sum(r.collected for r in rows),
        failed=len(failed_generation) + sum(r.status in bad and not r.task_id for r in rows),
        ticks_remaining=days,
        complete=_complete(manifest, listed),
    )


async def _publish(progress: BatchProgress, bucket: str, prefix: str, output: str) -> None:
    state: dict[str, Any] = progress.model_dump()
    if progress.complete:
        finish = "complete: nothing left to submit or collect"
    elif progress.deferred:
        finish = f"about {progress.ticks_remaining} more tick(s) at today's daily limit"
    else:
        finish = "everything is submitted; the next tick collects what is still running"
    markdown = f"""# Runway batch progress: s3://{bucket}/{prefix}

| images | submitted | deferred | running | collected | failed |
|---|---|---|---|---|---|
| {state["images"]} | {state["submitted"]} | {state["deferred"]} | {state["running"]} | \
{state["collected"]} | {state["failed"]} |

Estimated finish: {finish}. Videos: `{output}`
"""
    await acreate_markdown_artifact(
        markdown=markdown, key=PROGRESS_KEY, description=f"Driven batch s3://{bucket}/{prefix}"
    )
