"""Copy a batch's finished videos to S3, incrementally: run it as often as you like.

``manifest (or task IDs) -> rows not finished yet -> one poll each (or a bounded wait) ->
stream each new video to S3 once -> merge the results into the manifest -> artifacts + one
Prefect event per generation that finished in this run``.

Each run:

- skips rows already finished (video copied, or the generation FAILED or was CANCELLED), so an
  hourly schedule copies each video exactly once across runs; a video found already at its
  destination (a run that stopped between the copy and the manifest write) is recorded
  without downloading it again;
- polls the other tasks once (``wait_seconds=0``, the default) or waits up to
  ``wait_seconds`` for them, and reports how many are still pending;
- downloads with fresh output URLs (an expired URL is refreshed by fetching the task again);
- fails only the rows whose copy failed: the others are saved, the manifest is written, and
  the next run tries those rows again;
- merges into the manifest (`prefect_runway.manifest.merge_manifest`), so a submission run
  writing at the same time loses nothing.

Each finished generation emits ``runway.generation.succeeded`` or ``runway.generation.failed``
(resource ``runway.task.<id>``), so automations and downstream deployments can react to
videos as they land instead of holding a worker while they wait.

Example:
    ```python
        from prefect_runway.flows.collect_videos import collect_videos

    result = asyncio.run(collect_videos("s3://stills/videos/",
                                        manifest_uri="s3://stills/in/runway-manifest.json"))
    print(result.collected, "copied now,", result.pending, "still generating")
    ```
"""

from __future__ import annotations

import hashlib
import sys
from datetime import datetime, timezone
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_table_artifact,
)
from prefect.events import emit_event
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import RunwayError, RunwayTaskFailedError, RunwayTaskTimeoutError
from prefect_runway.flows.common import (
    AwsCredentialsParam,
    S3Location,
    batch_key,
    flow_parser,
    folder,
    print_result,
    refuse_output_inside_input,
    run_flow,
)
from prefect_runway.manifest import Manifest, ManifestRow, merge_manifest, read_manifest
from prefect_runway.models import Task
from prefect_runway.tasks import download_task_output

VIDEOS_KEY = "runway-videos"
COLLECT_SUMMARY_KEY = "runway-collect"
MAX_LINK_ARTIFACTS = 25
TABLE_ROWS = 2000


class CollectResult(BaseModel):
    """What `collect_videos` returns.

    Attributes:
        succeeded: Rows whose video is in S3 (copied by this run or an earlier one).
        collected: Videos copied by this run.
        already_collected: Rows skipped because an earlier run finished them (video copied,
            or the generation failed).
        pending: Tasks still PENDING, THROTTLED or RUNNING.
        failed: Generations that ended FAILED or CANCELLED (this run or earlier).
        errors: Rows this run could not handle (a copy or a poll failed); retried next run.
        deferred: Manifest rows not submitted yet (status ``deferred``, e.g. over the daily
            limit): nothing to collect for them until a submission run picks them up.
        manifest_uri: The manifest updated, if any.
        rows: Every row with a task ID, as the manifest now holds it.
    """

    succeeded: int
    collected: int
    already_collected: int
    pending: int
    failed: int
    errors: int
    deferred: int = 0
    manifest_uri: str | None
    rows: list[ManifestRow]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``.

    Raises:
        ValueError: not an s3:// URI.

    Example:
        >>> split_s3_uri("s3://stills/in/runway-manifest.json")
        ('stills', 'in/runway-manifest.json')
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def video_uri(output_prefix: str, row: ManifestRow) -> str:
    """Where a row's video goes: ``<prefix>/<image stem>-<task ID prefix>.mp4``.

    Example:
        >>> row = ManifestRow(source="s3://b/in/cat.png", task_id="0f7a1234x")
        >>> video_uri("s3://b/videos/", row)
        's3://b/videos/cat-0f7a1234.mp4'
    """
    task_id = row.task_id or ""
    stem = row.source.rsplit("/", 1)[-1].rsplit(".", 1)[0] if row.source else ""
    return f"{output_prefix.rstrip('/')}/{stem or task_id}-{task_id[:8]}.mp4"


