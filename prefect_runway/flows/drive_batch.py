"""Drive a batch to completion over days: one scheduled tick submits what today's quota allows
and collects what has finished, then lets the worker go.

``tick -> nothing left? say so, stop -> s3_image_to_video (deferred past the daily limit) ->
collect_videos (no waiting) -> runway-progress artifact (counts and an estimated finish)``.

Point a daily (or hourly) schedule at it once; a 1,000-image prefix at tier 1 (50 generations
a day) finishes in 20 ticks without holding a worker between them.

Example:
    ```python
    # not run: serve() runs until stopped
    from prefect_runway.flows.drive_batch import drive_batch

    drive_batch.serve(name="stills-daily", cron="0 3 * * *",
                      parameters={"bucket": "my-stills", "prefix": "2026/"})
    ```
"""

from __future__ import annotations

import sys
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from pydantic import BaseModel

from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.flows.collect_videos import collect_videos
from prefect_runway.flows.common import (
    AwsCredentialsParam,
    BucketParam,
    S3Location,
    add_settings_arguments,
    add_source_arguments,
    batch_key,
    flow_parser,
    folder,
    generation_settings,
    refuse_output_inside_input,
    run_flow,
)
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.s3.manifest import Manifest, read_manifest
from prefect_runway.s3.objects import MANIFEST_NAME, iter_s3_pages

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
        held: Images whose outcome is unknown (a task may exist): held until a tick with
            ``resubmit_unknown=True``, or adopted (see the README).
        ticks_remaining: Estimated ticks (days at a daily schedule) until everything is
            submitted; 0 when nothing is deferred.
        complete: True when nothing is left to submit or collect.
        outputs: Where the batch's videos are (the folders the manifest records).
    """

    images: int
    submitted: int
    deferred: int
    running: int
    collected: int
    failed: int
    held: int = 0
    ticks_remaining: int
    complete: bool
    outputs: list[str] = []


@flow(name="drive-runway-batch")
async def drive_batch(
    bucket: BucketParam,
    prefix: str = "",
    output_prefix: str | None = None,
    model: str = "gen4_turbo",
    ratio: str = "1280:720",
    duration: int | None = 5,
    prompt_text: str | None = None,
    seed: int | None = None,
    credentials_block: RunwayCredentials | str | None = None,
    budget_credits: float | None = None,
    resubmit_unknown: bool = False,
    aws_credentials: AwsCredentialsParam = None,
) -> BatchProgress:
    """One tick of a batch driven by a schedule: submit today's share, collect what finished.

    Args:
        bucket: Source bucket: its name, or a prefect-aws ``S3Bucket`` block.
        prefix: Key prefix of the images.
        output_prefix: Where videos go; default ``s3://<bucket>/runway-videos/<prefix>``
            (outside the input prefix, so videos are never listed as inputs).
        model: Runway model.
        ratio: Output ratio.
        duration: Seconds of video.
        prompt_text: Optional prompt.
        seed: Optional seed.
        credentials_block: A RunwayCredentials block, or a saved block's name; None reads
            the environment.
        budget_credits: Refuse a tick whose new generations would cost more.
        resubmit_unknown: Pay again for images whose outcome is unknown (a task may exist;
            flagged ``possible_duplicate``). Check the Runway dashboard first.
        aws_credentials: A prefect-aws ``AwsCredentials`` block for S3; None: the
            ``S3Bucket`` block's, else boto3's standard chain.

    Returns:
        The batch's progress after this tick (also the ``runway-progress`` artifact).
    """
    logger = get_run_logger()
    # Every local check before anything is listed or read (s3_image_to_video checks again).
    credentials = await load_credentials(credentials_block)
    generation_settings(credentials.dialect, model=model, ratio=ratio, duration=duration,
                        prompt_text=prompt_text, seed=seed)  # fmt: skip
    where = S3Location.of(bucket, folder(prefix), aws_credentials)
    bucket, prefix = where.bucket, where.prefix
    output_prefix = folder(output_prefix or f"s3://{bucket}/runway-videos/{prefix}",
                           "output_prefix")  # fmt: skip
    refuse_output_inside_input(output_prefix, bucket, prefix)
    manifest_uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
    s3 = where.client()
    before = read_manifest(s3, bucket, f"{prefix}{MANIFEST_NAME}")
    listed = sum(len(page) for page in iter_s3_pages(s3, bucket, prefix))
    if before is not None and _complete(before, listed):
        progress = _progress(before, listed, days=0)
        logger.info("Batch s3://%s/%s is complete: nothing left to do.", bucket, prefix)
        await _publish(progress, bucket, prefix, output_prefix)
        return progress

    batch = await s3_image_to_video(
        bucket, prefix, model=model, ratio=ratio, duration=duration, prompt_text=prompt_text,
        seed=seed, credentials_block=credentials, budget_credits=budget_credits,
        fail_on_errors=False, resubmit_unknown=resubmit_unknown,
        aws_credentials=where.credentials,
    )  # fmt: skip
    await collect_videos(output_prefix, manifest_uri=manifest_uri,
                         credentials_block=credentials,
                         aws_credentials=where.credentials)  # fmt: skip
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
    outputs = sorted({str(r.output).rsplit("/", 1)[0] + "/" for r in rows if r.output})
    failed_generation = [r for r in rows if r.finished and not r.collected]
    return BatchProgress(
        images=listed,
        submitted=sum(bool(r.task_id) for r in rows),
        deferred=sum(r.status == "deferred" for r in rows),
        running=sum(bool(r.task_id) and not r.finished for r in rows),
        collected=sum(r.collected for r in rows),
        failed=len(failed_generation) + sum(r.status in bad and not r.task_id for r in rows),
        held=sum(r.status == "unknown" for r in rows),
        ticks_remaining=days,
        complete=_complete(manifest, listed),
        outputs=outputs,
    )


async def _publish(progress: BatchProgress, bucket: str, prefix: str, output: str) -> None:
    state: dict[str, Any] = progress.model_dump()
    # Where the videos are, as the manifest records them (another collector may have copied
    # some elsewhere), and where this tick copies new ones.
    where = sorted(set(progress.outputs) | {output})
    videos = ", ".join(f"`{uri}`" for uri in where)
    if progress.complete:
        finish = "complete: nothing left to submit or collect"
    elif progress.deferred:
        finish = f"about {progress.ticks_remaining} more tick(s) at today's daily limit"
    else:
        finish = "everything is submitted; the next tick collects what is still running"
    markdown = f"""# Runway batch progress: s3://{bucket}/{prefix}

