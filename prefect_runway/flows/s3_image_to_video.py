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

Sidecars: ``cat.txt`` (the prompt) or ``cat.json`` (fields) beside ``cat.png`` give that image
its own settings, hence its own cache key. A bad sidecar rejects its image; one that cannot be
read fails it (never "no sidecar").
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from pydantic import BaseModel

from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.credentials import load_credentials
from prefect_runway.delivery import Transport, precheck, s3_image_job, sidecar_settings
from prefect_runway.errors import (
    BatchFailedError,
    ImageRejectedError,
    ImageSourceError,
    ManifestError,
    RecordReadError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayValidationError,
)
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
    run_flow,
    stop_error,
)
from prefect_runway.ledger.batch import SubmissionRow, submit_images
from prefect_runway.ledger.keys import submission_key
from prefect_runway.ledger.quota import DailyQuota, PageQuota, days_needed, split
from prefect_runway.ledger.records import Ledger
from prefect_runway.s3.manifest import merge_manifest
from prefect_runway.s3.objects import (
    MANIFEST_NAME,
    PRESIGNED_URL_CAVEAT,
    SIDECAR_SUFFIXES,
    S3Image,
    image_pages,
    iter_s3_pages,
    stem,
)
from prefect_runway.tasks import check_budget

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TABLE_KEY = "runway-task-ids"
SUMMARY_KEY = "runway-summary"
TABLE_ROWS = 2000
FIRST_IDS = 5
"""New task IDs named in the run's last log line (all of them are in the artifacts)."""
SIDECAR_READS = 16
"""Sidecars read at once per page."""
Sidecars = dict[str, tuple[str, ...]]
"""Image key -> the keys of its listed sidecars (`prefect_runway.s3.objects.image_pages`)."""


def _pages(where: S3Location) -> Iterator[tuple[list[S3Image], Sidecars]]:
    """The listing page by page, sidecars attached to their images, not listed as objects."""
    return image_pages(iter_s3_pages(where.client(), where.bucket, where.prefix))


async def _image_settings(
    s3: S3Client,
    page: list[S3Image],
    sidecars: Sidecars,
    settings: GenerationSettings,
    transport: Transport,
    dialect: str,
) -> dict[str, GenerationSettings | ImageRejectedError | ImageSourceError]:
    """Per image of `page` with listed sidecars (and past `precheck`): its own settings, or
    why it cannot have them (a bad sidecar: rejected; an unreadable one: failed)."""
    limit = asyncio.Semaphore(SIDECAR_READS)
    found: dict[str, GenerationSettings | ImageRejectedError | ImageSourceError] = {}

    async def read(obj: S3Image) -> None:
        async with limit:
            try:
                found[obj.key] = await asyncio.to_thread(
                    sidecar_settings, s3, obj, sidecars[obj.key], settings, dialect
                )
            except (ImageRejectedError, ImageSourceError) as exc:
                found[obj.key] = exc

    wanted = []
    for obj in page:
        if obj.key in sidecars:
            try:
                precheck(obj, transport, dialect)
            except ImageRejectedError:
                continue  # rejected for itself: its sidecars do not matter
            wanted.append(read(obj))
    await asyncio.gather(*wanted)
    return found


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

    @classmethod
    def of(
        cls, rows: list[SubmissionRow], manifest_uri: str | None, max_daily: int | None = None
    ) -> BatchResult:
        """The counts of `rows` (an S3 prefix's or a table's batch)."""
        counts = Counter(row.status for row in rows)
        return cls(
            submitted=counts["submitted"], cached=counts["cached"],
            rejected=counts["rejected"], failed=counts["failed"], unknown=counts["unknown"],
            unrecorded=counts["unrecorded"], deferred=counts["deferred"],
            deferred_reason=next((r.error for r in rows if r.status == "deferred"), None),
            days_remaining=days_needed(counts["deferred"], max_daily),
            estimated_credits=sum(r.estimated_credits or 0 for r in rows if r.paid),
            possible_duplicates=sum(r.possible_duplicate for r in rows),
            manifest_uri=manifest_uri, rows=rows,
        )  # fmt: skip


