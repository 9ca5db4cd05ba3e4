"""Chained stages: each item of a table runs through stages (text_to_image -> image_to_video ->
video_upscale -> video_to_audio...), one after another, and each item moves on alone.

``table rows -> per item: stage 1 -> its outputs copied to S3 -> stage 2 fed by them -> ...``
``-> per item its chain (task IDs, outputs, errors) -> table artifact + merged JSON manifest``

- **Streaming, no barrier**: every item is an asyncio task of its own; it submits its next stage
  as soon as its previous one SUCCEEDED and its outputs are in S3, whatever the other items do
  (``concurrency`` items in flight at once; Runway throttles past its own concurrency).
- **Outputs travel through the user's bucket**: each output is downloaded and published at
  ``<output_prefix><item id>/<stage>-<endpoint>-<n>.<ext>`` (checked against its full length,
  uploaded to a temporary key, then copied: `prefect_runway.tasks.download_task_output`'s
  helpers), and the next stage's input is that ``s3://`` URI, resolved only when that stage is
  paid (data URI, upload or presigned URL: `prefect_runway.tasks.generation_job`), never the
  expiring Runway URL.
- **Once-only per stage**: every stage goes through `Engine.submit_generation`, keyed on the
  upstream output's identity (``s3://bucket/key#etag`` of the copied object): an unchanged rerun
  gets the same keys, pays nothing for the stages already paid (their task IDs come from the
  ledger) and downloads only outputs missing from S3. An intent found without an answer (a run
  killed mid-POST) is reported ``unknown`` and not paid again (``resubmit_unknown=True`` pays).
- **A failure ends its own item**: a stage that FAILED, was refused, or whose outcome is unknown
  stops that item with its reason; the other items go on.
- **The manifest** ``<output_prefix>runway-pipeline.json`` shows each item's chain; it is merged
  into what earlier runs wrote (a conditional write), and every task ID a stage ever had stays
  in its ``task_ids``.

Example:
    ```python
    import asyncio
    from prefect_runway.flows.pipeline import run_pipeline

    result = asyncio.run(run_pipeline(
        [{"id": "kite", "promptText": "a red kite over the sea", "motion": "slow pan left"}],
        stages=[
            {"endpoint": "text_to_image",
             "fields": {"model": "gen4_image", "ratio": "1920:1080"}},
            {"endpoint": "image_to_video",
             "fields": {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5},
             "inputs": {"promptImage": "output", "promptText": "row.motion"}},
            {"endpoint": "video_upscale",
             "fields": {"model": "magnific_video_upscaler_creative"},
             "inputs": {"videoUri": "output"}},
        ],
        output_prefix="s3://stills/pipeline/",  # your bucket
    ))
    print(result.items[0].chain[-1].outputs)
    ```
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from pydantic import BaseModel, ConfigDict, Field, field_validator

from prefect_runway import table as tables
from prefect_runway.api.models import Task as RunwayTask
from prefect_runway.api.requests import GenerationRequest, endpoint_name
from prefect_runway.cancellation import cancel_in_flight, record_in_flight
from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import (
    BatchFailedError,
    RunwayError,
    RunwayValidationError,
    validation_messages,
)
from prefect_runway.flows.collect_videos import _conflict, split_s3_uri
from prefect_runway.flows.common import AwsCredentialsParam, S3Location, batch_key, folder
from prefect_runway.ledger.engine import Engine, SubmissionRow
from prefect_runway.s3.objects import S3Image
from prefect_runway.tasks import _download_fresh, _store, generation_job, outcome_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from prefect_runway.api.client import AsyncRunwayClient, RunwayClient

MANIFEST_NAME = "runway-pipeline.json"
"""The manifest's name inside the output prefix."""
PIPELINE_KEY = "runway-pipeline"
"""Key (with the output prefix) of the table artifact."""
TABLE_ROWS = 2000
_REFERENCE = re.compile(r"^(?:output(?:\[(\d+)\])?|row\.(.+))$")
_PLACEHOLDER = "s3://placeholder-bucket/placeholder-output"
_EXTENSIONS = {"mp4", "mov", "webm", "png", "jpg", "jpeg", "webp", "wav", "mp3", "ogg", "flac",
               "m4a"}  # fmt: skip