@flow(name="collect-runway-videos")
async def collect_videos(
    output_prefix: str,
    manifest_uri: str | None = None,
    task_ids: list[str] | None = None,
    credentials_block: RunwayCredentials | str | None = None,
    wait_seconds: float = 0.0,
    fail_on_errors: bool = False,
    download_retries: int = 2,
    aws_credentials: AwsCredentialsParam = None,
) -> CollectResult:
    """Copy the videos that have finished since the last run to ``output_prefix``.

    Args:
        output_prefix: ``s3://bucket/prefix/`` for the videos.
        manifest_uri: A manifest written by `s3_image_to_video` (merged, never overwritten).
        task_ids: Task IDs to collect too (or instead, without a manifest); added to the
            manifest as ``task:<id>`` rows.
        credentials_block: A RunwayCredentials block, or a saved block's name; None reads
            the environment.
        wait_seconds: How long to wait for unfinished tasks; 0 (default) polls each once and
            leaves the rest for the next run.
        fail_on_errors: Fail the run, after the manifest and artifacts are written, when a
            generation failed or a copy failed (default: report them; the next run retries
            failed copies).
        download_retries: Prefect retries of each video copy within this run.
        aws_credentials: A prefect-aws ``AwsCredentials`` block for S3; None: boto3's
            standard chain.

    Returns:
        Counts (copied now, already copied, pending, failed, errors) and the rows.
    """
    logger = get_run_logger()
    split_s3_uri(output_prefix.rstrip("/") + "/x")  # fail fast on a bad prefix
    output_prefix = folder(output_prefix, "output_prefix")
    if not manifest_uri and not task_ids:
        raise ValueError("Nothing to collect: give a manifest_uri with task IDs, or task_ids.")
    s3 = S3Location("", credentials=aws_credentials).client()
    manifest = Manifest()
    if manifest_uri:
        found = read_manifest(s3, *split_s3_uri(manifest_uri))
        if found is None:
            raise ValueError(
                f"No manifest at {manifest_uri}: run s3_image_to_video first, or pass task_ids."
            )
        manifest = found
        # The batch's input folder is the manifest's: videos copied inside it would be listed
        # as inputs by the next submission run.
        bucket, key = split_s3_uri(manifest_uri)
        refuse_output_inside_input(output_prefix, bucket, key.rpartition("/")[0] + "/"
                                   if "/" in key else "")  # fmt: skip
    known = {row.task_id for row in manifest.rows if row.task_id}
    extra = [ManifestRow(task_id=t) for t in dict.fromkeys(task_ids or []) if t not in known]
    rows = [row for row in manifest.rows if row.task_id] + extra
    todo = [row for row in rows if not row.finished]
    logger.info(
        "%d generations in the batch: %d finished earlier, %d to check",
        len(rows), len(rows) - len(todo), len(todo),
    )  # fmt: skip

    credentials = await load_credentials(credentials_block)
    outcomes = await _poll(credentials, [str(r.task_id) for r in todo], wait_seconds)
    updates, events = _download_and_record(
        credentials, s3, output_prefix, todo, outcomes, download_retries
    )

    if manifest_uri:
        bucket, key = split_s3_uri(manifest_uri)
        run_id = str(flow_run.id) if flow_run.id else None
        manifest = merge_manifest(s3, bucket, key, updates, collector_flow_run_id=run_id)
    else:
        manifest = manifest.with_rows(updates)
    final = [row for row in manifest.rows if row.task_id]
    by_key = {row.key: row for row in final}
    for row, outcome in events:
        _emit(by_key.get(row.key, row), outcome)

    pending = sum(isinstance(outcomes[str(r.task_id)], RunwayTaskTimeoutError) for r in todo)
    result = CollectResult(
        succeeded=sum(row.collected for row in final),
        collected=sum(1 for _, outcome in events if isinstance(outcome, Task)),
        already_collected=len(rows) - len(todo),
        pending=pending,
        failed=sum(row.finished and not row.collected for row in final),
        errors=sum(1 for u in updates if u.failure and u.final_status in (None, "SUCCEEDED")),
        deferred=sum(row.status == "deferred" and not row.task_id for row in manifest.rows),
        manifest_uri=manifest_uri,
        rows=final,
    )
    videos_key = batch_key(VIDEOS_KEY, output_prefix)
    await _publish(result, {e[0].key for e in events}, output_prefix)
    if result.errors:
        logger.warning(
            "%d rows could not be copied or checked this run (see '%s'); the next run retries "
            "only those.", result.errors, videos_key,
        )  # fmt: skip
    logger.info(
        "%s: %d videos copied now, %d earlier, %d still generating, %d failed generations, "
        "%d copy errors. Table: artifact '%s'",
        output_prefix, result.collected, result.already_collected, result.pending,
        result.failed, result.errors, videos_key,
    )  # fmt: skip
    if fail_on_errors and (result.failed or result.errors):
        raise RuntimeError(
            f"{result.failed} generations failed and {result.errors} rows could not be copied "
            f"(see the '{videos_key}' artifact); the manifest is written, a rerun copies only "
            "what is missing."
        )
    return result