class BatchPlan(BaseModel):
    """What `plan_batch` counts, before anything is downloaded or paid."""

    listed: int
    """Objects under the prefix (folder markers and manifests left out)."""
    new: int
    """Images this run would pay for (today's quota allowing)."""
    deferred: int
    """Images past today's quota: left for a later day, not counted in `new`."""
    estimated_credits: float | None
    """What the `new` images should cost; None when the model's price is unknown."""


@task(name="plan-runway-batch")
async def plan_batch(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    where: S3Location,
    transport: Transport,
    resubmit: bool = False,
    remaining_today: int | None = None,
    resubmit_unknown: bool = False,
) -> BatchPlan:
    """Count the images a run would pay for, from the listing and the ledger alone: nothing
    is downloaded or submitted. With `resubmit`, every usable image counts; unknown outcomes
    count only with `resubmit_unknown` (else they are held); unreadable records (failing
    closed) do not; past today's quota (`remaining_today`), images are deferred, not
    counted."""
    s3 = where.client()
    ledger = await Ledger.default()
    fingerprint = credentials.account_fingerprint
    listed = 0
    prices: list[float | None] = []  # per image this run would pay for, in listing order
    for page, sidecars in _pages(where):
        own = await _image_settings(
            s3, page, sidecars, settings, transport, credentials.dialect
        )  # fmt: skip
        for obj in page:
            listed += 1
            try:
                precheck(obj, transport, credentials.dialect)
            except ImageRejectedError:
                continue
            image_settings = own.get(obj.key, settings)
            if isinstance(image_settings, Exception):
                continue  # a bad sidecar (rejected) or an unreadable one (fails closed)
            price = image_settings.estimated_credits()
            if resubmit:
                prices.append(price)
                continue
            key = submission_key(fingerprint, image_settings, obj.identity)
            try:
                record = await ledger.read(key)
            except RecordReadError:
                continue  # its row fails closed: never paid in this run
            if record is None or (record.state == "submitted" and record.expired):
                prices.append(price)
            elif resubmit_unknown and record.state in ("intent", "unknown"):
                prices.append(price)  # held until now: this run pays for it again
    new, deferred = split(len(prices), remaining_today)
    paid = prices[:new]
    credits = None if None in paid else sum(p or 0.0 for p in paid)
    return BatchPlan(listed=listed, new=new, deferred=deferred, estimated_credits=credits)


@task(name="submit-s3-images")
async def submit_s3_page(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    page: list[S3Image],
    where: S3Location,
    transport: Transport,
    concurrency: int,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
    daily_remaining: int | None = None,
    daily_closed: str | None = None,
    sidecars: Sidecars | None = None,
) -> list[SubmissionRow]:
    """Submit one listing page: each image through the submission engine (see engine.py),
    at most `daily_remaining` of them (None: no known limit); the rest are deferred.

    An image with `sidecars` (image key -> its listed sidecar keys) is submitted with their
    fields over `settings`; a bad sidecar makes its row rejected, an unreadable one failed,
    and neither is paid for."""
    s3 = where.client()
    own = await _image_settings(
        s3, page, sidecars or {}, settings, transport, credentials.dialect
    )  # fmt: skip
    ended: dict[int, SubmissionRow] = {}
    jobs = []
    for index, obj in enumerate(page):
        image_settings = own.get(obj.key)
        if isinstance(image_settings, Exception):
            ended[index] = _sidecar_row(obj, settings, image_settings)
            continue
        model = (image_settings or settings).model
        job = s3_image_job(s3, obj, transport, model=model)
        jobs.append(replace(job, settings=image_settings) if image_settings else job)
    quota = DailyQuota({} if daily_remaining is None else {settings.model: daily_remaining})
    if daily_closed:
        quota.close(settings.model, daily_closed)
    submitted = iter(await submit_images(
        credentials, settings, jobs, concurrency=concurrency, resubmit=resubmit,
        resubmit_unknown=resubmit_unknown, quota=quota,
    ))  # fmt: skip
    return [ended[index] if index in ended else next(submitted) for index in range(len(page))]


