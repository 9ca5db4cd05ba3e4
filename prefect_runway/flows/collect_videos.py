"""Copy a batch's finished videos to S3, incrementally: run it as often as you like.

``manifest (or task IDs) -> generations not finished yet -> wait (one poll each, or a bounded
wait), copying each video the moment its task SUCCEEDED -> merge the results into the
manifest -> artifacts``; one Prefect event per generation that finished.

Each run:

- skips generations already finished (video copied, or the generation FAILED or was
  CANCELLED), so an hourly schedule copies each video exactly once across runs; collects each
  source's current generation, or every earlier one too (``generations="all"``);
- streams: a video is copied as soon as its task is seen SUCCEEDED, with a log line per video
  and a progress artifact while the others are waited for;
- claims each video before copying it (a conditional create of
  ``<output prefix>.runway-claims/<task ID>.json``, see `Claims`), so runs that overlap copy
  it once; a published video's claim becomes a done marker that later runs record it from
  (a run that stopped before its manifest write downloads nothing again), deleted once the
  manifest records the task finished;
- finds lost tasks: a task's first 404 is kept in the manifest (``missing_since``), a normal
  answer clears it, and 404s lasting longer than the credentials' ``not_found_grace``, across
  runs, make the generation ``LOST`` (final, counted, told once);
- publishes only complete videos: checked against their full length, uploaded to a temporary
  key, then copied to the final one (see `prefect_runway.tasks.download_task_output`);
- fails only the rows whose copy failed: the others are saved, the manifest is written, and
  the next run tries those rows again;
- totals the spend of the generations that ended (this run or earlier, from the manifest, so
  a rerun counts nothing twice): estimated vs charged (the API's final ``cost.credits``) and
  refunded credits, per model, in the result and the summary artifact; generations still
  running are *not yet charged*, never charged 0;
- merges into the manifest (`prefect_runway.s3.manifest.merge_manifest`), naming the task each
  result is for, so a submission run writing at the same time (a resubmission, other
  settings) loses nothing and gets no other task's result.

Each finished generation emits exactly one ``runway.generation.succeeded`` (once its video is
in S3) or ``runway.generation.failed`` (resource ``runway.task.<id>``), with that task's own
fields, whichever run saw it first; a task still running never gets one.

Example:
    ```python
    import asyncio
    from prefect_runway.flows import collect_videos, s3_image_to_video

    asyncio.run(s3_image_to_video("stills", "in/"))  # writes s3://stills/in/runway-manifest.json
    result = asyncio.run(collect_videos("s3://stills/videos/",
                                        manifest_uri="s3://stills/in/runway-manifest.json"))
    print(result.collected, "copied now,", result.pending, "still generating")
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.assets import Asset, add_asset_metadata, materialize
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run
from pydantic import BaseModel, Field

from prefect_runway.api.models import Task
from prefect_runway.api.requests import GenerationRequest, endpoint_name
from prefect_runway.cancellation import cancel_in_flight, note_outcomes, record_in_flight
from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import (
    BatchFailedError,
    RunwayError,
    RunwayTaskFailedError,
    RunwayTaskLostError,
    RunwayTaskTimeoutError,
    RunwayValidationError,
)
from prefect_runway.flows.common import (
    AwsCredentialsParam,
    S3Location,
    batch_key,
    flow_parser,
    folder,
    refuse_output_inside_input,
    run_flow,
)
from prefect_runway.s3 import manifest as manifests
from prefect_runway.s3.manifest import (
    FINAL_STATUSES,
    Manifest,
    ManifestRow,
    merge_manifest,
    read_manifest,
)
from prefect_runway.tasks import download_task_output

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VIDEOS_KEY = "runway-videos"
COLLECT_SUMMARY_KEY = "runway-collect"
CLAIMS_FOLDER = ".runway-claims/"
"""Where the claims on videos live, inside the output prefix (see `Claims`)."""
MAX_LINK_ARTIFACTS = 25
TABLE_ROWS = 2000


class ModelSpend(BaseModel):
    """Estimated vs charged credits of one model's ended generations (1 credit = 0.01 USD).

    Attributes:
        generations: Generations that ended (SUCCEEDED, FAILED or CANCELLED).
        estimated: Their estimate at submission.
        charged: What the API says they cost.
        refunded: Estimate minus charge, summed over those charged less than their estimate.
    """

    generations: int = 0
    estimated: float = 0.0
    charged: float = 0.0
    refunded: float = 0.0


class CollectResult(BaseModel):
    """What `collect_videos` returns.

    Attributes:
        succeeded: Rows whose video is in S3 (copied by this run or an earlier one).
        collected: Videos copied by this run.
        already_collected: Rows skipped because an earlier run finished them (video copied,
            or the generation failed).
        pending: Tasks still PENDING, THROTTLED or RUNNING (or answering 404 for less than
            the not-found grace: see the rows' ``missing_since``).
        failed: Generations that ended FAILED or CANCELLED (this run or earlier).
        lost: Generations that are LOST: their task answered 404 (not found) for longer
            than the credentials' ``not_found_grace``, across runs (this run or earlier).
        errors: Rows this run could not handle (a copy or a poll failed); retried next run.
        deferred: Manifest rows not submitted yet (status ``deferred``, e.g. over the daily
            limit): nothing to collect for them until a submission run picks them up.
        manifest_uri: The manifest updated, if any.
        rows: Every row with a task ID, as the manifest now holds it.
        estimated_credits: The estimate of the generations that ended (SUCCEEDED, FAILED or
            CANCELLED, this run or earlier), from their submission.
        charged_credits: What those generations cost, as the API's final answer said (a
            SUCCEEDED task whose answer gave no cost counts its estimate, as the ledger does).
        refunded_credits: Estimate minus charge where the charge is lower (a FAILED or
            CANCELLED generation's whole estimate when the API charged it nothing).
        spend_by_model: The same per model (``<endpoint>/<model>`` for a table batch's rows
            of another endpoint than image_to_video), as `ModelSpend`.
        not_yet_charged: Generations not ended yet (pending, generating, missing): never
            counted as charged.
        not_yet_charged_estimated_credits: Their estimate.
        cost_unknown: Generations whose charge is not known: LOST ones, and FAILED or
            CANCELLED ones whose answer gave no cost (in neither sum).
    """

    succeeded: int
    collected: int
    already_collected: int
    pending: int
    failed: int
    errors: int
    deferred: int = 0
    lost: int = 0
    manifest_uri: str | None
    rows: list[ManifestRow]
    estimated_credits: float = 0.0
    charged_credits: float = 0.0
    refunded_credits: float = 0.0
    spend_by_model: dict[str, ModelSpend] = Field(default_factory=dict)
    not_yet_charged: int = 0
    not_yet_charged_estimated_credits: float = 0.0
    cost_unknown: int = 0


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``("bucket", "key")``.

    Raises:
        RunwayValidationError: not an s3:// URI.

    Example:
        >>> split_s3_uri("s3://stills/in/runway-manifest.json")
        ('stills', 'in/runway-manifest.json')
    """
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise RunwayValidationError(f"{uri!r} is not an s3://bucket/key URI")
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
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-")  # a table row's "file:3 (id x)"
    extension = OUTPUT_EXTENSIONS[output_kind(row)]
    return f"{output_prefix.rstrip('/')}/{stem or task_id}-{task_id[:8]}.{extension}"


OUTPUT_EXTENSIONS = {"video": "mp4", "image": "png", "audio": "wav"}
"""The file extension of each output kind (the content type is read from the bytes)."""


def output_kind(row: ManifestRow) -> str:
    """What a row's task outputs, by its endpoint: ``video`` (image_to_video, rows of older
    manifests), ``image`` or ``audio``."""
    endpoint = (row.model_extra or {}).get("endpoint") or "image_to_video"
    try:
        return GenerationRequest.model_construct(endpoint=endpoint_name(endpoint), body={}).output
    except ValueError:
        return "video"


@flow(name="collect-runway-videos", on_cancellation=[cancel_in_flight])
async def collect_videos(
    output_prefix: str,
    manifest_uri: str | None = None,
    task_ids: list[str] | None = None,
    credentials_block: RunwayCredentials | str | None = None,
    wait_seconds: float = 0.0,
    fail_on_errors: bool = False,
    download_retries: int = 2,
    aws_credentials: AwsCredentialsParam = None,
    generations: Literal["current", "all"] = "current",
    claim_seconds: float = 900.0,
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
            leaves the rest for the next run. Each video is copied as soon as its task
            finishes, not after the wait.
        fail_on_errors: Fail the run, after the manifest and artifacts are written, when a
            generation failed or a copy failed (default: report them; the next run retries
            failed copies).
        download_retries: Prefect retries of each video copy within this run.
        aws_credentials: A prefect-aws ``AwsCredentials`` block for S3; None: boto3's
            standard chain.
        generations: ``"current"`` (default): each source's current generation;
            ``"all"``: its earlier generations too (other settings, resubmissions).
        claim_seconds: How long a claim on a video holds before another run may take it
            over (a run that died mid-copy); longer than a video's copy.

    Returns:
        Counts (copied now, already copied, pending, failed, errors), the spend (estimated
        vs charged credits, per model) and the rows.
    """
    logger = get_run_logger()
    split_s3_uri(output_prefix.rstrip("/") + "/x")  # fail fast on a bad prefix
    output_prefix = folder(output_prefix, "output_prefix")
    if generations not in ("current", "all"):
        raise RunwayValidationError(
            f"generations must be 'current' or 'all', got {generations!r}"
        )
    if not manifest_uri and not task_ids:
        raise RunwayValidationError(
            "Nothing to collect: give a manifest_uri with task IDs, or task_ids."
        )
    s3 = S3Location("", credentials=aws_credentials).client()
    manifest = Manifest()
    if manifest_uri:
        found = read_manifest(s3, *split_s3_uri(manifest_uri))
        if found is None:
            raise RunwayValidationError(
                f"No manifest at {manifest_uri}: run s3_image_to_video first, or pass task_ids."
            )
        manifest = found
        # A prefix batch's input folder is the manifest's: videos copied inside it would be
        # listed as inputs by the next submission run. A table's batch lists nothing.
        bucket, key = split_s3_uri(manifest_uri)
        if not (manifest.settings or {}).get("table"):
            refuse_output_inside_input(output_prefix, bucket, key.rpartition("/")[0] + "/"
                                       if "/" in key else "")  # fmt: skip
    known = {t for row in manifest.rows for t in row.task_ids}
    extra = [ManifestRow(task_id=t) for t in dict.fromkeys(task_ids or []) if t not in known]
    rows = [row for row in manifest.rows if row.task_ids] + extra
    items = _work(rows, generations)
    todo = [item for item in items if not item.finished]
    logger.info(
        "%d generations in the batch (%s): %d finished earlier, %d to check",
        len(items), generations, len(items) - len(todo), len(todo),
    )  # fmt: skip

    credentials = await load_credentials(credentials_block)
    run_id = str(flow_run.id) if flow_run.id else uuid.uuid4().hex
    if wait_seconds > 0:  # a cancelled run cancels these (`prefect_runway.cancellation`)
        await record_in_flight({item.task_id: item.cache_key for item in todo})
    claims = Claims(s3, output_prefix, holder=f"{run_id}:{uuid.uuid4().hex[:8]}",
                    seconds=claim_seconds,
                    manifest=split_s3_uri(manifest_uri) if manifest_uri else None)  # fmt: skip
    outcomes, copies, answered = await _stream(
        credentials, claims, output_prefix, todo, wait_seconds, download_retries
    )
    updates, events, pending = _record(
        claims, todo, outcomes, copies, answered, credentials.not_found_grace
    )

    if manifest_uri:
        bucket, key = split_s3_uri(manifest_uri)
        manifest = merge_manifest(s3, bucket, key, updates, collector_flow_run_id=run_id)
        claims.clean(manifest)  # recorded in the manifest now: their claims are not needed
    else:
        manifest = manifest.with_rows(updates)
    for update, outcome in events:  # failed or lost generations; each video's went with it
        _emit(update, outcome)
    await _note_in_ledger(todo, updates)
    final = [row for row in manifest.rows if row.task_id]
    earlier = [g for r in manifest.rows for g in r.generations] if generations == "all" else []
    spend = _spend(final, [(r, g) for r in manifest.rows for g in r.generations]
                   if generations == "all" else [])  # fmt: skip
    ended = [(r.collected, r.finished, r.final_status) for r in final] + [
        (g.collected, g.finished, g.final_status) for g in earlier
    ]
    result = CollectResult(
        succeeded=sum(collected for collected, _, _ in ended),
        collected=sum(1 for c in copies.values() if c.get("new")),
        already_collected=len(items) - len(todo),
        pending=pending,
        failed=sum(done and not got and status != "LOST" for got, done, status in ended),
        lost=sum(done and status == "LOST" for _, done, status in ended),
        errors=sum(1 for u in updates if u.failure and u.final_status in (None, "SUCCEEDED")),
        deferred=sum(row.status == "deferred" and not row.task_id for row in manifest.rows),
        manifest_uri=manifest_uri,
        rows=final,
        **spend,
    )
    videos_key = batch_key(VIDEOS_KEY, output_prefix)
    finished_now = {u.key for u in updates if u.output or u.final_status in FINAL_STATUSES}
    await _publish(result, finished_now, output_prefix)
    if result.errors:
        logger.warning(
            "%d rows could not be copied or checked this run (see '%s'); the next run retries "
            "only those.", result.errors, videos_key,
        )  # fmt: skip
    logger.info(
        "%s: %d videos copied now, %d earlier, %d still generating, %d failed generations, "
        "%d lost, %d copy errors; charged %g of ~%g estimated credits (%d generations not "
        "yet charged, ~%g credits estimated). Table: artifact '%s'",
        output_prefix, result.collected, result.already_collected, result.pending,
        result.failed, result.lost, result.errors, result.charged_credits,
        result.estimated_credits, result.not_yet_charged,
        result.not_yet_charged_estimated_credits, videos_key,
    )  # fmt: skip
    if fail_on_errors and (result.failed or result.errors or result.lost):
        raise BatchFailedError(
            f"{result.failed} generations failed, {result.lost} are lost and {result.errors} "
            f"rows could not be copied (see the '{videos_key}' artifact); the manifest is "
            "written, a rerun copies only what is missing."
        )
    return result


CHARGED_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED")
"""Final states the API answers with a cost: the generations estimated vs charged."""


def spend_key(model: str | None, endpoint: str | None) -> str:
    """The key of a generation in `CollectResult.spend_by_model`: its model, prefixed with its
    endpoint when that is not image_to_video.

    Example:
        >>> spend_key("gen4_turbo", None), spend_key("gen4_image", "text_to_image")
        ('gen4_turbo', 'text_to_image/gen4_image')
    """
    name = model or "unknown model"
    if not endpoint:
        return name
    try:
        endpoint = endpoint_name(endpoint)
    except ValueError:
        pass
    return name if endpoint == "image_to_video" else f"{endpoint}/{name}"


def _spend(
    rows: list[ManifestRow], earlier: list[tuple[ManifestRow, manifests.Generation]]
) -> dict[str, Any]:
    """`CollectResult`'s spend fields from the manifest's rows (their current generations)
    and the `earlier` generations in scope: each task counted once, whichever rows name it."""
    seen: dict[str, tuple[str, float | None, float | None, str | None]] = {}
    for row in rows:
        endpoint = (row.model_extra or {}).get("endpoint")
        status = row.final_status if row.collected_task_id == row.task_id else None
        credits = row.credits if status else None
        seen.setdefault(str(row.task_id), (spend_key(row.model, endpoint),
                                           row.estimated_credits, credits, status))  # fmt: skip
    for row, generation in earlier:
        endpoint = (generation.model_extra or {}).get("endpoint") or (
            row.model_extra or {}
        ).get("endpoint")
        seen.setdefault(generation.task_id, (
            spend_key(generation.model or row.model, endpoint), generation.estimated_credits,
            generation.credits, generation.final_status))  # fmt: skip
    by_model: dict[str, ModelSpend] = {}
    pending, pending_estimate, unknown = 0, 0.0, 0
    for key, estimate, credits, status in seen.values():
        if status not in FINAL_STATUSES:
            pending += 1
            pending_estimate += estimate or 0.0
            continue
        if credits is None and status == "SUCCEEDED":
            credits = estimate  # no cost in the answer: its estimate, as the ledger notes
        if status not in CHARGED_STATUSES or credits is None:
            unknown += 1  # LOST, or ended without a cost in the answer: not guessed
            continue
        spend = by_model.setdefault(key, ModelSpend())
        spend.generations += 1
        spend.estimated += estimate or 0.0
        spend.charged += credits
        if estimate is not None and credits < estimate:
            spend.refunded += estimate - credits
    by_model = dict(sorted(by_model.items()))
    return {
        "estimated_credits": sum(m.estimated for m in by_model.values()),
        "charged_credits": sum(m.charged for m in by_model.values()),
        "refunded_credits": sum(m.refunded for m in by_model.values()),
        "spend_by_model": by_model,
        "not_yet_charged": pending,
        "not_yet_charged_estimated_credits": pending_estimate,
        "cost_unknown": unknown,
    }


def _usd(credits: float) -> str:
    return f"{credits / 100:.2f} USD"


def _spend_markdown(result: CollectResult) -> str:
    """The summary's Spend section: estimated vs charged per model, and the total."""
    lines = [
        "## Spend",
        "",
        "| model | generations ended | estimated | charged | refunded | charged USD |",
        "|---|---|---|---|---|---|",
    ]
    for key, m in result.spend_by_model.items():
        lines.append(f"| {key} | {m.generations} | {m.estimated:g} | {m.charged:g} | "
                     f"{m.refunded:g} | {_usd(m.charged)} |")  # fmt: skip
    ended = sum(m.generations for m in result.spend_by_model.values())
    lines.append(f"| **total** | {ended} | {result.estimated_credits:g} | "
                 f"{result.charged_credits:g} | {result.refunded_credits:g} | "
                 f"{_usd(result.charged_credits)} |")  # fmt: skip
    lines += [
        "",
        f"Charged {result.charged_credits:g} credits ({_usd(result.charged_credits)}, 1 credit "
        f"= 0.01 USD) of ~{result.estimated_credits:g} estimated for the generations that "
        f"ended. Not yet charged: {result.not_yet_charged} generations still running or "
        f"pending, ~{result.not_yet_charged_estimated_credits:g} credits estimated "
        f"({_usd(result.not_yet_charged_estimated_credits)}).",
    ]
    if result.cost_unknown:
        lines += ["", f"Cost not known for {result.cost_unknown} generations (lost, or their "
                     "answer gave no cost): in neither sum."]  # fmt: skip
    return "\n".join(lines) + "\n"


class Work(BaseModel):
    """One generation to collect: a row's current task, or one of its earlier ones."""

    source: str | None
    task_id: str
    current: bool
    finished: bool
    cache_key: str | None = None
    estimated_credits: float | None = None
    missing_since: datetime | None = None
    endpoint: str | None = None
    model: str | None = None
    seed: int | None = None
    prompt_sha256: str | None = None

    @property
    def key(self) -> str:
        """The manifest row's key."""
        return self.source or f"task:{self.task_id}"

    @property
    def row(self) -> ManifestRow:
        """A row naming this generation (for `video_uri` and events)."""
        extra: dict[str, Any] = {"endpoint": self.endpoint} if self.endpoint else {}
        return ManifestRow.model_validate({"source": self.source, "task_id": self.task_id, **extra})


def _work(rows: list[ManifestRow], generations: str) -> list[Work]:
    """The generations a run looks at: current ones, and earlier ones when asked."""
    items = []
    for row in rows:
        endpoint = (row.model_extra or {}).get("endpoint")
        if generations == "all":
            items += [Work(source=row.source, task_id=g.task_id, current=False,
                           finished=g.finished, cache_key=g.cache_key,
                           estimated_credits=g.estimated_credits,
                           missing_since=g.missing_since, endpoint=endpoint,
                           **_lineage_fields(g))
                      for g in row.generations]  # fmt: skip
        if row.task_id:
            mine = row.collected_task_id == row.task_id
            items.append(Work(source=row.source, task_id=row.task_id, current=True,
                              finished=row.finished, cache_key=row.cache_key,
                              estimated_credits=row.estimated_credits,
                              missing_since=row.missing_since if mine else None,
                              endpoint=endpoint, **_lineage_fields(row)))  # fmt: skip
    return list({item.task_id: item for item in items}.values())


def _lineage_fields(entry: Any) -> dict[str, Any]:
    """What an asset's metadata says of its generation: model, seed, the prompt's hash."""
    return {name: getattr(entry, name, None) for name in ("model", "seed", "prompt_sha256")}


class Claims:
    """Claims on videos, one S3 object per task under ``<output prefix>.runway-claims/``.

    A run copies a video only after creating its claim with a conditional PUT
    (``IfNoneMatch="*"``): of two runs at once, exactly one gets it. A claim names its
    holder and expires after `seconds` (a run that died mid-copy), when another run may take
    it over (``IfMatch`` on the ETag read). Once the video is published (or the task ended
    without one) the claim becomes a *done* marker holding its location, size and SHA-256
    (or final state): later runs record it from there, download nothing and emit no second
    event.

    With a manifest, a done marker is deleted once the manifest records its task as finished
    (`clean`): from then on the manifest is the record. So that no run copies or tells a task
    twice after its marker is gone, a run that creates a claim reads the manifest again
    before it copies: a task the manifest already records finished is treated as done, and
    the new claim deleted. (The manifest is written before the marker is deleted, and read
    after the claim is created, so S3's read-after-write consistency makes this exact.)
    Without a manifest the markers are the only record and stay.

    Args:
        s3: A boto3 S3 client.
        output_prefix: ``s3://bucket/prefix/`` of the videos.
        holder: This run's name in its claims.
        seconds: How long a claim holds.
        manifest: The batch's manifest as ``(bucket, key)``, if any.
    """

    def __init__(self, s3: S3Client, output_prefix: str, holder: str, seconds: float,
                 manifest: tuple[str, str] | None = None) -> None:  # fmt: skip
        self.s3 = s3
        self.bucket, prefix = split_s3_uri(output_prefix.rstrip("/") + "/x")
        self.prefix = prefix[:-1] + CLAIMS_FOLDER
        self.holder = holder
        self.seconds = seconds
        self.manifest = manifest
        self.etags: dict[str, str] = {}
        self.done_ids: set[str] = set()
        """Tasks whose done marker this run wrote or read: deleted by `clean`."""

    def where(self, task_id: str) -> str:
        """The claim object's key."""
        return f"{self.prefix}{task_id}.json"

    def take(self, task_id: str) -> dict[str, Any] | None:
        """Claim `task_id`'s video.

        Returns:
            None when this run holds the claim now; else the claim found: a done marker
            (``{"state": "done", ...}``) or another live run's claim (``"claimed"``).

        Raises:
            RuntimeError: the claim could not be read or written, or the manifest could not
                be read (nothing is copied).
        """
        found = self._take(task_id)
        if found is not None or self.manifest is None:
            return found
        try:
            recorded = _finished_in(manifests.read_manifest(self.s3, *self.manifest), task_id)
        except BaseException:
            self.release(task_id)  # fail closed: nothing is copied or told on a failed read
            raise
        if recorded is None:
            return None
        self.delete(task_id)  # an earlier run finished and recorded it: nothing to do
        return {"state": "done", **recorded}

    def _take(self, task_id: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        key = self.where(task_id)
        body = self._body(task_id, "claimed")
        try:
            answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                                        ContentType="application/json", IfNoneMatch="*")
            self.etags[task_id] = answer["ETag"]
            return None
        except ClientError as exc:
            if not _conflict(exc):
                raise
        found = self.s3.get_object(Bucket=self.bucket, Key=key)
        claim = json.loads(found["Body"].read())
        if claim.get("state") == "done":
            self.done_ids.add(task_id)
            return dict(claim)
        expires = datetime.fromisoformat(claim.get("expires_at", "1970-01-01T00:00:00+00:00"))
        if claim.get("holder") != self.holder and expires > datetime.now(timezone.utc):
            return dict(claim)
        try:  # ours already (a retry), or expired: taken over only if nobody else did
            answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                                        ContentType="application/json",
                                        IfMatch=found["ETag"])  # fmt: skip
        except ClientError as exc:
            if not _conflict(exc):
                raise
            return {"state": "claimed", "holder": "another run (taken over just now)"}
        self.etags[task_id] = answer["ETag"]
        return None

    def done(self, task_id: str, record: dict[str, Any]) -> bool:
        """Turn this run's claim into a done marker holding `record`.

        Returns:
            False when another run took the claim over meanwhile (this run stalled past
            `seconds`): the video stands, but that run may report it too.
        """
        from botocore.exceptions import ClientError

        body = self._body(task_id, "done", **record)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.where(task_id), Body=body,
                               ContentType="application/json",
                               IfMatch=self.etags[task_id])  # fmt: skip
        except ClientError as exc:
            if not _conflict(exc):
                raise
            return False
        self.done_ids.add(task_id)
        return True

    def delete(self, task_id: str) -> None:
        """Delete `task_id`'s claim object. Never raises: a claim left behind is only
        clutter (it still says done, or expires)."""
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self.where(task_id))
        except Exception as exc:
            get_run_logger().warning("Could not delete the claim %s (%s); it is only clutter",
                                     self.where(task_id), type(exc).__name__)  # fmt: skip

    def clean(self, manifest: Manifest) -> None:
        """Delete the done markers of tasks that `manifest` (as written) records finished."""
        for task_id in sorted(self.done_ids):
            if _finished_in(manifest, task_id) is not None:
                self.delete(task_id)

    def release(self, task_id: str) -> None:
        """Give up this run's claim (its copy failed): it expires now, so any run may take
        it. Never raises: an unreleased claim only expires later."""
        try:
            self.s3.put_object(Bucket=self.bucket, Key=self.where(task_id),
                               Body=self._body(task_id, "released", seconds=-1.0),
                               ContentType="application/json",
                               IfMatch=self.etags[task_id])  # fmt: skip
        except Exception as exc:
            get_run_logger().warning("Could not release the claim %s (%s); it expires "
                                     "within %g s", self.where(task_id), type(exc).__name__,
                                     self.seconds)  # fmt: skip

    def _body(self, task_id: str, state: str, seconds: float | None = None,
              **fields: Any) -> bytes:  # fmt: skip
        seconds = self.seconds if seconds is None else seconds
        expires = datetime.now(timezone.utc) + timedelta(seconds=seconds)
        data = {"task_id": task_id, "state": state, "holder": self.holder,
                "expires_at": expires.isoformat(), **fields}  # fmt: skip
        return json.dumps(data, default=str).encode()