async def _poll(
    credentials: RunwayCredentials, task_ids: list[str], wait_seconds: float
) -> dict[str, Task | RunwayError]:
    """Each task's state now (or after at most `wait_seconds`): the SUCCEEDED task, or the
    error it ended with; `RunwayTaskTimeoutError` means still running."""
    if not task_ids:
        return {}
    async with credentials.get_async_client() as client:
        return await client.wait_for_tasks(
            task_ids, timeout=max(wait_seconds, 0.0), not_found_grace=min(wait_seconds, 10.0)
        )


def _download_and_record(
    credentials: RunwayCredentials,
    s3: Any,
    output_prefix: str,
    todo: list[ManifestRow],
    outcomes: dict[str, Task | RunwayError],
    download_retries: int,
) -> tuple[list[ManifestRow], list[tuple[ManifestRow, Task | RunwayError]]]:
    """Copy the succeeded videos not yet in S3; return manifest updates and finished rows."""
    logger = get_run_logger()
    now = datetime.now(timezone.utc)
    succeeded = [r for r in todo if isinstance(outcomes[str(r.task_id)], Task)]
    copies: dict[str, dict[str, Any]] = {}
    to_download = []
    for row in succeeded:
        existing = _existing_copy(s3, video_uri(output_prefix, row))
        if existing is not None:
            logger.info("Video of %s is already at %s", row.task_id, existing["location"])
            copies[str(row.task_id)] = existing
        else:
            to_download.append(row)
    download = download_task_output.with_options(retries=download_retries)
    futures = download.map(
        unmapped(credentials),
        [str(r.task_id) for r in to_download],
        [video_uri(output_prefix, r) for r in to_download],
    )
    failures: dict[str, BaseException] = {}
    for row, future in zip(to_download, futures, strict=True):
        future.wait()
        if future.state.is_completed():
            copies[str(row.task_id)] = future.result()[0]
        else:
            error = future.result(raise_on_failure=False)
            failures[str(row.task_id)] = (
                error if isinstance(error, BaseException) else RuntimeError(str(error))
            )

    updates: list[ManifestRow] = []
    events: list[tuple[ManifestRow, Task | RunwayError]] = []
    for row in todo:
        task_id = str(row.task_id)
        outcome = outcomes[task_id]
        # Keyed by source; a row without one is keyed by its task ID. Never a new task ID.
        base: dict[str, Any] = {"source": row.source, "collected_task_id": task_id,
                                "collected_at": now}  # fmt: skip
        if row.source is None:
            base["task_id"] = task_id
        if isinstance(outcome, RunwayTaskTimeoutError):
            continue  # still generating: nothing to record
        if isinstance(outcome, Task) and task_id in copies:
            record = copies[task_id]
            update = ManifestRow(**base, final_status="SUCCEEDED", output=record["location"],
                                 output_bytes=record["bytes"], output_sha256=record["sha256"],
                                 failure=None, failure_code=None)  # fmt: skip
            events.append((update, outcome))
        elif isinstance(outcome, Task):
            reason = f"copy to S3 failed, retried next run: {failures[task_id]}"
            logger.warning("Runway task %s: %s", task_id, reason)
            update = ManifestRow(**base, final_status="SUCCEEDED", output=None, failure=reason)
        elif isinstance(outcome, RunwayTaskFailedError):
            update = ManifestRow(
                **base, final_status=outcome.status, output=None, failure=str(outcome),
                failure_code=outcome.failure_code,
            )  # fmt: skip
            logger.warning("Runway task %s: %s", task_id, outcome)
            events.append((update, outcome))
        else:
            reason = f"could not check the task, retried next run: {outcome}"
            logger.warning("Runway task %s: %s", task_id, reason)
            update = ManifestRow(**base, failure=reason)
        updates.append(update)
    return updates, events