def _sidecar_row(
    obj: S3Image, settings: GenerationSettings, exc: ImageRejectedError | ImageSourceError
) -> SubmissionRow:
    """The row of an image whose sidecar is bad (rejected) or could not be read (failed:
    no sidecar is not assumed, a rerun tries again). Nothing is recorded or paid."""
    rejected = isinstance(exc, ImageRejectedError)
    error = str(exc) if rejected else f"{exc}; a sidecar of {obj.uri}, which was not submitted"
    return SubmissionRow(
        source=obj.uri, status="rejected" if rejected else "failed", model=settings.model,
        ratio=settings.ratio, duration=settings.effective_duration, seed=settings.seed,
        error=error,
    )  # fmt: skip


@flow(name="s3-image-to-video", log_prints=True)
async def s3_image_to_video(
    bucket: BucketParam,
    prefix: str = "",
    model: str = "gen4_turbo",
    ratio: str = "1280:720",
    duration: int | None = 5,
    prompt_text: str | None = None,
    seed: int | None = None,
    credentials_block: RunwayCredentials | str | None = None,
    concurrency: int | None = None,
    budget_credits: float | None = None,
    transport: Transport = "auto",
    write_manifest: bool = True,
    fail_on_errors: bool = True,
    pages_in_flight: int = 1,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
    aws_credentials: AwsCredentialsParam = None,
    adopt: dict[str, str] | None = None,
) -> BatchResult:
    """Submit one image-to-video generation per image under ``s3://bucket/prefix``.

    Args:
        bucket: Source bucket: its name (boto3's standard credential chain), or a prefect-aws
            ``S3Bucket`` block (its ``bucket_folder`` and credentials are used).
        prefix: Key prefix to list.
        model: Runway model, e.g. ``gen4_turbo``.
        ratio: Output ratio, e.g. ``1280:720`` (checked against the model).
        duration: Seconds of video (checked against the model).
        prompt_text: Optional prompt. An image's sidecars win over it and the other
            settings: ``cat.txt`` beside ``cat.png`` is its prompt, ``cat.json`` an object of
            its fields (see `submit_s3_page`); sidecars are not inputs themselves.
        seed: Optional seed (same seed + same image + same settings = same generation).
        credentials_block: A RunwayCredentials block, or a saved block's name; None reads
            the environment. Never pass a key as a parameter: parameters are stored in
            Prefect's database (a block keeps its key encrypted).
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
        aws_credentials: A prefect-aws ``AwsCredentials`` block for S3; None: the
            ``S3Bucket`` block's, else boto3's standard chain.
        adopt: ``{"s3://bucket/key": "task-id"}``: settle images held as unknown (or
            unrecorded) with the Runway task you found for them, before anything is
            submitted; each task is checked with one GET and recorded, flagged
            ``possible_duplicate`` (`prefect_runway.ledger.adopt`). Pays nothing.

    Returns:
        Counts, the estimated credits of new generations, and one row per object.
    """
    logger = get_run_logger()
    fields: dict[str, Any] = {"model": model, "ratio": ratio, "duration": duration,
              "prompt_text": prompt_text, "seed": seed}  # fmt: skip
    credentials = await load_credentials(credentials_block)
    settings = generation_settings(credentials.dialect, **fields)  # before anything is listed
    where = S3Location.of(bucket, folder(prefix), aws_credentials)
    bucket, prefix = where.bucket, where.prefix
    limits = await _organization_limits(credentials, model)
    if adopt:
        await _adopt_tasks(credentials, settings, where, adopt)
    plan = await plan_batch(
        credentials, settings, where, transport, resubmit, limits.remaining_today,
        resubmit_unknown,
    )  # fmt: skip
    check_budget(plan.estimated_credits, budget_credits, limits.balance, model=model)
    concurrency = concurrency or limits.concurrency or 4
    credits = plan.estimated_credits
    logger.info(
        "%d objects under s3://%s/%s, %d to submit (%s), %d deferred to later days (daily "
        "limit), %d at a time",
        plan.listed, bucket, prefix, plan.new,
        "price unknown" if credits is None else f"~{credits:g} credits", plan.deferred,
        concurrency,
    )  # fmt: skip

    # One task run per listing page, handed to the flow's task runner (threads by default,
    # Dask with prefect-dask); `pages_in_flight` pages at a time, results kept in order.
    # Today's quota (daily limits) is handed out page by page: each page gets what is left
    # after the pages in flight, and a daily-limit answer closes it for the pages after.
    quota = PageQuota(limits.remaining_today)
    rows: list[SubmissionRow] = []
    in_flight: list[tuple[PrefectFuture[Any], int | None]] = []

    stopped: list[str] = []  # non-empty after a refused key or an unreachable API: no more pages

    def finish(future: PrefectFuture[Any], allotted: int | None) -> None:
        nonlocal rows
        page_rows: list[SubmissionRow] = future.result()
        quota.settle(allotted, page_rows)
        rows += page_rows
        if any(row.stops_batch for row in page_rows):
            stopped.append("stop")

    for page, sidecars in _pages(where):
        if stopped:
            break
        if page:
            allotted = quota.allot(len(page))
            in_flight.append((submit_s3_page.submit(
                credentials, settings, page, where, transport, concurrency, resubmit,
                resubmit_unknown, allotted, quota.closed_reason, sidecars), allotted))  # fmt: skip
        if len(in_flight) >= pages_in_flight:
            finish(*in_flight.pop(0))
    for future, allotted in in_flight:
        finish(future, allotted)

    for row in rows:
        if row.status in ("rejected", "failed"):  # unknown/unrecorded: the engine logged them
            logger.warning("%s %s: %s", row.source, row.status, row.error)
    if any(row.transport == "url" for row in rows):
        logger.warning(PRESIGNED_URL_CAVEAT)
    manifest_uri = None
    if not rows and not stopped:
        logger.warning("Nothing to do: no objects under %s (check the bucket and prefix); no "
                       "manifest written.", where.uri)  # fmt: skip
    elif write_manifest:
        manifest_uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
    result = BatchResult.of(rows, manifest_uri, limits.max_daily)
    new_ids = await _report(result, where)
    if manifest_uri:
        try:
            _write_manifest(where, f"{prefix}{MANIFEST_NAME}", settings, rows)
        except Exception as exc:
            reason = (
                f"the manifest {manifest_uri} could not be written ({type(exc).__name__}: {exc})"
            )
            _log_ids_at_risk(new_ids, reason)
            ids = ", ".join(new_ids) or "none"
            raise ManifestError(
                f"{reason}. This run's {len(new_ids)} new Runway task ID(s) are in the "
                f"'{batch_key(TABLE_KEY, where)}' artifact and here: {ids}. A rerun pays "
                "nothing for them (the ledger has them) and writes the manifest."
            ) from None
    if stopped:
        first = next(r.error for r in rows if r.stops_batch and r.error
                     and not r.error.startswith("not sent"))  # fmt: skip
        raise stop_error(credentials, first)
    if result.unrecorded:
        unrecorded = [row.task_id or "" for row in rows if row.status == "unrecorded"]
        raise BatchFailedError(
            f"{result.unrecorded} Runway task(s) were created but their records could not be "
            f"written: {', '.join(unrecorded)}. They are in the '{batch_key(TABLE_KEY, where)}' "
            "artifact and the manifest; a rerun reports those images as 'unknown' and does "
            "not pay again.",
            task_ids=unrecorded,
        )
    if fail_on_errors and (result.failed or result.unknown):
        what = [f"{result.failed} of {len(rows)} submissions failed"] if result.failed else []
        if result.unknown:
            what.append(f"{result.unknown} have an unknown outcome (a task may exist; held "
                        "until a run with resubmit_unknown=True)")  # fmt: skip
        raise BatchFailedError(
            f"{' and '.join(what)}; see the '{batch_key(TABLE_KEY, where)}' and "
            f"'{batch_key(SUMMARY_KEY, where)}' artifacts. A "
            "rerun retries only the failed ones."
        )
    return result


