"""Animate every image under an S3 prefix: one cached Runway submission per image.

``s3 prefix -> list (streaming) -> estimate credits, check budget -> submit each new image once
-> task IDs as artifacts + a JSON manifest next to the inputs``.

Run it locally with ``make demo``, or for real:

```bash
export RUNWAYML_API_SECRET=key_...      # or save a RunwayCredentials block named "runway"
python flows/s3_image_to_video.py my-bucket stills/ --budget-credits 500
```

Failure policy: images that cannot be used (not an image, empty, too large, refused by
local validation) are *rejected*: reported in the artifacts and manifest, never submitted, and
they do not fail the run. Images whose submission failed (at the API after the client's
transient retries, or at the ledger), whose outcome is *unknown* (a task may exist), or whose
task was created but not recorded fail the run, *after* the artifacts and the manifest are
written, so nothing is lost; a rerun submits only the failed ones (everything else is a
cache hit, and unknown outcomes are held until ``resubmit_unknown=True``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.batch import SubmissionRow, submit_images
from prefect_runway.caching import submission_key
from prefect_runway.credentials import load_credentials
from prefect_runway.engine import DailyQuota
from prefect_runway.errors import ImageRejectedError, RecordReadError
from prefect_runway.manifest import merge_manifest
from prefect_runway.records import Ledger
from prefect_runway.sources import MANIFEST_NAME, PRESIGNED_URL_CAVEAT, S3Image, iter_s3_pages
from prefect_runway.tasks import check_budget
from prefect_runway.transport import Transport, precheck, s3_image_job

TABLE_KEY = "runway-task-ids"
SUMMARY_KEY = "runway-summary"
TABLE_ROWS = 2000


class BatchResult(BaseModel):
    """What `s3_image_to_video` returns."""

    submitted: int
    cached: int
    rejected: int
    failed: int
    unknown: int = 0
    unrecorded: int = 0
    deferred: int = 0
    deferred_reason: str | None = None
    days_remaining: int | None = None
    estimated_credits: float
    possible_duplicates: int
    manifest_uri: str | None
    rows: list[SubmissionRow]

    @property
    def task_ids(self) -> list[str]:
        """Every task ID of the batch, new and cached."""
        return [row.task_id for row in self.rows if row.task_id]


@task(name="plan-runway-batch")
async def plan_batch(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    bucket: str,
    prefix: str,
    transport: Transport,
    resubmit: bool = False,
    remaining_today: int | None = None,
) -> dict[str, Any]:
    """Count the images a run would pay for, from the listing and the ledger alone: nothing
    is downloaded or submitted. With `resubmit`, every usable image counts; unknown outcomes
    (held) and unreadable records (failing closed) do not; past today's quota
    (`remaining_today`), images are deferred, not counted."""
    s3 = boto3.client("s3")
    ledger = await Ledger.default()
    fingerprint = credentials.account_fingerprint
    new = listed = 0
    for page in iter_s3_pages(s3, bucket, prefix):
        for obj in page:
            listed += 1
            try:
                precheck(obj, transport, credentials.dialect)
            except ImageRejectedError:
                continue
            if resubmit:
                new += 1
                continue
            try:
                record = await ledger.read(submission_key(fingerprint, settings, obj.identity))
            except RecordReadError:
                continue  # its row fails closed: never paid in this run
            if record is None or (record.state == "submitted" and record.expired):
                new += 1
    deferred = 0 if remaining_today is None else max(new - remaining_today, 0)
    new -= deferred
    price = settings.estimated_credits()
    credits = 0.0 if new == 0 else (None if price is None else new * price)
    return {"listed": listed, "new": new, "deferred": deferred, "estimated_credits": credits}


@task(name="submit-s3-images")
async def submit_s3_page(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    page: list[S3Image],
    transport: Transport,
    concurrency: int,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
    daily_remaining: int | None = None,
    daily_closed: str | None = None,
) -> list[SubmissionRow]:
    """Submit one listing page: each image through the submission engine (see engine.py),
    at most `daily_remaining` of them (None: no known limit); the rest are deferred."""
    s3 = boto3.client("s3")
    jobs = (s3_image_job(s3, obj, transport, model=settings.model) for obj in page)
    quota = DailyQuota({} if daily_remaining is None else {settings.model: daily_remaining})
    if daily_closed:
        quota.close(settings.model, daily_closed)
    return await submit_images(
        credentials, settings, jobs, concurrency=concurrency, resubmit=resubmit,
        resubmit_unknown=resubmit_unknown, quota=quota,
    )  # fmt: skip


@flow(name="s3-image-to-video", log_prints=True)
async def s3_image_to_video(
    bucket: str,
    prefix: str = "",
    model: str = "gen4_turbo",
    ratio: str = "1280:720",
    duration: int | None = 5,
    prompt_text: str | None = None,
    seed: int | None = None,
    credentials_block: str | None = None,
    concurrency: int | None = None,
    budget_credits: float | None = None,
    transport: Transport = "auto",
    write_manifest: bool = True,
    fail_on_errors: bool = True,
    pages_in_flight: int = 1,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> BatchResult:
    """Submit one image-to-video generation per image under ``s3://bucket/prefix``.

    Args:
        bucket: Source bucket.
        prefix: Key prefix to list.
        model: Runway model, e.g. ``gen4_turbo``.
        ratio: Output ratio, e.g. ``1280:720`` (checked against the model).
        duration: Seconds of video (checked against the model).
        prompt_text: Optional prompt.
        seed: Optional seed (same seed + same image + same settings = same generation).
        credentials_block: Name of a RunwayCredentials block; None reads the environment.
            Never pass a key as a parameter: parameters are stored in Prefect's database.
        concurrency: Submissions in flight; default: the organization's
            maxConcurrentGenerations for the model when the API tells it, else 4.
        budget_credits: Refuse the batch, before any POST, when its new generations would
            cost more (1 credit = 0.01 USD).
        transport: ``auto``, ``data_uri``, ``upload`` or ``presigned_url``.
        write_manifest: Write ``<prefix>runway-manifest.json`` with the rows next to the images.
        fail_on_errors: Fail the run (after reporting) when a submission failed at the API.
        pages_in_flight: Listing pages (1000 objects each) submitted at once; raise it with a
            task runner that spreads them (e.g. prefect-dask's DaskTaskRunner). Each page
            runs `concurrency` submissions.
        resubmit: Pay again: submit every image even if it was submitted before (the new
            task replaces the cached one). Off by default, for good reason.
        resubmit_unknown: Pay again for images whose earlier outcome is unknown (a task may
            exist; the new one is flagged ``possible_duplicate``). Check the Runway dashboard
            first.

    Returns:
        Counts, the estimated credits of new generations, and one row per object.
    """
    logger = get_run_logger()
    settings = GenerationSettings(
        model=model, ratio=ratio, duration=duration, prompt_text=prompt_text, seed=seed
    )
    credentials = await load_credentials(credentials_block)
    limits = await _organization_limits(credentials, model)
    plan = await plan_batch(
        credentials, settings, bucket, prefix, transport, resubmit, limits.remaining_today
    )
    check_budget(plan["estimated_credits"], budget_credits, limits.balance)
    concurrency = concurrency or limits.concurrency or 4
    credits = plan["estimated_credits"]
    logger.info(
        "%d objects under s3://%s/%s, %d to submit (%s), %d deferred to later days (daily "
        "limit), %d at a time",
        plan["listed"], bucket, prefix, plan["new"],
        "price unknown" if credits is None else f"~{credits:g} credits", plan["deferred"],
        concurrency,
    )  # fmt: skip

    # One task run per listing page, handed to the flow's task runner (threads by default,
    # Dask with prefect-dask); `pages_in_flight` pages at a time, results kept in order.
    # Today's quota (daily limits) is handed out page by page: each page gets what is left
    # after the pages in flight, and a daily-limit answer closes it for the pages after.
    quota = _PageQuota(limits.remaining_today)
    rows: list[SubmissionRow] = []
    in_flight: list[tuple[PrefectFuture[Any], int | None]] = []

    def finish(future: PrefectFuture[Any], allotted: int | None) -> None:
        nonlocal rows
        page_rows: list[SubmissionRow] = future.result()
        quota.settle(allotted, page_rows)
        rows += page_rows

    for page in iter_s3_pages(boto3.client("s3"), bucket, prefix):
        if page:
            allotted = quota.allot(len(page))
            in_flight.append((submit_s3_page.submit(
                credentials, settings, page, transport, concurrency, resubmit,
                resubmit_unknown, allotted, quota.closed_reason), allotted))  # fmt: skip
        if len(in_flight) >= pages_in_flight:
            finish(*in_flight.pop(0))
    for future, allotted in in_flight:
        finish(future, allotted)

    counts = Counter(row.status for row in rows)
    for row in rows:
        if row.status in ("rejected", "failed"):  # unknown/unrecorded: the engine logged them
            logger.warning("%s %s: %s", row.source, row.status, row.error)
    if any(row.transport == "url" for row in rows):
        logger.warning(PRESIGNED_URL_CAVEAT)
    manifest_uri = None
    if write_manifest:
        manifest_uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
        _write_manifest(bucket, f"{prefix}{MANIFEST_NAME}", settings, rows)
    result = BatchResult(
        submitted=counts["submitted"],
        cached=counts["cached"],
        rejected=counts["rejected"],
        failed=counts["failed"],
        unknown=counts["unknown"],
        unrecorded=counts["unrecorded"],
        deferred=counts["deferred"],
        deferred_reason=next((r.error for r in rows if r.status == "deferred"), None),
        days_remaining=_days_remaining(counts["deferred"], limits.max_daily),
        estimated_credits=sum(r.estimated_credits or 0 for r in rows if r.paid),
        possible_duplicates=sum(r.possible_duplicate for r in rows),
        manifest_uri=manifest_uri,
        rows=rows,
    )
    await _publish(result, bucket, prefix)
    if result.unrecorded:
        ids = ", ".join(row.task_id or "" for row in rows if row.status == "unrecorded")
        raise RuntimeError(
            f"{result.unrecorded} Runway task(s) were created but their records could not be "
            f"written: {ids}. They are in the '{TABLE_KEY}' artifact and the manifest; a "
            "rerun reports those images as 'unknown' and does not pay again."
        )
    if fail_on_errors and (result.failed or result.unknown):
        what = [f"{result.failed} of {len(rows)} submissions failed"] if result.failed else []
        if result.unknown:
            what.append(f"{result.unknown} have an unknown outcome (a task may exist; held "
                        "until a run with resubmit_unknown=True)")  # fmt: skip
        raise RuntimeError(
            f"{' and '.join(what)}; see the '{TABLE_KEY}' and '{SUMMARY_KEY}' artifacts. A "
            "rerun retries only the failed ones."
        )
    return result


class _Limits(BaseModel):
    balance: float | None = None
    concurrency: int | None = None
    max_daily: int | None = None
    remaining_today: int | None = None


async def _organization_limits(credentials: RunwayCredentials, model: str) -> _Limits:
    try:
        async with credentials.get_async_client() as client:
            org = await client.organization()
    except Exception as exc:  # proxies often lack the endpoint: the limits are optional
        get_run_logger().info("No organization limits available (%s)", type(exc).__name__)
        return _Limits()
    return _Limits(
        balance=org.credit_balance,
        concurrency=org.max_concurrent_generations(model),
        max_daily=org.max_daily_generations(model),
        remaining_today=org.remaining_daily(model),
    )


class _PageQuota:
    """Today's generations left (None: unknown), shared out among listing pages."""

    def __init__(self, remaining: int | None) -> None:
        self.remaining = remaining
        self.closed_reason: str | None = None

    def allot(self, page_size: int) -> int | None:
        if self.closed_reason is not None:
            return 0
        if self.remaining is None:
            return None
        allotted = min(self.remaining, page_size)
        self.remaining -= allotted
        return allotted

    def settle(self, allotted: int | None, rows: list[SubmissionRow]) -> None:
        paid = sum(row.paid or row.status == "unknown" for row in rows)
        if self.remaining is not None and allotted is not None:
            self.remaining += max(allotted - paid, 0)  # what the page did not use
        if self.closed_reason is None:
            self.closed_reason = next(
                (r.error for r in rows if r.status == "deferred" and "limit" in (r.error or "")),
                None,
            )


def _days_remaining(deferred: int, max_daily: int | None) -> int | None:
    """Days (ticks of a daily schedule) still needed for `deferred` images at this tier."""
    if not deferred or not max_daily:
        return None
    return -(-deferred // max_daily)


def _write_manifest(
    bucket: str, key: str, settings: GenerationSettings, rows: list[SubmissionRow]
) -> None:
    # Merged, never overwritten: the collector's fields and other runs' rows survive.
    merge_manifest(
        None, bucket, key, rows, settings=settings.to_wire(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
    )  # fmt: skip


async def _publish(result: BatchResult, bucket: str, prefix: str) -> None:
    table = [
        {
            "source": row.source,
            "task_id": row.task_id or "",
            "status": row.status,
            "cache": "hit" if row.cache_hit else ("new" if row.task_id else ""),
            "model": row.model,
            "ratio": row.ratio,
            "duration": row.duration,
            "seed": row.seed if row.seed is not None else "",
            "estimated_credits": row.estimated_credits,
            "possible_duplicate": row.possible_duplicate,
            "lost_responses": row.lost_responses,
            "error": row.error or "",
        }
        for row in result.rows
    ]
    # Prefect refuses events over 1.5 MB, and an artifact's event carries its data: big
    # batches get one table per TABLE_ROWS rows (runway-task-ids, runway-task-ids-2, ...).
    for part, start in enumerate(range(0, max(len(table), 1), TABLE_ROWS), start=1):
        await acreate_table_artifact(
            table=table[start : start + TABLE_ROWS],
            key=TABLE_KEY if part == 1 else f"{TABLE_KEY}-{part}",
            description=f"Runway task IDs for s3://{bucket}/{prefix} (part {part})",
        )
    failures = "\n".join(
        f"| `{row.source}` | {row.status} | {row.error} |"
        for row in result.rows
        if row.status in ("rejected", "failed", "unknown", "unrecorded")
    )
    credits = result.estimated_credits
    markdown = f"""# Runway batch: s3://{bucket}/{prefix}

| submitted | cached | deferred | rejected | failed | unknown outcome | unrecorded \
| possible duplicates | new credits (est.) |
|---|---|---|---|---|---|---|---|---|
| {result.submitted} | {result.cached} | {result.deferred} | {result.rejected} | \
{result.failed} | {result.unknown} | {result.unrecorded} | {result.possible_duplicates} | \
{credits:g} (~{credits / 100:.2f} USD) |

Manifest: `{result.manifest_uri or "not written"}`
"""
    if failures:
        markdown += "\n## Needs attention\n\n| object | status | reason |\n|---|---|---|\n"
        markdown += failures + "\n"
    if result.deferred:
        days = (
            f" At this tier that is about {result.days_remaining} more day(s)."
            if (result.days_remaining)
            else ""
        )
        markdown += (
            f"\n**Deferred**: {result.deferred} image(s) were not submitted today "
            f"({result.deferred_reason}). Nothing was paid for them; the next run submits "
            f"them.{days}\n"
        )
    if result.unknown:
        markdown += (
            "\n**Unknown outcomes**: a Runway task may exist for these images (an answer was "
            "lost, or a run stopped between submitting and recording). They are not submitted "
            "again until a run with `resubmit_unknown=True`.\n"
        )
    await acreate_markdown_artifact(
        markdown=markdown,
        key=SUMMARY_KEY,
        description=f"Runway batch summary for s3://{bucket}/{prefix}",
    )