| images | submitted | deferred | running | collected | failed | held (unknown) |
|---|---|---|---|---|---|---|
| {state["images"]} | {state["submitted"]} | {state["deferred"]} | {state["running"]} | \
{state["collected"]} | {state["failed"]} | {state["held"]} |

Estimated finish: {finish}. Videos: {videos}
"""
    await acreate_markdown_artifact(
        markdown=markdown,
        key=batch_key(PROGRESS_KEY, f"{bucket}/{prefix}"),
        description=f"Driven batch s3://{bucket}/{prefix}",
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.drive_batch BUCKET [PREFIX] ...``: one tick.

    Returns:
        0 when the tick completed, 1 when it failed (the reason is in its log).
    """
    parser = flow_parser(__doc__, "python -m prefect_runway.flows.drive_batch")
    add_source_arguments(parser)
    parser.add_argument("--output-prefix", metavar="S3_URI",
                        help="where videos go (default: s3://BUCKET/runway-videos/PREFIX)")
    add_settings_arguments(parser)
    parser.add_argument("--resubmit-unknown", action="store_true",
                        help="pay again for images whose outcome is unknown (flagged)")  # fmt: skip
    args = parser.parse_args(argv)
    return run_flow(drive_batch(
        args.bucket, args.prefix, output_prefix=args.output_prefix, model=args.model,
        ratio=args.ratio, duration=args.duration, prompt_text=args.prompt_text, seed=args.seed,
        credentials_block=args.credentials_block, budget_credits=args.budget_credits,
        resubmit_unknown=args.resubmit_unknown, return_state=True,
    ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