async def _adopt_tasks(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    where: S3Location,
    tasks: dict[str, str],
) -> None:
    """Adopt each known task for its object's record (see `prefect_runway.ledger.adopt`)."""
    from prefect_runway.ledger.adopt import adopt

    s3 = where.client()
    for source, task_id in tasks.items():
        if not source.startswith(where.uri):
            raise RunwayValidationError(f"adopt: {source!r} is not under {where.uri}")
        object_key = source.removeprefix(f"s3://{where.bucket}/")
        head = s3.head_object(Bucket=where.bucket, Key=object_key)
        obj = S3Image(where.bucket, object_key, head["ETag"].strip(chr(34)), 0)
        beside = [stem(object_key) + suffix for suffix in SIDECAR_SUFFIXES]  # read if there
        own = sidecar_settings(s3, obj, beside, settings, credentials.dialect)
        key = submission_key(credentials.account_fingerprint, own, obj.identity)
        record = await adopt(credentials, key, task_id)
        get_run_logger().warning(
            "%s: adopted Runway task %s (flagged possible_duplicate: another paid task may "
            "exist); nothing was paid.", record.source or source, task_id,
        )  # fmt: skip


class _Limits(BaseModel):
    balance: float | None = None
    concurrency: int | None = None
    max_daily: int | None = None
    remaining_today: int | None = None