def _finished_in(manifest: Manifest | None, task_id: str) -> dict[str, Any] | None:
    """What `manifest` records for `task_id` once it is finished (its video's location, size
    and SHA-256, or the state it ended in); None while it is not."""
    for row in manifest.rows if manifest is not None else []:
        found: ManifestRow | manifests.Generation | None = None
        if row.task_id == task_id and row.finished:
            found = row
        for generation in row.generations:
            if generation.task_id == task_id and generation.finished:
                found = generation
        if found is not None and found.output:
            return {"location": found.output, "bytes": found.output_bytes,
                    "sha256": found.output_sha256,
                    "outputs": [o.model_dump() for o in found.outputs or []] or None}
        if found is not None:
            return {"final_status": found.final_status}
    return None


def _conflict(exc: Any) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


@task(name="collect-runway-video", cache_policy=NO_CACHE)
def collect_video(
    credentials: RunwayCredentials, claims: Claims, item: Work, destination: str
) -> dict[str, Any]:
    """Claim, copy and publish one SUCCEEDED task's video; emit its event once.

    Returns:
        ``{"location", "bytes", "sha256", "new"}`` (``new``: this run published it), or
        ``{"held": <holder>}`` when another run holds its claim.
    """
    logger = get_run_logger()
    found = claims.take(item.task_id)
    if found is not None and found.get("state") == "done" and not found.get("location"):
        logger.warning("Runway task %s SUCCEEDED, but another run recorded it as %s; nothing "
                       "copied", item.task_id, found.get("final_status"))  # fmt: skip
        return {"held": f"recorded {found.get('final_status')} by another run"}
    if found is not None and found.get("state") == "done":
        logger.info("Video of %s was copied by another run to %s", item.task_id,
                    found.get("location"))  # fmt: skip
        return {"location": found["location"], "bytes": found["bytes"],
                "sha256": found["sha256"], "outputs": found.get("outputs"),
                "new": False}  # fmt: skip
    if found is not None:
        logger.info("Video of %s is being copied by another run (%s)", item.task_id,
                    found.get("holder"))  # fmt: skip
        return {"held": str(found.get("holder"))}
    try:
        found_copy = _existing_copy(claims.s3, destination)  # a run that died before its marker
        stored = [found_copy] if found_copy is not None else [
            o.model_dump() for o in download_task_output.fn(
                credentials, item.task_id, destination, s3_client=claims.s3)
        ]  # fmt: skip
    except BaseException:
        claims.release(item.task_id)  # the next try (this run's or another's) may claim it
        raise
    # Every output (text_to_image's outputCount: -1, -2...); the first is the row's `output`.
    outputs = [{"uri": o["location"], "bytes": o["bytes"], "sha256": o["sha256"]} for o in stored]
    record = {**{k: stored[0][k] for k in ("location", "bytes", "sha256")}, "outputs": outputs}
    if claims.done(item.task_id, record):
        _emit_success(item, record)
        for output in outputs:
            _materialize(item, output)
    else:
        logger.warning("The claim on %s's video was taken over by another run while this "
                       "one copied it; the video at %s stands.", item.task_id,
                       record["location"])  # fmt: skip
    logger.info("Video of %s (%s) is at %s (%d bytes)", item.task_id, item.source or "no source",
                record["location"], record["bytes"])  # fmt: skip
    return {**record, "new": True}


