"""Generations driven by a table: one row per generation, on any task endpoint, paid once.

``table (CSV, JSONL, Parquet; S3 or local) -> rows checked (bad rows rejected, named by line
and column) -> each row's inputs keyed (S3 ETags, content hashes) -> submitted once each ->
task IDs as artifacts + a JSON manifest the collector reads``.

Columns are request fields by their API names (camelCase or snake_case), inputs are
``s3://``, ``https://``, ``file://`` URIs or data URIs, ``id`` names a row, ``endpoint``
overrides the flow's endpoint per row, and ``variants`` asks for that many seeds of a row
(`prefect_runway.table`). Everything the S3 prefix flow promises holds: the same engine,
ledger and keys (a rerun of the same table pays nothing), quota deferral per model, the
same artifacts, and a manifest merged, never overwritten.

Example:
    ```python
    import asyncio

    from prefect_runway.flows.generate_from_table import generate_from_table

    rows = [{"id": "kite", "model": "gen4_image", "promptText": "a red kite",
             "ratio": "1920:1080", "variants": 2}]
    result = asyncio.run(generate_from_table(rows, endpoint="text_to_image"))
    print(result.submitted, result.task_ids)
    ```
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import ValidationError

from prefect_runway.api.requests import GenerationRequest
from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import (
    BatchFailedError,
    ImageSourceError,
    ManifestError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayValidationError,
    validation_messages,
)
from prefect_runway.flows.common import batch_key, flow_parser, run_flow, stop_error
from prefect_runway.flows.s3_image_to_video import (
    SUMMARY_KEY,
    TABLE_KEY,
    BatchResult,
    _log_ids_at_risk,
    _report,
)
from prefect_runway.ledger.batch import submit_generations
from prefect_runway.ledger.engine import GenerationJob, SubmissionRow
from prefect_runway.ledger.quota import DailyQuota
from prefect_runway.s3.manifest import merge_manifest
from prefect_runway.table import RejectedRow, TableRow, read_table
from prefect_runway.tasks import generation_job

MANIFEST_SUFFIX = ".runway-manifest.json"
"""A table's manifest sits beside it: ``s3://b/jobs/shots.csv.runway-manifest.json``."""