async def _organization_limits(credentials: RunwayCredentials, model: str) -> _Limits:
    try:
        async with credentials.get_async_client() as client:
            org = await client.organization()
    except (RunwayAuthenticationError, RunwayConnectionError) as exc:
        raise stop_error(credentials, exc) from None  # every image would fail the same way
    except Exception as exc:  # proxies often lack the endpoint: the limits are optional
        get_run_logger().info("No organization limits available (%s)", type(exc).__name__)
        return _Limits()
    return _Limits(
        balance=org.credit_balance,
        concurrency=org.max_concurrent_generations(model),
        max_daily=org.max_daily_generations(model),
        remaining_today=org.remaining_daily(model),
    )


async def _report(result: BatchResult, where: S3Location | str) -> list[str]:
    """The artifacts, then the last log line; the new task IDs. Nothing after the POSTs may
    hide them: any failure here names them, and the manifest (S3, the likeliest to fail) is
    written only after."""
    new_ids = [row.task_id for row in result.rows if row.paid and row.task_id]
    try:
        await _publish(result, where)
    except Exception as exc:
        _log_ids_at_risk(new_ids, f"the artifacts could not be written ({exc})")
        raise
    _log_outcome(result, where)
    return new_ids


def _log_ids_at_risk(task_ids: list[str], reason: str) -> None:
    """One ERROR line with every new task ID, when a later step failed."""
    get_run_logger().error(
        "%s; the %d Runway task(s) this run created: %s", reason, len(task_ids),
        ", ".join(task_ids) or "none",
    )  # fmt: skip


def _log_outcome(result: BatchResult, where: S3Location | str) -> None:
    """The run's last INFO line: the counts, the credits and the first task IDs."""
    new = [row.task_id for row in result.rows if row.paid and row.task_id]
    shown = ", ".join(new[:FIRST_IDS]) + (f", ... ({len(new) - FIRST_IDS} more)"
                                          if len(new) > FIRST_IDS else "")  # fmt: skip
    get_run_logger().info(
        "%s: %d submitted (~%g credits), %d cached, %d deferred, %d rejected, %d failed, "
        "%d unknown, %d unrecorded. New task IDs: %s. All task IDs: artifact '%s'%s",
        where.uri if isinstance(where, S3Location) else where, result.submitted,
        result.estimated_credits, result.cached, result.deferred,
        result.rejected, result.failed, result.unknown, result.unrecorded, shown or "none",
        batch_key(TABLE_KEY, where),
        f", manifest {result.manifest_uri}" if result.manifest_uri else "",
    )  # fmt: skip