async def _stream(
    credentials: RunwayCredentials,
    claims: Claims,
    output_prefix: str,
    todo: list[Work],
    wait_seconds: float,
    download_retries: int,
) -> tuple[dict[str, Task | RunwayError], dict[str, dict[str, Any]], set[str]]:
    """Wait for the tasks, starting each video's copy as soon as its task SUCCEEDED.

    Returns:
        Each task's outcome (the SUCCEEDED task, or the error it ended with;
        `RunwayTaskTimeoutError` means still running), each started copy's record (or
        ``{"error": exception}``), and the tasks that answered a poll normally.
    """
    if not todo:
        return {}, {}, set()
    logger = get_run_logger()
    by_id = {item.task_id: item for item in todo}
    copy = collect_video.with_options(retries=download_retries, retry_delay_seconds=1)
    futures: dict[str, Any] = {}
    ended: set[str] = set()
    answered: set[str] = set()
    progress = await acreate_progress_artifact(
        progress=0.0, description=f"Runway videos: 0 of {len(todo)} generations finished"
    )
    last_update = 0.0

    async def on_update(task_state: Task) -> None:
        nonlocal last_update
        answered.add(task_state.id)  # a normal answer: any 404 mark of it is cleared
        if not task_state.is_terminal or task_state.id in ended:
            return
        ended.add(task_state.id)
        item = by_id.get(task_state.id)
        if item is not None and task_state.status.value == "SUCCEEDED":
            logger.info("Runway task %s SUCCEEDED: copying its video now", task_state.id)
            futures[task_state.id] = copy.submit(
                credentials, claims, item, video_uri(output_prefix, item.row)
            )
        if time.monotonic() - last_update >= 1.0 or len(ended) == len(todo):
            last_update = time.monotonic()
            await aupdate_progress_artifact(
                artifact_id=progress, progress=100.0 * len(ended) / len(todo),
                description=f"Runway videos: {len(ended)} of {len(todo)} generations finished",
            )  # fmt: skip

    async with credentials.get_async_client() as client:
        outcomes = await client.wait_for_tasks(
            list(by_id), timeout=max(wait_seconds, 0.0),
            not_found_grace=credentials.not_found_grace, on_update=on_update,
        )  # fmt: skip
    for task_id, outcome in outcomes.items():  # any SUCCEEDED task the callback missed
        if isinstance(outcome, Task) and task_id not in futures:
            futures[task_id] = copy.submit(
                credentials, claims, by_id[task_id], video_uri(output_prefix, by_id[task_id].row)
            )
    await aupdate_progress_artifact(
        artifact_id=progress, progress=100.0 * len(ended) / len(todo),
        description=f"Runway videos: {len(ended)} of {len(todo)} generations finished",
    )  # fmt: skip
    copies: dict[str, dict[str, Any]] = {}
    for task_id, future in futures.items():
        await asyncio.to_thread(future.wait)
        if future.state.is_completed():
            copies[task_id] = future.result()
        else:
            error = future.result(raise_on_failure=False)
            copies[task_id] = {"error": error if isinstance(error, BaseException)
                               else RuntimeError(str(error))}  # fmt: skip
    return outcomes, copies, answered