def _existing_copy(s3: Any, uri: str) -> dict[str, Any] | None:
    """The record of a video already at `uri` (hashed from S3, not downloaded from Runway)."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return None
    if head.get("ContentType") != "video/mp4" or not head.get("ContentLength"):
        return None
    digest = hashlib.sha256()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        digest.update(chunk)
    return {"location": uri, "bytes": head["ContentLength"], "sha256": digest.hexdigest()}


def _emit(row: ManifestRow, outcome: Task | RunwayError) -> None:
    succeeded = isinstance(outcome, Task)
    emit_event(
        event=f"runway.generation.{'succeeded' if succeeded else 'failed'}",
        resource={
            "prefect.resource.id": f"runway.task.{row.task_id}",
            "prefect.resource.name": row.source or str(row.task_id),
        },
        payload={
            "task_id": row.task_id,
            "source": row.source,
            "status": row.final_status,
            "output": row.output,
            "failure_code": row.failure_code,
        },
    )


def _state(row: ManifestRow) -> str:
    if row.collected:
        return "collected"
    if row.finished:
        return str(row.final_status)
    return "error" if row.failure else "pending"


async def _publish(result: CollectResult, finished_now: set[str], output_prefix: str) -> None:
    table = [
        {
            "source": r.source or "",
            "state": _state(r),
            "task_id": r.task_id,
            "failure": r.failure or "",
            "new": r.key in finished_now,
            "output": r.output or "",
            "bytes": r.output_bytes or "",
            "sha256": r.output_sha256 or "",
        }
        for r in result.rows
    ]
    await acreate_table_artifact(
        key=batch_key(VIDEOS_KEY, output_prefix),
        table=table[:TABLE_ROWS],
        description=f"Runway videos copied to S3 (first {TABLE_ROWS} rows of {len(table)})"
        if len(table) > TABLE_ROWS
        else "Runway videos copied to S3",
    )
    markdown = f"""# Runway videos

| copied now | finished earlier | still generating | failed generations | copy errors |
|---|---|---|---|---|
| {result.collected} | {result.already_collected} | {result.pending} | {result.failed} | \
{result.errors} |

{result.succeeded} of {len(result.rows)} videos are in S3; {result.deferred} images are not \
submitted yet (deferred). Manifest: `{result.manifest_uri or "none"}`
"""
    await acreate_markdown_artifact(
        markdown=markdown, key=batch_key(COLLECT_SUMMARY_KEY, output_prefix)
    )
    new = [r for r in result.rows if r.key in finished_now and r.output]
    for row in new[:MAX_LINK_ARTIFACTS]:
        output = str(row.output)
        await acreate_link_artifact(
            link=output, link_text=output.rsplit("/", 1)[-1],
            description=f"Video of {row.source or row.task_id}",
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.collect_videos OUTPUT_PREFIX MANIFEST_URI ...``.

    Returns:
        0 when the run completed, 1 when it failed (the reason is in its log).
    """
    parser = flow_parser(__doc__, "python -m prefect_runway.flows.collect_videos")
    parser.add_argument("output_prefix", help="s3://bucket/prefix/ for the videos")
    parser.add_argument("manifest_uri", nargs="?",
                        help="s3://bucket/.../runway-manifest.json of a batch")  # fmt: skip
    parser.add_argument("--task-id", action="append", dest="task_ids", metavar="ID",
                        help="a task ID to collect too (repeatable)")  # fmt: skip
    parser.add_argument("--credentials-block", metavar="NAME",
                        help="a saved RunwayCredentials block (default: the environment)")
    parser.add_argument("--wait-seconds", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long for unfinished tasks (0: poll each once)")
    parser.add_argument("--fail-on-errors", action="store_true",
                        help="fail the run when a generation or a copy failed")  # fmt: skip
    args = parser.parse_args(argv)
    state = run_flow(collect_videos(
        output_prefix=args.output_prefix, manifest_uri=args.manifest_uri,
        task_ids=args.task_ids, credentials_block=args.credentials_block,
        wait_seconds=args.wait_seconds, fail_on_errors=args.fail_on_errors, return_state=True,
    ))  # fmt: skip
    if not state.is_completed():
        return 1
    print_result(state.result())
    return 0


if __name__ == "__main__":
    sys.exit(main())