def _write_manifest(
    where: S3Location, key: str, settings: GenerationSettings, rows: list[SubmissionRow]
) -> None:
    # Merged, never overwritten: the collector's fields and other runs' rows survive.
    merge_manifest(
        where.client(), where.bucket, key, rows, settings=settings.to_wire(),
        flow_run_id=str(flow_run.id) if flow_run.id else None,
    )  # fmt: skip



async def _publish(result: BatchResult, where: S3Location | str) -> None:
    """The task-ID table and the summary of a batch: an S3 prefix's, or a table's (`where`
    is then the table's URI or path)."""
    label = where.uri if isinstance(where, S3Location) else where
    endpoints = {row.endpoint for row in result.rows} != {"image_to_video"}
    table = [
        {  # what a person scans first, then the settings
            "source": row.source,
            "status": row.status,
            "task_id": row.task_id or "",
            "error": row.error or "",
            "cache": "hit" if row.cache_hit else ("new" if row.task_id else ""),
            **({"endpoint": row.endpoint} if endpoints else {}),
            "model": row.model,
            "ratio": row.ratio,
            "duration": row.duration,
            "seed": row.seed if row.seed is not None else "",
            "estimated_credits": row.estimated_credits,
            "possible_duplicate": row.possible_duplicate,
            "lost_responses": row.lost_responses,
        }
        for row in result.rows
    ]
    # Prefect refuses events over 1.5 MB, and an artifact's event carries its data: big
    # batches get one table per TABLE_ROWS rows (<key>, <key>-part-2, ...).
    key = batch_key(TABLE_KEY, where)
    parts = max(-(-len(table) // TABLE_ROWS), 1)
    for part, start in enumerate(range(0, max(len(table), 1), TABLE_ROWS), start=1):
        await acreate_table_artifact(
            table=table[start : start + TABLE_ROWS],
            key=key if part == 1 else f"{key}-part-{part}",
            description=f"Runway task IDs for {label}"
            + (f" (part {part} of {parts})" if parts > 1 else ""),
        )
    failures = "\n".join(
        f"| `{row.source}` | {row.status} | {row.error} |"
        for row in result.rows
        if row.status in ("rejected", "failed", "unknown", "unrecorded")
    )
    credits = result.estimated_credits
    markdown = f"""# Runway batch: {label}

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
        key=batch_key(SUMMARY_KEY, where),
        description=f"Runway batch summary for {label}",
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.s3_image_to_video BUCKET [PREFIX] ...``: one run.

    Returns:
        0 when the run completed, 1 when it failed (the reason is in its log).
    """
    parser = flow_parser(__doc__, "python -m prefect_runway.flows.s3_image_to_video")
    add_source_arguments(parser)
    add_settings_arguments(parser)
    parser.add_argument("--transport", default="auto",
                        choices=("auto", "data_uri", "upload", "presigned_url"),
                        help="how images reach Runway")  # fmt: skip
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="submissions in flight (default: the organization's, else 4)")
    parser.add_argument("--resubmit", action="store_true", help="pay again for every image")
    parser.add_argument("--resubmit-unknown", action="store_true",
                        help="pay again for images whose outcome is unknown (flagged)")  # fmt: skip
    args = parser.parse_args(argv)
    return run_flow(
        s3_image_to_video(
            args.bucket, args.prefix, model=args.model, ratio=args.ratio,
            duration=args.duration, prompt_text=args.prompt_text, seed=args.seed,
            credentials_block=args.credentials_block, budget_credits=args.budget_credits,
            transport=args.transport, concurrency=args.concurrency, resubmit=args.resubmit,
            resubmit_unknown=args.resubmit_unknown, return_state=True,
        )  # fmt: skip
    )


if __name__ == "__main__":
    sys.exit(main())