@flow(name="generate-from-table", log_prints=True)
async def generate_from_table(
    table: str | list[dict[str, Any]],
    endpoint: str = "image_to_video",
    defaults: dict[str, Any] | None = None,
    output_prefix: str | None = None,
    credentials_block: RunwayCredentials | str | None = None,
    concurrency: int = 8,
    transport: str = "auto",
    write_manifest: bool = True,
    fail_on_errors: bool = True,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> BatchResult:
    """Submit one generation per table row (per variant), each at most once.

    Args:
        table: ``s3://bucket/key`` or a local path of a ``.csv``, ``.jsonl`` or ``.parquet``
            file (gzip'd CSV and JSONL too), or the rows themselves as a list of dicts.
        endpoint: The rows' endpoint unless a row names its own (``endpoint`` column).
        defaults: Fields every row gets unless it gives them (e.g. ``{"model": "gen4.5"}``).
        output_prefix: ``s3://bucket/prefix/`` where the collector copies the outputs; the
            manifest is written there (``runway-manifest.json``). None: the manifest goes
            beside an S3 table (``<table>.runway-manifest.json``), and nowhere for a local
            one.
        credentials_block: A RunwayCredentials block or a saved block's name; None: the
            environment.
        concurrency: Submissions in flight.
        transport: How ``s3://`` and ``file://`` inputs travel: ``auto``, ``data_uri``,
            ``upload`` or ``url`` (a presigned GET URL).
        write_manifest: Write (merge) the manifest.
        fail_on_errors: Fail the run, after reporting, when a submission failed or its
            outcome is unknown. Rejected rows never fail it: they are reported.
        resubmit: Pay again for every row, even recorded ones.
        resubmit_unknown: Pay again for rows whose earlier outcome is unknown (flagged).

    Returns:
        Counts and one row per generation (rejected rows first, by line).
    """
    logger = get_run_logger()
    credentials = await load_credentials(credentials_block)
    label = table if isinstance(table, str) else f"{len(table)} rows"
    read = await asyncio.to_thread(read_table, table, endpoint=endpoint, defaults=defaults)
    rejected = [_rejected(row) for row in read.rejected]
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def job_of(item: TableRow) -> GenerationJob | SubmissionRow:
        try:
            request = GenerationRequest(endpoint=item.endpoint, body=item.body)
        except ValidationError as exc:
            return _refused(item, "; ".join(validation_messages(exc)))
        try:
            async with gate:  # inputs' identities: one HeadObject per S3 input
                return await generation_job(request, None, _source(item), transport=transport)
        except ImageSourceError as exc:  # the storage's fault, not the row's: a rerun retries
            return SubmissionRow(source=_source(item), status="failed", endpoint=item.endpoint,
                                 model=request.model, estimated_credits=0.0,
                                 error=f"ImageSourceError: {exc}")  # fmt: skip

    jobs: list[GenerationJob] = []
    for built in await asyncio.gather(*(job_of(item) for item in read.rows)):
        if isinstance(built, GenerationJob):
            jobs.append(built)
        else:
            rejected.append(built)
    logger.info(
        "%s: %d rows to submit (%d rejected), %d at a time", label, len(jobs), len(rejected),
        concurrency,
    )  # fmt: skip
    quota = await _daily_quota(credentials, {job.request.model for job in jobs})
    rows = rejected + await submit_generations(
        credentials, jobs, concurrency=concurrency, resubmit=resubmit,
        resubmit_unknown=resubmit_unknown, quota=quota,
    )  # fmt: skip
    for row in rows:
        if row.status in ("rejected", "failed"):
            logger.warning("%s %s: %s", row.source, row.status, row.error)
    manifest_uri = _manifest_uri(table, output_prefix) if write_manifest and rows else None
    result = BatchResult.of(rows, manifest_uri)
    new_ids = await _report(result, label)
    if manifest_uri:
        try:
            await asyncio.to_thread(_write_manifest, manifest_uri, rows, endpoint, label)
        except Exception as exc:
            reason = (
                f"the manifest {manifest_uri} could not be written ({type(exc).__name__}: {exc})"
            )
            _log_ids_at_risk(new_ids, reason)
            raise ManifestError(
                f"{reason}. This run's {len(new_ids)} new Runway task ID(s) are in the "
                f"'{batch_key(TABLE_KEY, label)}' artifact and here: "
                f"{', '.join(new_ids) or 'none'}. A rerun pays nothing for them and writes the "
                "manifest."
            ) from None
    stopping = [
        r for r in rows if r.stops_batch and r.error and not r.error.startswith("not sent")
    ]
    if stopping:
        raise stop_error(credentials, stopping[0].error or "")
    if result.unrecorded or (fail_on_errors and (result.failed or result.unknown)):
        at_risk = [r.task_id for r in rows if r.status == "unrecorded" and r.task_id]
        raise BatchFailedError(
            f"{result.failed} failed, {result.unknown} with an unknown outcome (held until a "
            f"run with resubmit_unknown=True), {result.unrecorded} created but not recorded "
            f"({', '.join(at_risk) or 'none'}) of {len(rows)} rows; see the "
            f"'{batch_key(TABLE_KEY, label)}' and '{batch_key(SUMMARY_KEY, label)}' artifacts. "
            "A rerun retries only the failed ones.",
            task_ids=at_risk,
        )
    return result


async def _daily_quota(credentials: RunwayCredentials, models: set[str]) -> DailyQuota:
    """Today's generations left for each model of the batch (each has its own tier limit):
    rows past it are ``deferred``, paid by a later run. Without the organization endpoint
    (proxies), the first daily-limit answer closes a model's quota instead."""
    try:
        async with credentials.get_async_client() as client:
            org = await client.organization()
    except (RunwayAuthenticationError, RunwayConnectionError) as exc:
        raise stop_error(credentials, exc) from None  # every row would fail the same way
    except Exception as exc:  # the limits are optional
        get_run_logger().info("No organization limits available (%s)", type(exc).__name__)
        return DailyQuota()
    remaining = {model: org.remaining_daily(model) for model in models}
    return DailyQuota({model: left for model, left in remaining.items() if left is not None})


def _source(row: TableRow) -> str:
    return row.source or f"line {row.line} ({row.id})"


def _rejected(row: RejectedRow) -> SubmissionRow:
    return SubmissionRow(source=row.source or f"line {row.line}", status="rejected",
                         error=row.message)  # fmt: skip


def _refused(row: TableRow, reason: str) -> SubmissionRow:
    return SubmissionRow(
        source=_source(row), status="rejected", endpoint=row.endpoint,
        model=str(row.body.get("model") or "") or None,
        error=f"line {row.line} ({row.id}): {reason}",
    )  # fmt: skip


def _manifest_uri(
    table: str | Sequence[Mapping[str, Any]], output_prefix: str | None
) -> str | None:
    if output_prefix:
        if not output_prefix.startswith("s3://"):
            raise RunwayValidationError(
                f"output_prefix {output_prefix!r} must be an s3://bucket/prefix/ URI"
            )
        return output_prefix.rstrip("/") + "/runway-manifest.json"
    if isinstance(table, str) and table.startswith("s3://"):
        return table + MANIFEST_SUFFIX
    return None


def _write_manifest(uri: str, rows: list[SubmissionRow], endpoint: str, table: str) -> None:
    bucket, _, key = uri[len("s3://") :].partition("/")
    merge_manifest(
        None, bucket, key, rows, settings={"table": table, "endpoint": endpoint},  # type: ignore[arg-type]
        flow_run_id=str(flow_run.id) if flow_run.id else None,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.generate_from_table TABLE [--endpoint E] ...``."""
    parser = flow_parser(__doc__, "python -m prefect_runway.flows.generate_from_table")
    parser.add_argument("table", help="s3://bucket/key or a local .csv/.jsonl/.parquet file")
    parser.add_argument("--endpoint", default="image_to_video",
                        help="the rows' endpoint unless a row names its own")  # fmt: skip
    parser.add_argument("--output-prefix", help="s3://bucket/prefix/ for outputs and manifest")
    parser.add_argument("--credentials-block", help="a saved RunwayCredentials block's name")
    parser.add_argument("--concurrency", type=int, default=8, metavar="N")
    parser.add_argument("--resubmit-unknown", action="store_true",
                        help="pay again for rows whose outcome is unknown (flagged)")  # fmt: skip
    args = parser.parse_args(argv)
    table = args.table if args.table.startswith("s3://") else os.path.abspath(args.table)
    return run_flow(
        generate_from_table(
            table, endpoint=args.endpoint, output_prefix=args.output_prefix,
            credentials_block=args.credentials_block, concurrency=args.concurrency,
            resubmit_unknown=args.resubmit_unknown, return_state=True,
        )  # fmt: skip
    )


if __name__ == "__main__":
    sys.exit(main())