def _record(
    claims: Claims,
    todo: list[Work],
    outcomes: dict[str, Task | RunwayError],
    copies: dict[str, dict[str, Any]],
    answered: set[str],
    grace: float,
) -> tuple[list[ManifestRow], list[tuple[ManifestRow, RunwayError]], int]:
    """Manifest updates for what ended (or went missing, or answered again); failed or lost
    generations whose event this run emits (it holds their done marker); how many tasks are
    still pending (generating, answering 404 within the grace, or being copied by another
    run)."""
    logger = get_run_logger()
    updates: list[ManifestRow] = []
    events: list[tuple[ManifestRow, RunwayError]] = []
    pending = 0
    now = datetime.now(timezone.utc)
    for item in todo:
        task_id = item.task_id
        outcome = outcomes[task_id]
        # Keyed by source; the collected task is named, so a merge never gives this
        # generation's result to another one (a resubmission that landed meanwhile).
        base: dict[str, Any] = {"source": item.source, "collected_task_id": task_id,
                                "collected_at": now}  # fmt: skip
        if item.source is None:
            base["task_id"] = task_id
        missing = getattr(outcome, "missing_seconds", None)
        if isinstance(outcome, (RunwayTaskTimeoutError, RunwayTaskLostError)) and (
            missing is not None
        ):
            # 404s without a break until this run stopped: added to the ones earlier runs
            # saw, unless this run read the task in between (a blip, over).
            since = now - timedelta(seconds=missing)
            if item.missing_since is not None and task_id not in answered:
                since = min(since, item.missing_since)
            gone = (now - since).total_seconds()
            if isinstance(outcome, RunwayTaskTimeoutError) and gone < grace:
                pending += 1
                logger.warning(
                    "Runway task %s answered 404 (not found) since %s (%.0fs); it is lost if "
                    "that lasts past the not-found grace of %gs", task_id,
                    since.isoformat(timespec="seconds"), gone, grace,
                )  # fmt: skip
                updates.append(ManifestRow(**base, missing_since=since))
                continue
            reason = (
                f"Task {task_id} is lost: it answered 404 (not found) on every poll for "
                f"{gone:.0f}s (since {since.isoformat(timespec='seconds')}, across collector "
                f"runs), past the not-found grace of {grace:g}s. It was deleted, made with "
                "another API key or base URL, or never created; nothing more is collected "
                "for it (raise the credentials' not_found_grace for a proxy slow to know "
                "new tasks)."
            )
            lost = RunwayTaskLostError(reason, task_id=task_id, missing_seconds=gone,
                                       status_code=404)  # fmt: skip
            update = ManifestRow(**base, final_status="LOST", output=None, failure=reason,
                                 failure_code="LOST", missing_since=since)  # fmt: skip
            logger.warning("Runway task %s: %s", task_id, reason)
            updates.append(update)
            _tell_once(claims, task_id, update, lost, events)
            continue
        if isinstance(outcome, RunwayTaskTimeoutError):
            pending += 1
            if item.missing_since is not None and task_id in answered:  # a 404 blip, over
                updates.append(ManifestRow(**base, missing_since=None))
            continue  # still generating: nothing else to record
        copy = copies.get(task_id, {})
        cost = outcome.cost.credits if isinstance(outcome, Task) and outcome.cost else None
        if isinstance(outcome, RunwayTaskFailedError):
            cost = outcome.cost
        if cost is not None:  # the API's final figure, whatever the task ended as
            base["credits"] = cost
        if isinstance(outcome, Task) and "held" in copy:
            pending += 1
            continue  # another run is copying it and records it
        if isinstance(outcome, Task) and "location" in copy:
            update = ManifestRow(**base, final_status="SUCCEEDED", output=copy["location"],
                                 output_bytes=copy["bytes"], output_sha256=copy["sha256"],
                                 outputs=copy.get("outputs"), failure=None, failure_code=None,
                                 missing_since=None)  # fmt: skip
        elif isinstance(outcome, Task):
            reason = f"copy to S3 failed, retried next run: {copy.get('error')}"
            logger.warning("Runway task %s: %s", task_id, reason)
            update = ManifestRow(**base, final_status="SUCCEEDED", output=None, failure=reason,
                                 missing_since=None)  # fmt: skip
        elif isinstance(outcome, RunwayTaskFailedError):
            update = ManifestRow(
                **base, final_status=outcome.status, output=None, failure=str(outcome),
                failure_code=outcome.failure_code, missing_since=None,
            )  # fmt: skip
            logger.warning("Runway task %s: %s", task_id, outcome)
            _tell_once(claims, task_id, update, outcome, events)
        else:
            reason = f"could not check the task, retried next run: {outcome}"
            logger.warning("Runway task %s: %s", task_id, reason)
            update = ManifestRow(**base, failure=reason)
        updates.append(update)
    return updates, events, pending


