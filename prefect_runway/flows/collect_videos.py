"""Wait for a batch's Runway tasks and copy every video to S3, with provenance.

``manifest (or task IDs) -> wait for all from one event loop -> stream each video to S3 ->
manifest updated (source, request, task ID, final status, output key, size, SHA-256) ->
artifacts + one Prefect event per finished generation``.

Each finished generation emits ``runway.generation.succeeded`` or ``runway.generation.failed``
(resource ``runway.task.<id>``), so automations and downstream deployments can react to
videos as they land instead of holding a worker while they wait.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import acreate_link_artifact, acreate_table_artifact
from prefect.events import emit_event
from pydantic import BaseModel

from prefect_runway.credentials import load_credentials
from prefect_runway.errors import RunwayError, RunwayTaskFailedError
from prefect_runway.models import Task
from prefect_runway.tasks import await_for_tasks, download_task_output

VIDEOS_KEY = "runway-videos"
MAX_LINK_ARTIFACTS = 25


class CollectResult(BaseModel):
    """What `collect_videos` returns."""

    succeeded: int
    failed: int
    manifest_uri: str | None
    rows: list[dict[str, Any]]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``.

    Raises:
        ValueError: not an s3:// URI.
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def _read_manifest(uri: str) -> dict[str, Any]:
    bucket, key = split_s3_uri(uri)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def _video_uri(output_prefix: str, row: dict[str, Any]) -> str:
    stem = row["source"].rsplit("/", 1)[-1].rsplit(".", 1)[0] if row.get("source") else ""
    return f"{output_prefix.rstrip('/')}/{stem or row['task_id']}-{row['task_id'][:8]}.mp4"


@flow(name="collect-runway-videos")
async def collect_videos(
    output_prefix: str,
    manifest_uri: str | None = None,
    task_ids: list[str] | None = None,
    credentials_block: str | None = None,
    timeout: float = 3600.0,
    fail_on_errors: bool = False,
) -> CollectResult:
    """Wait for every task of a batch and copy each video to ``output_prefix``.

    Args:
        output_prefix: ``s3://bucket/prefix/`` for the videos.
        manifest_uri: A manifest written by `s3_image_to_video` (updated in place).
        task_ids: Or plain task IDs, when there is no manifest.
        credentials_block: Name of a RunwayCredentials block; None reads the environment.
        timeout: Seconds to wait for all tasks.
        fail_on_errors: Fail the run when a generation failed (default: report it).
    """
    logger = get_run_logger()
    split_s3_uri(output_prefix.rstrip("/") + "/x")  # fail fast on a bad prefix
    manifest = _read_manifest(manifest_uri) if manifest_uri else {"rows": []}
    rows: list[dict[str, Any]] = [r for r in manifest["rows"] if r.get("task_id")]
    rows += [{"source": None, "task_id": task_id} for task_id in task_ids or []]
    if not rows:
        raise ValueError("Nothing to collect: give a manifest_uri with task IDs, or task_ids.")
    credentials = await load_credentials(credentials_block)

    results = await await_for_tasks(credentials, [r["task_id"] for r in rows], timeout=timeout)
    done = [r for r in rows if isinstance(results[r["task_id"]], Task)]
    destinations = [_video_uri(output_prefix, r) for r in done]
    futures = download_task_output.map(
        unmapped(credentials), [r["task_id"] for r in done], destinations
    )
    saved = {r["task_id"]: f.result()[0] for r, f in zip(done, futures, strict=True)}

    for row in rows:
        outcome = results[row["task_id"]]
        row["final_status"] = "SUCCEEDED" if isinstance(outcome, Task) else _status(outcome)
        if isinstance(outcome, Task):
            record = saved[row["task_id"]]
            row.update(output=record["location"], output_bytes=record["bytes"],
                       output_sha256=record["sha256"], failure=None)  # fmt: skip
        else:
            row.update(output=None, failure=str(outcome))
            logger.warning("Runway task %s: %s", row["task_id"], outcome)
        _emit(row, outcome)

    if manifest_uri:
        bucket, key = split_s3_uri(manifest_uri)
        manifest["rows"] = [r for r in manifest["rows"] if not r.get("task_id")] + rows
        boto3.client("s3").put_object(
            Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=1).encode(),
            ContentType="application/json",
        )  # fmt: skip
    await _publish(rows)
    failed = sum(r["final_status"] != "SUCCEEDED" for r in rows)
    if fail_on_errors and failed:
        raise RuntimeError(f"{failed} of {len(rows)} generations did not succeed.")
    return CollectResult(
        succeeded=len(rows) - failed, failed=failed, manifest_uri=manifest_uri, rows=rows
    )


def _status(outcome: RunwayError | Task) -> str:
    if isinstance(outcome, RunwayTaskFailedError):
        return outcome.status
    return "TIMEOUT" if "did not finish" in str(outcome) else "ERROR"


def _emit(row: dict[str, Any], outcome: RunwayError | Task) -> None:
    succeeded = isinstance(outcome, Task)
    emit_event(
        event=f"runway.generation.{'succeeded' if succeeded else 'failed'}",
        resource={
            "prefect.resource.id": f"runway.task.{row['task_id']}",
            "prefect.resource.name": row.get("source") or row["task_id"],
        },
        payload={
            "task_id": row["task_id"],
            "source": row.get("source"),
            "status": row["final_status"],
            "output": row.get("output"),
            "failure_code": getattr(outcome, "failure_code", None),
        },
    )


async def _publish(rows: list[dict[str, Any]]) -> None:
    await acreate_table_artifact(
        key=VIDEOS_KEY,
        table=[
            {
                "source": r.get("source") or "",
                "task_id": r["task_id"],
                "status": r["final_status"],
                "output": r.get("output") or "",
                "bytes": r.get("output_bytes") or "",
                "sha256": r.get("output_sha256") or "",
                "failure": r.get("failure") or "",
            }
            for r in rows
        ],
        description="Runway videos copied to S3",
    )
    for row in [r for r in rows if r.get("output")][:MAX_LINK_ARTIFACTS]:
        await acreate_link_artifact(
            link=row["output"], link_text=row["output"].rsplit("/", 1)[-1],
            description=f"Video of {row.get('source') or row['task_id']}",
        )  # fmt: skip