_DEFAULT_EXTENSION = {"video": "mp4", "image": "png", "audio": "wav"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")
_HELD_BYTES = 16 * 1024 * 1024
"""The largest stage output kept in memory for the next stage (video's data-URI limit)."""
ItemStatus = Literal["complete", "stopped"]


class Stage(BaseModel):
    """One stage of a pipeline.

    Attributes:
        endpoint: The task endpoint (``text_to_image``, ``image_to_video``, ...).
        fields: Fixed fields of this stage's requests (API names). For stage 1, the row's own
            fields win over them.
        inputs: Which field gets what: ``"output"`` (the previous stage's first output),
            ``"output[i]"`` (its output ``i``, from 0: text_to_image's several images), or
            ``"row.<column>"`` (the item's column, e.g. ``"row.motion"``). Dotted field names
            set nested fields (``"character.uri"``).
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    fields: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)

    @field_validator("endpoint", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> str:
        return endpoint_name(value)

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: dict[str, str]) -> dict[str, str]:
        for field, reference in value.items():
            if not isinstance(reference, str) or not _REFERENCE.match(reference.strip()):
                raise ValueError(
                    f"inputs[{field!r}] = {reference!r}: expected 'output', 'output[i]' or "
                    "'row.<column>'"
                )
        return {field: reference.strip() for field, reference in value.items()}

    def row_columns(self) -> set[str]:
        """The row columns this stage reads (``row.<column>`` inputs)."""
        found = (_REFERENCE.match(r) for r in self.inputs.values())
        return {m.group(2) for m in found if m is not None and m.group(2)}


class StageRun(BaseModel):
    """One link of an item's chain.

    Attributes:
        stage: The stage's number, from 1.
        endpoint: Its endpoint.
        model: The model asked for.
        task_id: The Runway task (paid now, or recorded by an earlier run); None when none
            is known.
        submission: What the engine said: ``submitted`` (paid now), ``cached`` (paid before),
            ``unknown`` (a task may exist: not paid again), ``rejected``, ``failed``,
            ``deferred``, ``unrecorded``; None when the stage was not submitted.
        status: ``succeeded`` (outputs in S3), ``failed``, ``cancelled``, ``lost``,
            ``timed out``, ``unknown``, ``rejected``, ``deferred`` or ``error``.
        outputs: The outputs' ``s3://`` URIs, in the task's order.
        error: Why the item stopped here.
        task_ids: Every task this stage ever had (across runs, from the ledger's history):
            never shortened by a merge.
        possible_duplicate: A duplicate (paid) task may exist (lost answers).
    """

    stage: int
    endpoint: str
    model: str | None = None
    task_id: str | None = None
    submission: str | None = None
    status: str
    outputs: list[str] = Field(default_factory=list)
    error: str | None = None
    task_ids: list[str] = Field(default_factory=list)
    possible_duplicate: bool = False
    cache_key: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


class PipelineItem(BaseModel):
    """One item and its chain.

    Attributes:
        id: The row's id.
        source: Where a person finds the row (``<table>:<line> (id ...)``).
        status: ``complete`` (every stage's outputs are in S3) or ``stopped``.
        error: Why it stopped (``stage 2 (image_to_video): ...``).
        chain: The stages it reached, in order.
    """

    id: str
    source: str = ""
    status: ItemStatus
    error: str | None = None
    chain: list[StageRun] = Field(default_factory=list)


class PipelineResult(BaseModel):
    """What `run_pipeline` returns.

    Attributes:
        items: Every item of the table, in table order.
        rejected: Rows refused before anything was paid (their messages).
        complete: Items whose every stage succeeded.
        stopped: Items that stopped at a stage.
        paid: Tasks this run created.
        cached: Stages answered from the ledger (paid by an earlier run).
        manifest_uri: The manifest written.
    """

    items: list[PipelineItem]
    rejected: list[str] = Field(default_factory=list)
    complete: int = 0
    stopped: int = 0
    paid: int = 0
    cached: int = 0
    manifest_uri: str | None = None


@flow(name="runway-pipeline", on_cancellation=[cancel_in_flight])
async def run_pipeline(
    table: str | Sequence[Mapping[str, Any]],
    stages: Sequence[Stage | Mapping[str, Any]],
    output_prefix: str,
    credentials_block: RunwayCredentials | str | None = None,
    concurrency: int = 50,
    wait_seconds: float = 3600.0,
    transport: str = "auto",
    resubmit_unknown: bool = False,
    aws_credentials: AwsCredentialsParam = None,
    write_manifest: bool = True,
    fail_on_errors: bool = False,
) -> PipelineResult:
    """Run every item of `table` through `stages`, each item on its own as soon as it can.

    Args:
        table: As for `prefect_runway.table.read_table` (``s3://`` or local CSV, JSONL,
            Parquet, or a list of dicts): each row is an item entering stage 1 with its
            fields; columns that later stages read (``row.<column>``) and stage 1 does not
            take are kept aside for them.
        stages: `Stage`s, or their fields as dicts; at least one.
        output_prefix: ``s3://bucket/prefix/`` for the outputs and the manifest.
        credentials_block: A RunwayCredentials block, or a saved block's name; None reads
            the environment.
        concurrency: Items in flight at once.
        wait_seconds: How long one stage's task may take.
        transport: How ``s3://`` inputs reach Runway (``auto``, ``url``, ``data_uri``,
            ``upload``).
        resubmit_unknown: Pay again for a stage whose earlier outcome is unknown (flagged
            ``possible_duplicate``).
        aws_credentials: A prefect-aws ``AwsCredentials`` block; None: boto3's standard chain.
        write_manifest: Merge the chains into ``<output_prefix>runway-pipeline.json``.
        fail_on_errors: Fail the run, after the manifest and the artifact are written, when an
            item stopped or a row was refused (default: report them in the result; a rerun
            pays only for what is missing).

    Returns:
        Per item its chain (stage, endpoint, task ID, status, output URIs, error), counts, and
        the manifest's URI.

    Raises:
        RunwayValidationError: a stage or the output prefix is unusable (nothing is paid).
        BatchFailedError: a stage's task was created but its record could not be written
            (always), or, with `fail_on_errors`, items stopped; its ``task_ids`` are those
            tasks (the stopped stages' that have one). Raised after every item is reported.
    """
    logger = get_run_logger()
    split_s3_uri(output_prefix.rstrip("/") + "/x")  # fail fast on a bad prefix
    output_prefix = folder(output_prefix, "output_prefix")
    plan = _stages(stages)
    s3 = S3Location("", credentials=aws_credentials).client()
    items, rejected = _items(table, plan, s3)
    for message in rejected:
        logger.warning("Row refused, nothing paid for it: %s", message)
    _unique_folders(items)
    logger.info("%d items through %d stages (%s); %d rows refused", len(items), len(plan),
                " -> ".join(s.endpoint for s in plan), len(rejected))  # fmt: skip
    credentials = await load_credentials(credentials_block)
    gate = asyncio.Semaphore(max(concurrency, 1))
    async with credentials.get_async_client() as client:
        engine = await Engine.create(credentials, client, resubmit_unknown=resubmit_unknown)
        runner = _Runner(engine, client, credentials, s3, plan, output_prefix, wait_seconds,
                         transport)  # fmt: skip

        async def one(item: _Item) -> PipelineItem:
            async with gate:
                return await runner.run(item)

        try:
            done = await asyncio.gather(*(one(item) for item in items))
        finally:
            runner.close()
    result = PipelineResult(
        items=list(done), rejected=rejected,
        complete=sum(i.status == "complete" for i in done),
        stopped=sum(i.status == "stopped" for i in done),
        paid=sum(link.submission in ("submitted", "unrecorded") for i in done for link in i.chain),
        cached=sum(link.submission == "cached" for i in done for link in i.chain),
    )  # fmt: skip
    if write_manifest:
        uri = output_prefix + MANIFEST_NAME
        await asyncio.to_thread(merge_pipeline_manifest, s3, uri, result.items, plan)
        result.manifest_uri = uri
    await _publish(result, output_prefix)
    logger.info("Pipeline: %d complete, %d stopped, %d tasks paid now, %d from the ledger",
                result.complete, result.stopped, result.paid, result.cached)  # fmt: skip
    _raise_for_failures(result, output_prefix, fail_on_errors)
    return result


def _raise_for_failures(result: PipelineResult, output_prefix: str, fail_on_errors: bool) -> None:
    """`BatchFailedError` for unrecorded tasks (always) and stopped items (if asked)."""
    where = (f"the '{batch_key(PIPELINE_KEY, output_prefix)}' artifact and "
             f"{result.manifest_uri or 'the result'}")  # fmt: skip
    unrecorded = [link.task_id or "" for item in result.items for link in item.chain
                  if link.submission == "unrecorded"]  # fmt: skip
    if unrecorded:
        raise BatchFailedError(
            f"{len(unrecorded)} Runway task(s) were created but their records could not be "
            f"written: {', '.join(unrecorded)}. They are in {where}; a rerun reports those "
            "stages as 'unknown' and does not pay again.",
            task_ids=unrecorded,
        )
    stopped = [item for item in result.items if item.status == "stopped"]
    if fail_on_errors and (stopped or result.rejected):
        ids = [item.chain[-1].task_id for item in stopped if item.chain and item.chain[-1].task_id]
        raise BatchFailedError(
            f"{len(stopped)} of {len(result.items)} items stopped and {len(result.rejected)} "
            f"rows were refused (first: {(stopped[0].error if stopped else result.rejected[0])}"
            f"); see {where}. A rerun pays only for the stages not yet paid.",
            task_ids=[str(i) for i in ids],
        )


# -- setup ----------------------------------------------------------------------------------


class _Item(BaseModel):
    """A row on its way: its stage-1 request and the columns later stages read."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    source: str
    endpoint: str
    body: dict[str, Any]
    carried: dict[str, Any] = Field(default_factory=dict)


def _stages(stages: Sequence[Stage | Mapping[str, Any]]) -> list[Stage]:
    if isinstance(stages, (str, bytes)) or not stages:
        raise RunwayValidationError("stages: give at least one stage")
    plan: list[Stage] = []
    for number, stage in enumerate(stages, start=1):
        try:
            plan.append(stage if isinstance(stage, Stage) else Stage.model_validate(stage))
        except Exception as exc:
            text = "; ".join(validation_messages(exc)) if hasattr(exc, "errors") else str(exc)
            raise RunwayValidationError(f"stage {number}: {text}") from None
    outputs = [f for f, r in plan[0].inputs.items() if not r.startswith("row.")]
    if outputs:
        raise RunwayValidationError(
            f"stage 1: {', '.join(outputs)} read 'output', but no stage comes before it"
        )
    for number, stage in enumerate(plan[1:], start=2):  # checked before anything is paid
        try:
            _request(stage, [_PLACEHOLDER] * 4, {}, check_rows=False)
        except (ValueError, RunwayValidationError) as exc:
            raise RunwayValidationError(f"stage {number} ({stage.endpoint}): {exc}") from None
    return plan


def _items(
    table: str | Sequence[Mapping[str, Any]], plan: list[Stage], s3: S3Client
) -> tuple[list[_Item], list[str]]:
    """The table's rows as items (read and checked as `read_table` does), and the messages
    of the refused rows; each item's later stages are checked with its own columns too."""
    first = plan[0]
    columns = set().union(*(stage.row_columns() for stage in plan))
    read = tables.read_table(table, endpoint=first.endpoint, defaults=first.fields, s3=s3,
                             carry=columns)  # fmt: skip
    rejected = [r.message for r in read.rejected]
    items: list[_Item] = []
    for row in read.rows:
        item = _Item(id=row.id, source=row.source, endpoint=row.endpoint, body=dict(row.body),
                     carried=row.carried)  # fmt: skip
        try:
            for field, reference in first.inputs.items():
                _put(item.body, field, _row_value(item, reference))
            GenerationRequest(endpoint=item.endpoint, body=item.body)
            for number, stage in enumerate(plan[1:], start=2):
                try:
                    _request(stage, [_PLACEHOLDER] * 4, item.carried | item.body)
                except (ValueError, RunwayValidationError) as exc:
                    raise ValueError(f"stage {number} ({stage.endpoint}): {exc}") from None
        except (ValueError, RunwayValidationError) as exc:
            rejected.append(f"{row.source or row.id}: {_one_line(exc)}")
            continue
        items.append(item)
    return items, rejected


def _row_value(item: _Item, reference: str) -> Any:
    column = reference.removeprefix("row.")
    for values in (item.carried, item.body):
        if column in values:
            return values[column]
    raise ValueError(f"{reference}: the row has no column {column!r}")


def _request(
    stage: Stage, outputs: list[str], row: Mapping[str, Any], check_rows: bool = True
) -> GenerationRequest:
    """The stage's request: its fields, then its inputs (outputs of the stage before, the
    item's columns)."""
    body = json.loads(json.dumps(stage.fields))
    for field, reference in stage.inputs.items():
        match = _REFERENCE.match(reference)
        assert match is not None  # checked by Stage
        if match.group(2):
            column = match.group(2)
            if column not in row:
                if not check_rows:
                    continue
                raise ValueError(f"{field} reads {reference}, but the row has no {column!r}")
            value: Any = row[column]
        else:
            index = int(match.group(1) or 0)
            if index >= len(outputs):
                raise ValueError(
                    f"{field} reads {reference}, but the stage before made {len(outputs)} "
                    f"output{'s' if len(outputs) != 1 else ''}"
                )
            value = outputs[index]
        _put(body, field, value)
    try:
        return GenerationRequest(endpoint=stage.endpoint, body=body)
    except Exception as exc:
        if hasattr(exc, "errors"):
            raise ValueError("; ".join(validation_messages(exc))) from None
        raise


def _put(body: dict[str, Any], field: str, value: Any) -> None:
    *parents, last = field.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[last] = value


def _one_line(exc: BaseException) -> str:
    if hasattr(exc, "errors"):
        return "; ".join(validation_messages(exc))
    return str(exc)


def item_folder(item_id: str) -> str:
    """The item's folder name under the output prefix: its id, with characters other than
    letters, digits, ``.``, ``_``, ``=`` and ``-`` as ``_`` (``cat#2`` -> ``cat_2``).

    Example:
        >>> item_folder("cat#2")
        'cat_2'
    """
    return _UNSAFE.sub("_", item_id) or "_"


def _unique_folders(items: list[_Item]) -> None:
    seen: dict[str, str] = {}
    for item in items:
        name = item_folder(item.id)
        if name in seen and seen[name] != item.id:
            raise RunwayValidationError(
                f"ids {seen[name]!r} and {item.id!r} would share the output folder {name!r}; "
                "rename one"
            )
        seen[name] = item.id


# -- running --------------------------------------------------------------------------------


class _Runner:
    """Runs one item's chain, stage after stage, on the run's engine and clients."""

    def __init__(self, engine: Engine, client: AsyncRunwayClient,
                 credentials: RunwayCredentials, s3: S3Client, plan: list[Stage],
                 output_prefix: str, wait_seconds: float, transport: str) -> None:  # fmt: skip
        self.engine = engine
        self.client = client
        self.credentials = credentials
        self._sync_client: RunwayClient | None = None
        self._sync_lock = threading.Lock()
        self.s3 = s3
        self.plan = plan
        self.output_prefix = output_prefix
        self.wait_seconds = wait_seconds
        self.transport = transport
        self.logger = get_run_logger()
        self._held: dict[str, tuple[S3Image, bytes]] = {}

    async def run(self, item: _Item) -> PipelineItem:
        result = PipelineItem(id=item.id, source=item.source, status="complete")
        outputs: list[str] = []
        for number, stage in enumerate(self.plan, start=1):
            link = await self._stage(item, number, stage, outputs)
            for uri in outputs:  # read by this stage, or never: S3 has them for a rerun
                self._held.pop(uri, None)
            result.chain.append(link)
            if link.status != "succeeded":
                result.status = "stopped"
                result.error = f"stage {number} ({link.endpoint}): {link.error or link.status}"
                self.logger.warning("Item %s stopped at %s", item.id, result.error)
                return result
            outputs = link.outputs
        self.logger.info("Item %s complete: %s", item.id, ", ".join(outputs))
        return result

    async def _stage(self, item: _Item, number: int, stage: Stage,
                     outputs: list[str]) -> StageRun:  # fmt: skip
        endpoint = item.endpoint if number == 1 else stage.endpoint
        link = StageRun(stage=number, endpoint=endpoint, status="error",
                        started_at=datetime.now(timezone.utc))  # fmt: skip
        try:
            if number == 1:
                request = GenerationRequest(endpoint=item.endpoint, body=item.body)
            else:
                request = _request(stage, outputs, item.carried | item.body)
            link.model = request.model
            job = await generation_job(request, source=f"{item.source or item.id} stage "
                                       f"{number} ({endpoint})", s3=self.s3,
                                       transport=self.transport,
                                       held={u: self._held[u] for u in outputs
                                             if u in self._held})  # fmt: skip
        except (RunwayError, ValueError) as exc:
            return _stopped(link, "rejected" if isinstance(exc, ValueError) else "error", exc)
        row = await self.engine.submit_generation(job)
        _note(link, row)
        if row.task_id is None or row.status == "unknown":
            status = row.status if row.status in ("unknown", "rejected", "deferred") else "error"
            return _stopped(link, status, row.error or row.status)
        await record_in_flight({row.task_id: row.cache_key})  # cancelled if the run is
        try:
            task = await self.client.wait_for_task(row.task_id, timeout=self.wait_seconds)
        except RunwayError as exc:
            return _stopped(link, outcome_of(exc), exc)
        try:
            link.outputs = await self._outputs(item, number, request.output, task)
        except Exception as exc:  # the task stands; its outputs are copied by a rerun
            return _stopped(link, "error", f"copy to S3 failed, rerun to retry: {exc}")
        link.status = "succeeded"
        link.ended_at = datetime.now(timezone.utc)
        return link

    async def _outputs(self, item: _Item, number: int, kind: str,
                       task: RunwayTask) -> list[str]:  # fmt: skip
        uris: list[str] = []
        endpoint = item_folder(task_endpoint(self.plan, number, item))
        for index, url in enumerate(task.output or []):
            extension = _extension(url, kind)
            uri = (f"{self.output_prefix}{item_folder(item.id)}/{number}-{endpoint}-"
                   f"{index + 1}.{extension}")  # fmt: skip
            if not await asyncio.to_thread(_published, self.s3, uri):
                held = await asyncio.to_thread(self._copy, task, index, uri)
                if held is not None and number < len(self.plan):
                    self._held[uri] = held
                self.logger.info("Item %s stage %d: output %d of task %s is at %s", item.id,
                                 number, index + 1, task.id, uri)  # fmt: skip
            uris.append(uri)
        if not uris:
            raise RunwayError(f"task {task.id} SUCCEEDED without outputs")
        return uris

    def sync_client(self) -> RunwayClient:
        """The client downloads go through (threads), made at the first download: off the
        path to the first submission."""
        with self._sync_lock:
            if self._sync_client is None:
                self._sync_client = self.credentials.get_client()
            return self._sync_client

    def close(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()

    def _copy(self, task: RunwayTask, index: int, uri: str) -> tuple[S3Image, bytes] | None:
        """Download output `index` of `task` and publish it complete at `uri` (labelled
        with the content type its bytes show); return the object and its bytes when small
        enough to feed the next stage from memory (no HEAD, no GET: P8's stage changes)."""
        with tempfile.TemporaryFile() as spool:
            size, digest = _download_fresh(self.sync_client(), task.id, task, index, spool)
            spool.seek(0)
            data = spool.read() if size <= _HELD_BYTES else None
            spool.seek(0)
            etag = _store(spool, uri, self.s3, size, digest)  # boto3 closes the spool
        if etag is None or data is None:
            return None
        bucket, key = split_s3_uri(uri)
        return S3Image(bucket, key, etag, size), data


def task_endpoint(plan: list[Stage], number: int, item: _Item) -> str:
    """The endpoint of stage `number` for `item` (stage 1: the row's, which may name its own)."""
    return item.endpoint if number == 1 else plan[number - 1].endpoint


def _extension(url: str, kind: str) -> str:
    from urllib.parse import urlsplit

    path = urlsplit(url).path
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return extension if extension in _EXTENSIONS else _DEFAULT_EXTENSION.get(kind, "bin")


def _published(s3: S3Client, uri: str) -> bool:
    """True when a complete output is at `uri` (the publisher only ever puts whole files
    at a final key, with their SHA-256 in the metadata)."""
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return False
        raise
    return bool(head.get("ContentLength")) and "sha256" in (head.get("Metadata") or {})


def _note(link: StageRun, row: SubmissionRow) -> None:
    link.submission = row.status
    link.task_id = row.task_id
    link.cache_key = row.cache_key
    link.possible_duplicate = row.possible_duplicate
    ids = [attempt.task_id for attempt in row.history if attempt.task_id]
    link.task_ids = list(dict.fromkeys([*ids, *([row.task_id] if row.task_id else [])]))


def _stopped(link: StageRun, status: str, error: BaseException | str) -> StageRun:
    link.status = status
    link.error = error if isinstance(error, str) else _one_line(error)
    link.ended_at = datetime.now(timezone.utc)
    return link


# -- the manifest and the artifact ------------------------------------------------------------


def merge_pipeline_manifest(
    s3: S3Client, uri: str, items: Sequence[PipelineItem], stages: Sequence[Stage],
    attempts: int = 8,
) -> dict[str, Any]:  # fmt: skip
    """Merge `items` into the manifest at `uri` (created when absent) with a conditional
    write, retried when another run wrote it meanwhile.

    Items and stages this run did not reach stay as written; a stage's ``task_ids`` keep
    every task ID any run recorded.

    Returns:
        The manifest as written.
    """
    from botocore.exceptions import ClientError

    bucket, key = split_s3_uri(uri)
    for _ in range(attempts):
        etag, old = _read_manifest(s3, bucket, key)
        merged = _merged(old, items, stages)
        body = json.dumps(merged, indent=1, default=str).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json",
                          **condition)  # type: ignore[arg-type]  # fmt: skip
            return merged
        except ClientError as exc:
            if not _conflict(exc):
                raise
        time.sleep(0.1)
    raise RunwayError(f"{uri}: other runs kept writing it; the manifest was not merged")


def read_pipeline_manifest(s3: S3Client, uri: str) -> dict[str, Any] | None:
    """The manifest at `uri`, or None when there is none."""
    _, found = _read_manifest(s3, *split_s3_uri(uri))
    return found


def _read_manifest(s3: S3Client, bucket: str, key: str) -> tuple[str | None, dict[str, Any] | None]:
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, None
        raise
    return answer["ETag"], json.loads(answer["Body"].read())


def _merged(old: dict[str, Any] | None, items: Sequence[PipelineItem],
            stages: Sequence[Stage]) -> dict[str, Any]:  # fmt: skip
    known: dict[str, dict[str, Any]] = {i["id"]: i for i in (old or {}).get("items", [])}
    order = list(known)
    for item in items:
        new = item.model_dump(mode="json")
        earlier = known.get(item.id)
        if earlier is not None:
            links = {link["stage"]: link for link in earlier.get("chain", [])}
            for link in new["chain"]:
                before = links.get(link["stage"], {})
                ids = [*before.get("task_ids", []), before.get("task_id"), *link["task_ids"],
                       link["task_id"]]  # fmt: skip
                link["task_ids"] = list(dict.fromkeys(i for i in ids if i))
                if link["task_id"] is None and before.get("task_id"):
                    link["task_id"] = before["task_id"]  # a stage's task is never forgotten
                links[link["stage"]] = link
            new["chain"] = [links[n] for n in sorted(links)]
        else:
            order.append(item.id)
        known[item.id] = new
    return {
        "kind": "runway-pipeline",
        "version": 1,
        "updated_at": datetime.now(timezone.utc).isoformat(),
        "stages": [stage.model_dump(mode="json") for stage in stages],
        "items": [known[i] for i in order],
    }


async def _publish(result: PipelineResult, output_prefix: str) -> None:
    table = [
        {"item": item.id, "stage": link.stage, "endpoint": link.endpoint, "model": link.model,
         "task_id": link.task_id or "", "submission": link.submission or "",
         "status": link.status, "outputs": " ".join(link.outputs), "error": link.error or ""}
        for item in result.items for link in item.chain
    ]  # fmt: skip
    try:
        await acreate_table_artifact(
            key=batch_key(PIPELINE_KEY, output_prefix), table=table[:TABLE_ROWS],
            description=f"Runway pipeline: {result.complete} items complete, {result.stopped} "
                        f"stopped; manifest {result.manifest_uri or 'not written'}",
        )  # fmt: skip
    except Exception as exc:  # an artifact never fails a run whose tasks are paid
        get_run_logger().warning("Could not write the pipeline artifact: %s", exc)


def main(argv: list[str] | None = None) -> int:
    """``python -m prefect_runway.flows.pipeline TABLE STAGES_JSON OUTPUT_PREFIX``."""
    import argparse
    from pathlib import Path

    from prefect_runway.flows.common import run_flow

    parser = argparse.ArgumentParser(prog="python -m prefect_runway.flows.pipeline",
                                     description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("table", help="s3:// or local CSV, JSONL or Parquet table")
    parser.add_argument("stages", help="a JSON file (or JSON text) holding the list of stages")
    parser.add_argument("output_prefix", help="s3://bucket/prefix/ for outputs and manifest")
    parser.add_argument("--credentials-block", metavar="NAME")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--fail-on-errors", action="store_true",
                        help="fail the run when an item stopped or a row was refused")  # fmt: skip
    args = parser.parse_args(argv)
    text = args.stages
    if not text.lstrip().startswith("["):
        text = Path(text).read_text()
    return run_flow(run_pipeline(
        args.table, json.loads(text), args.output_prefix,
        credentials_block=args.credentials_block, concurrency=args.concurrency,
        fail_on_errors=args.fail_on_errors, return_state=True,
    ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