def _tell_once(
    claims: Claims,
    task_id: str,
    update: ManifestRow,
    outcome: RunwayError,
    events: list[tuple[ManifestRow, RunwayError]],
) -> None:
    """Queue the event of a task that ended without a video, if this run is the one that
    turns its claim into a done marker (one event per task, whichever run sees it first)."""
    status = str(update.final_status)
    found = claims.take(task_id)
    if found is None and claims.done(task_id, {"final_status": status}):
        events.append((update.model_copy(update={"task_id": task_id}), outcome))


async def _note_in_ledger(todo: list[Work], updates: list[ManifestRow]) -> None:
    """Write each ended task's final state and cost (the API's final figure, else its estimate
    once SUCCEEDED) into its attempt in the ledger's history (`note_outcomes`)."""
    ended = {u.collected_task_id: u.final_status for u in updates if u.final_status}
    costs = {u.collected_task_id: u.credits for u in updates if u.credits is not None}
    notes = []
    for item in todo:
        status = ended.get(item.task_id)
        if not item.cache_key or not status:
            continue
        credits = costs.get(item.task_id)  # the API's figure, else the estimate if SUCCEEDED
        if credits is None and status == "SUCCEEDED":
            credits = item.estimated_credits
        notes.append((item.cache_key, item.task_id, str(status), credits))
    await note_outcomes(notes, get_run_logger())


def _existing_copy(s3: S3Client, uri: str) -> dict[str, Any] | None:
    """The record of a complete video already at `uri` (its SHA-256 from the object's
    metadata, else hashed from S3; never downloaded from Runway again)."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return None
    kind = {extension: kind for kind, extension in OUTPUT_EXTENSIONS.items()}.get(
        key.rsplit(".", 1)[-1], "video"
    )
    if not str(head.get("ContentType", "")).startswith(f"{kind}/") or not head.get(
        "ContentLength"
    ):
        return None
    digest = (head.get("Metadata") or {}).get("sha256")
    if not digest:
        hasher = hashlib.sha256()
        for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
            hasher.update(chunk)
        digest = hasher.hexdigest()
    return {"location": uri, "bytes": head["ContentLength"], "sha256": digest}


@materialize("s3://runway-outputs/placeholder", name="runway-output", cache_policy=NO_CACHE)
def _output_asset(location: str, metadata: dict[str, Any]) -> str:
    """Records one output as a Prefect asset (`_materialize` gives its key and upstreams)."""
    add_asset_metadata(location, metadata)
    return location


def _materialize(item: Work, output: dict[str, Any]) -> None:
    """Lineage: a Prefect asset materialization of one output (``uri``, ``bytes``,
    ``sha256``), keyed by its S3 URI, with the input object as its upstream asset when the
    source is one (an S3 prefix's image), and the generation's metadata. Once per output, by
    the run that published it; a failure here is a warning, never a lost video."""
    upstream: list[Asset | str] = [item.source] if item.source and item.source.startswith(
        "s3://"
    ) else []
    metadata = {"task_id": item.task_id, "endpoint": item.endpoint or "image_to_video",
                "model": item.model, "seed": item.seed, "prompt_sha256": item.prompt_sha256,
                "source": item.source, "sha256": output["sha256"], "bytes": output["bytes"],
                "estimated_credits": item.estimated_credits}  # fmt: skip
    try:
        _output_asset.with_options(
            assets=[Asset(key=output["uri"])], asset_deps=upstream
        )(output["uri"], metadata)
    except Exception as exc:
        get_run_logger().warning("The asset of %s (%s) was not recorded: %s: %s",
                                 item.task_id, output["uri"], type(exc).__name__,
                                 exc)  # fmt: skip


def _emit_success(item: Work, record: dict[str, Any]) -> None:
    emit_event(
        event="runway.generation.succeeded",
        resource={
            "prefect.resource.id": f"runway.task.{item.task_id}",
            "prefect.resource.name": item.source or item.task_id,
        },
        payload={"task_id": item.task_id, "source": item.source, "status": "SUCCEEDED",
                 "output": record["location"], "failure_code": None,
                 "outputs": [o["uri"] for o in record["outputs"]]},  # fmt: skip
    )


def _emit(row: ManifestRow, outcome: RunwayError) -> None:
    emit_event(
        event="runway.generation.failed",
        resource={
            "prefect.resource.id": f"runway.task.{row.task_id}",
            "prefect.resource.name": row.source or str(row.task_id),
        },
        payload={
            "task_id": row.task_id,
            "source": row.source,
            "status": row.final_status,
            "output": None,
            "failure_code": row.failure_code,
        },
    )


def _state(row: ManifestRow) -> str:
    if row.collected:
        return "collected"
    if row.finished:
        return str(row.final_status)
    if row.failure:
        return "error"
    return "missing" if row.missing_since and row.collected_task_id == row.task_id else "pending"


def _charged(row: ManifestRow) -> float | str:
    """A row's charge for the table: the API's final cost once its task ended SUCCEEDED,
    FAILED or CANCELLED (a SUCCEEDED one without a cost: its estimate); blank before (never 0)
    and when not known."""
    if row.collected_task_id != row.task_id or row.final_status not in CHARGED_STATUSES:
        return ""
    if row.credits is None and row.final_status == "SUCCEEDED":
        return "" if row.estimated_credits is None else row.estimated_credits
    return "" if row.credits is None else row.credits


async def _publish(result: CollectResult, finished_now: set[str], output_prefix: str) -> None:
    table = [
        {
            "source": r.source or "",
            "state": _state(r),
            "task_id": r.task_id,
            "failure": r.failure or "",
            "missing_since": r.missing_since.isoformat(timespec="seconds")
            if r.missing_since and r.collected_task_id == r.task_id
            else "",
            "new": r.key in finished_now,
            "output": r.output or "",
            "bytes": r.output_bytes or "",
            "sha256": r.output_sha256 or "",
            "estimated_credits": "" if r.estimated_credits is None else r.estimated_credits,
            "charged_credits": _charged(r),
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

| copied now | finished earlier | still generating | failed generations | copy errors | lost |
|---|---|---|---|---|---|
| {result.collected} | {result.already_collected} | {result.pending} | {result.failed} | \
{result.errors} | {result.lost} |

{result.succeeded} of {len(result.rows)} videos are in S3; {result.deferred} images are not \
submitted yet (deferred). Manifest: `{result.manifest_uri or "none"}`

{_spend_markdown(result)}"""
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
    return run_flow(collect_videos(
        output_prefix=args.output_prefix, manifest_uri=args.manifest_uri,
        task_ids=args.task_ids, credentials_block=args.credentials_block,
        wait_seconds=args.wait_seconds, fail_on_errors=args.fail_on_errors, return_state=True,
    ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
