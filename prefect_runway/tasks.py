"""Prefect tasks: submit once (through the submission engine), then poll, wait, cancel, download.

A generation costs money, so `submit_image_to_video` is a thin task over
`prefect_runway.ledger.engine`, built around one promise: a paid submission happens exactly once per
(account, image identity, request).

- Its key comes from `prefect_runway.ledger.keys.submission_key` (never the API key, never a
  presigned URL's signature); its record lives in the submission ledger
  (`prefect_runway.ledger.records`), written before the POST (intent) and after it (outcome), in
  Prefect's default result storage, shared with the fan-out and the CLI.
- Nothing Prefect-wide can make it pay twice: the task pins ``cache_policy=NO_CACHE`` (the
  engine's ledger is the cache, so Prefect's cache-refresh settings do not apply) and
  ``retries=0`` (a task-level retry would multiply the client's). Only ``resubmit=True`` and
  ``resubmit_unknown=True`` pay again.
- Retries: the client's, by evidence (`prefect_runway.api.client.classify_create`): refusals by
  the API (429, a 503 with its error body) and connection errors silently, unknown outcomes
  (a gateway's 5xx, a lost answer) only as ``retry_lost_responses`` allows, flagged: at most
  ``1 + max_retries`` = 6 POST attempts per image with the default credentials, for the
  task, the fan-out and the CLI alike.

Example:
    ```python
    from prefect import flow
    from prefect_runway import ImageToVideoRequest, RunwayCredentials
    from prefect_runway.tasks import submit_image_to_video, wait_for_tasks

    @flow
    def animate(url: str) -> str:
        creds = RunwayCredentials()  # RUNWAYML_API_SECRET, or RunwayCredentials.load("runway")
        submitted = submit_image_to_video(creds, ImageToVideoRequest(
            prompt_image=url, model="gen4_turbo", ratio="1280:720", duration=5))
        wait_for_tasks(creds, [submitted.id])
        return submitted.id
    ```
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefect import task
from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger
from prefect.utilities.asyncutils import run_coro_as_sync
from pydantic import BaseModel, ConfigDict, ValidationError

from prefect_runway.api.models import (
    GenerationSettings,
    ImageToVideoRequest,
    SubmittedTask,
    redact_url,
    suggest_model,
)
from prefect_runway.api.models import Task as RunwayTask
from prefect_runway.api.requests import GenerationRequest
from prefect_runway.cancellation import record_in_flight
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import (
    BudgetExceededError,
    ImageSourceError,
    RecordWriteError,
    RunwayError,
    RunwayIncompleteDownloadError,
    RunwayTaskFailedError,
    RunwayTaskLostError,
    RunwayTaskTimeoutError,
    RunwayValidationError,
    validation_messages,
)
from prefect_runway.images import check_data_uri
from prefect_runway.ledger.engine import Engine, GenerationJob, ImageJob, SubmissionRow, log
from prefect_runway.ledger.keys import content_identity, image_identity
from prefect_runway.media import SNIFF_BYTES, sniff_media

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from prefect_runway.s3.objects import S3Image

# Sync and async twins follow Prefect's integrations' naming (``x`` and ``ax``), but are two
# plain tasks: Prefect's async_dispatch wrapper is private and hides Task methods such as
# ``.map``, ``.submit`` and ``.with_options``, which a fan-out needs.

_SUBMIT_OPTIONS: dict[str, Any] = {
    # Pinned so that no Prefect default or setting meant for other tasks (default cache
    # policy, PREFECT_TASKS_REFRESH_CACHE, default retries) changes what a paid call does.
    "cache_policy": NO_CACHE,
    "refresh_cache": False,
    "retries": 0,
    "persist_result": True,
    "result_serializer": "json",
}


async def _submit(
    credentials: RunwayCredentials,
    request: ImageToVideoRequest,
    image_identity_: str | None,
    resubmit: bool,
    resubmit_unknown: bool,
) -> SubmittedTask:
    try:  # a retired or unknown model: refused before any record or request
        request.check_dialect(credentials.dialect)
    except ValueError as exc:
        raise RunwayValidationError(str(exc)) from None
    identity = image_identity_ or image_identity(request.prompt_image)
    source = redact_url(request.prompt_image) if isinstance(request.prompt_image, str) else ""
    shown = identity if source.startswith("data:") else source or identity
    job = ImageJob(source=shown, identity=identity, image=_checked_image(request, shown))
    async with credentials.get_async_client() as client:
        engine = await Engine.create(
            credentials, client, resubmit=resubmit, resubmit_unknown=resubmit_unknown
        )
        row = await engine.submit(job, request.settings())
    _log_row(row, "this image and request were", "Runway task")
    return row.raise_for_status()


def _log_row(row: SubmissionRow, what: str, task: str) -> None:
    """The task run's log line for the engine's `row`: a cache hit (``what`` was already
    submitted as Runway task ...) or a new task (``Submitted <task> ...``); an ``unrecorded``
    row fails the run, its message carrying the task ID."""
    logger = get_run_logger()
    if row.status == "cached":
        logger.info(
            "Cache hit: %s already submitted as Runway task %s; not submitting again.",
            what, row.task_id,
        )  # fmt: skip
    elif row.status == "submitted":
        logger.info("Submitted %s %s", task, row.task_id)
    if row.status == "unrecorded":  # the message carries the task ID: it must not be lost
        raise RecordWriteError(f"Runway {row.error}. The run fails so that it is seen.")


def _checked_image(request: ImageToVideoRequest, source: str) -> Any:
    """The request's image; data URIs are decoded and judged first (`prefect_runway.images`),
    only when the image is to be submitted (a cached rerun decodes nothing)."""
    image = request.prompt_image
    uris = [image] if isinstance(image, str) else [part.uri for part in image]
    if not any(uri[:5].lower() == "data:" for uri in uris):
        return image

    async def checked(client: Any) -> Any:
        for uri in uris:
            if uri[:5].lower() == "data:":
                await _judge_data_uri(uri, source, request.model)
        return image

    return checked


async def _judge_data_uri(uri: str, source: str, model: str | None) -> None:
    """Decode and judge an image data URI (`prefect_runway.images.check_data_uri`: raises
    `ImageRejectedError`), logging its warnings; off the event loop."""
    info = await asyncio.to_thread(check_data_uri, uri, source, model)
    for warning in info.warnings:
        log(logging.WARNING, "%s", warning)


@task(name="submit-image-to-video", **_SUBMIT_OPTIONS)
async def asubmit_image_to_video(
    credentials: RunwayCredentials,
    request: ImageToVideoRequest,
    image_identity: str | None = None,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> SubmittedTask:
    """Submit one image-to-video generation, at most once per account, image and request.

    Args:
        credentials: The Runway credentials block.
        request: The validated request.
        image_identity: The image's stable identity (e.g. ``s3://bucket/key#etag``); derived
            from the request when omitted (content hash for data URIs, URL without signature).
        resubmit: Pay again even if this image was submitted before.
        resubmit_unknown: Pay again if an earlier submission's outcome is unknown (the new
            task is flagged ``possible_duplicate``).

    Returns:
        The submitted task (the recorded one on a cache hit), with ``request_fingerprint``
        set to the key.

    Raises:
        RunwayUnknownOutcomeError: a task may exist and nobody can tell (see the README).
        RecordWriteError: the task was created but its record was not written (the task ID
            is in the message and an ERROR log line).
        RecordReadError: the record could not be read; nothing was submitted.

    Example:
        ```python
        submitted = await asubmit_image_to_video(creds, request, "s3://b/cat.png#etag")
        ```
    """
    return await _submit(credentials, request, image_identity, resubmit, resubmit_unknown)


@task(name="submit-image-to-video", **_SUBMIT_OPTIONS)
def submit_image_to_video(
    credentials: RunwayCredentials,
    request: ImageToVideoRequest,
    image_identity: str | None = None,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> SubmittedTask:
    """Submit one image-to-video generation, at most once per account, image and request.

    Same arguments, ledger and errors as `asubmit_image_to_video`.

    Example:
        ```python
        submitted = submit_image_to_video(creds, request)
        ```
    """
    return run_coro_as_sync(
        _submit(credentials, request, image_identity, resubmit, resubmit_unknown)
    )


async def _submit_generation(
    credentials: RunwayCredentials,
    request: GenerationRequest | Mapping[str, Any],
    identities: Mapping[str, str] | None,
    resubmit: bool,
    resubmit_unknown: bool,
) -> SubmittedTask:
    checked = _as_request(request)
    job = await generation_job(checked, identities)
    async with credentials.get_async_client() as client:
        engine = await Engine.create(
            credentials, client, resubmit=resubmit, resubmit_unknown=resubmit_unknown
        )
        row = await engine.submit_generation(job)
    _log_row(
        row, f"this {checked.endpoint} request and its inputs were",
        f"Runway {checked.endpoint} task",
    )  # fmt: skip
    if row.status == "rejected":
        raise RunwayValidationError(row.error or "rejected")
    return row.raise_for_status()


def _as_request(request: GenerationRequest | Mapping[str, Any]) -> GenerationRequest:
    if isinstance(request, GenerationRequest):
        return request
    try:
        return GenerationRequest.model_validate(request)
    except ValidationError as exc:
        raise RunwayValidationError("; ".join(validation_messages(exc))) from None


async def generation_job(
    request: GenerationRequest,
    identities: Mapping[str, str] | None = None,
    source: str | None = None,
    *,
    s3: S3Client | None = None,
    transport: str = "auto",
    held: Mapping[str, tuple[S3Image, bytes]] | None = None,
) -> GenerationJob:
    """The engine's job for `request`, for any endpoint.

    Inputs' identities are read now, cheaply: an ``s3://`` object's ETag by HeadObject, a
    ``file://`` file's content hash. The rest waits until the job is to be paid (a rerun
    reads none of it): each ``s3://`` and ``file://`` input is checked for its media type and
    Runway's limit and turned into a data URI, an upload or a presigned URL
    (`prefect_runway.media.resolve_asset`, `transport`), and data URIs are judged (images
    decoded by Pillow).

    Args:
        request: The request as written.
        identities: Known identities by input path; the others are read or derived.
        source: What a person sees for the job; default ``<endpoint>:<model>``.
        s3: A boto3 S3 client for ``s3://`` inputs (default: ``boto3.client("s3")``).
        transport: How ``s3://`` and ``file://`` inputs travel (``auto``, ``url``,
            ``data_uri``, ``upload``).
        held: ``s3://`` inputs this process has just written, by URI: their object (ETag,
            size) and bytes, so they are neither asked for nor read again (a pipeline's
            stage outputs).

    Raises:
        ImageSourceError: an ``s3://`` input could not be read (access denied, no such key).
    """
    shown = source or f"{request.endpoint}:{request.model}"
    known = dict(identities or {})
    storage: list[Any] = [s3]

    def s3_client() -> Any:
        if storage[0] is None:
            import boto3

            storage[0] = boto3.client("s3")
        return storage[0]

    kept = dict(held or {})
    for path, uri in request.assets():
        if path in known:
            continue
        if uri in kept:
            known[path] = kept[uri][0].identity
        elif uri[:5].lower() == "s3://":
            from prefect_runway.s3.objects import head_object

            bucket, _, key = uri[5:].partition("/")
            known[path] = (await asyncio.to_thread(head_object, s3_client(), bucket, key)).identity
        elif uri[:7].lower() == "file://":
            data = await asyncio.to_thread(_read_file, uri)
            known[path] = content_identity(data)

    async def prepare(client: Any) -> GenerationRequest:
        from prefect_runway.media import resolve_asset

        wire: dict[str, str] = {}
        for path, uri in request.assets():
            field = path.split(".", 1)[0]
            if uri[:5].lower() in ("s3://", "file:"):
                resolved = await resolve_asset(
                    uri, field=field, kind=None, transport=transport,
                    s3=s3_client() if uri[:5].lower() == "s3://" else None, client=client,
                    held=kept.get(uri),
                )  # fmt: skip
                wire[path] = resolved.wire_uri
            elif uri[:5].lower() == "data:" and uri[5:11].lower() == "image/":
                await _judge_data_uri(uri, f"{shown} {path}", request.body.get("model"))
        return request.with_assets(wire) if wire else request

    return GenerationJob(source=shown, request=request, identities=known, prepare=prepare)


def _read_file(uri: str) -> bytes:
    from urllib.parse import unquote, urlsplit

    path = Path(unquote(urlsplit(uri).path))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageSourceError(f"{uri}: cannot be read ({exc.strerror or exc})") from None


@task(name="submit-generation", **_SUBMIT_OPTIONS)
async def asubmit_generation(
    credentials: RunwayCredentials,
    request: GenerationRequest | Mapping[str, Any],
    identities: Mapping[str, str] | None = None,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> SubmittedTask:
    """Submit one generation on any task endpoint, at most once per account, inputs and request.

    The same engine, ledger, retries and errors as `asubmit_image_to_video` (an
    image_to_video request shares its records); the key covers the identity of every media
    input (`prefect_runway.ledger.keys.generation_key`).

    Args:
        credentials: The Runway credentials block.
        request: A `GenerationRequest`, or its fields as a dict
            (``{"endpoint": "text_to_video", "body": {...}}``), checked before anything else.
        identities: Stable identities of inputs by their path in the body, where the URI is
            none (e.g. ``{"videoUri": "s3://b/clip.mp4#etag"}``); derived when omitted.
        resubmit: Pay again even if this request was submitted before.
        resubmit_unknown: Pay again if an earlier submission's outcome is unknown (flagged
            ``possible_duplicate``).

    Returns:
        The submitted task (the recorded one on a cache hit).

    Raises:
        RunwayValidationError: the request breaks the endpoint's rules; nothing was sent.
        RunwayUnknownOutcomeError: a task may exist and nobody can tell (see the README).
        RecordWriteError: the task was created but its record was not written.

    Example:
        ```python
        from prefect import flow
        from prefect_runway.api.requests import GenerationRequest

        @flow
        async def still() -> str:
            request = GenerationRequest(endpoint="text_to_image", body={
                "model": "gen4_image", "promptText": "a lighthouse at dusk",
                "ratio": "1920:1080"})
            return (await asubmit_generation(creds, request)).id

        print(asyncio.run(still()))
        ```
    """
    return await _submit_generation(credentials, request, identities, resubmit, resubmit_unknown)


@task(name="submit-generation", **_SUBMIT_OPTIONS)
def submit_generation(
    credentials: RunwayCredentials,
    request: GenerationRequest | Mapping[str, Any],
    identities: Mapping[str, str] | None = None,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
) -> SubmittedTask:
    """Submit one generation on any task endpoint, at most once per account, inputs and request.

    Same arguments, ledger and errors as `asubmit_generation`.

    Example:
        ```python
        from prefect import flow

        @flow
        def clip() -> str:
            return submit_generation(creds, {"endpoint": "text_to_video", "body": {
                "model": "veo3.1_fast", "promptText": "waves at night",
                "ratio": "1280:720", "duration": 4}}).id

        print(clip())
        ```
    """
    return run_coro_as_sync(
        _submit_generation(credentials, request, identities, resubmit, resubmit_unknown)
    )


@task(name="get-runway-task", retries=2, retry_delay_seconds=5)
async def aget_task(credentials: RunwayCredentials, task_id: str) -> RunwayTask:
    """Fetch one task's state (safe to retry: it never submits)."""
    async with credentials.get_async_client() as client:
        return await client.get_task(task_id)


@task(name="get-runway-task", retries=2, retry_delay_seconds=5)
def get_task(credentials: RunwayCredentials, task_id: str) -> RunwayTask:
    """Fetch one task's state (safe to retry: it never submits)."""
    with credentials.get_client() as client:
        return client.get_task(task_id)


@task(name="cancel-runway-task")
async def acancel_task(credentials: RunwayCredentials, task_id: str) -> None:
    """Cancel a pending, throttled or running task (a finished one is deleted)."""
    async with credentials.get_async_client() as client:
        await client.cancel_task(task_id)
    get_run_logger().info("Cancelled Runway task %s", task_id)


@task(name="cancel-runway-task")
def cancel_task(credentials: RunwayCredentials, task_id: str) -> None:
    """Cancel a pending, throttled or running task (a finished one is deleted)."""
    with credentials.get_client() as client:
        client.cancel_task(task_id)
    get_run_logger().info("Cancelled Runway task %s", task_id)


@task(name="wait-for-runway-tasks")
async def await_for_tasks(
    credentials: RunwayCredentials,
    task_ids: Sequence[str],
    timeout: float = 3600.0,
    poll_interval: float | None = None,
    progress_key: str | None = "runway-progress",
    not_found_grace: float | None = None,
) -> dict[str, RunwayTask | RunwayError]:
    """Wait for many tasks from one event loop, with a progress artifact that tells the truth.

    Each task is polled no more often than the credentials' ``poll_interval`` (at least 5 s
    against runwayml.com), until its own deadline, `timeout` seconds from the start. Polls
    that fail transiently (every 5xx, 429, connection errors) are polled again with backoff
    until then; a 404 is a verdict only after `not_found_grace` seconds of unbroken 404s
    (the task is then *lost*, `RunwayTaskLostError`). A FAILED or CANCELLED task, a lost one
    or an ID that cannot be one ends its own wait at once and does not stop the others.

    The progress artifact's bar is the share of tasks that SUCCEEDED; its description counts
    every outcome (``20 Runway tasks: 17 succeeded, 2 failed, 1 lost, 0 waiting``), updated
    as each task's wait ends.

    Args:
        credentials: The Runway credentials block.
        task_ids: The tasks (duplicates are waited for once).
        timeout: Seconds each task may take.
        poll_interval: Seconds between polls of one task (default: the credentials').
        progress_key: Key of the progress artifact; None for none.
        not_found_grace: Seconds of unbroken 404s before a task is lost (default: the
            credentials' ``not_found_grace``, 60 s).

    Returns:
        task ID -> the SUCCEEDED task, or the error it ended with. SAFETY.* failures are
        final; `RunwayTaskFailedError.retryable` tells INTERNAL.* ones, which a caller may
        choose to re-submit.

    Example:
        ```python
        results = await await_for_tasks(creds, ["id1", "id2"], timeout=900)
        ```
    """
    logger = get_run_logger()
    ids = list(dict.fromkeys(task_ids))
    seen: dict[str, str] = {}
    outcomes: dict[str, str] = {}
    artifact_id = None
    if progress_key and ids:
        artifact_id = await acreate_progress_artifact(
            0.0, key=progress_key, description=progress_description(outcomes, len(ids))
        )

    async def on_update(current: RunwayTask) -> None:
        status = current.status.value
        if seen.get(current.id) == status:
            return
        seen[current.id] = status
        extra = f" ({current.failure_code}: {current.failure})" if current.failure else ""
        logger.info("Runway task %s is %s%s", current.id, status, extra)

    async def on_done(task_id: str, outcome: RunwayTask | RunwayError) -> None:
        outcomes[task_id] = outcome_of(outcome)
        if isinstance(outcome, RunwayError) and not isinstance(outcome, RunwayTaskFailedError):
            logger.warning("Runway task %s: %s", task_id, outcome)
        await _show_progress(artifact_id, outcomes, len(ids), logger)

    await record_in_flight(dict.fromkeys(ids))  # for a flow's `cancel_in_flight` hook
    async with credentials.get_async_client() as client:
        results = await client.wait_for_tasks(
            ids,
            timeout=timeout,
            poll_interval=poll_interval,
            not_found_grace=not_found_grace,
            on_update=on_update,
            on_done=on_done,
        )
    outcomes = {task_id: outcome_of(outcome) for task_id, outcome in results.items()}
    await _show_progress(artifact_id, outcomes, len(ids), logger)
    return results


OUTCOMES = ("succeeded", "failed", "cancelled", "lost", "timed out", "error")
"""How a task's wait can end, in the order the progress artifact counts them."""


def outcome_of(outcome: RunwayTask | RunwayError) -> str:
    """The kind of one task's outcome, one of `OUTCOMES`.

    Args:
        outcome: A task (SUCCEEDED) or the error its wait ended with.
    """
    if isinstance(outcome, RunwayTaskFailedError):
        return "cancelled" if outcome.status == "CANCELLED" else "failed"
    if isinstance(outcome, RunwayTaskLostError):
        return "lost"
    if isinstance(outcome, RunwayTaskTimeoutError):
        return "timed out"
    if isinstance(outcome, RunwayError):
        return "error"
    return "succeeded"


def progress_description(outcomes: dict[str, str], total: int) -> str:
    """``20 Runway tasks: 17 succeeded, 2 failed, 1 lost, 0 waiting``: succeeded and waiting
    always, the other kinds of `OUTCOMES` when any.

    Args:
        outcomes: task ID -> its kind, for the tasks whose wait ended.
        total: How many tasks are waited for.
    """
    counts = Counter(outcomes.values())
    parts = [f"{counts[kind]} {kind}" for kind in OUTCOMES if kind == "succeeded" or counts[kind]]
    parts.append(f"{total - len(outcomes)} waiting")
    return f"{total} Runway tasks: " + ", ".join(parts)


async def _show_progress(
    artifact_id: Any, outcomes: dict[str, str], total: int, logger: Any
) -> None:
    """Update the progress artifact: bar = share SUCCEEDED, description = every count."""
    if artifact_id is None or not total:
        return
    succeeded = sum(1 for kind in outcomes.values() if kind == "succeeded")
    try:
        await aupdate_progress_artifact(
            artifact_id,
            100.0 * succeeded / total,
            description=progress_description(outcomes, total),
        )
    except Exception as exc:  # a progress bar never ends a wait for paid tasks
        logger.warning("Could not update the progress artifact: %s", exc)


# The sync face of `await_for_tasks`: a deliberate mirror of its signature (Prefect tasks
# cannot share one), running the same coroutine.
@task(name="wait-for-runway-tasks")
def wait_for_tasks(
    credentials: RunwayCredentials,
    task_ids: Sequence[str],
    timeout: float = 3600.0,
    poll_interval: float | None = None,
    progress_key: str | None = "runway-progress",
    not_found_grace: float | None = None,
) -> dict[str, RunwayTask | RunwayError]:
    """Wait for many tasks; the sync face of `await_for_tasks` (same event-loop design)."""
    return run_coro_as_sync(
        await_for_tasks.fn(
            credentials, task_ids, timeout, poll_interval, progress_key, not_found_grace
        )
    )


def estimate_credits(requests: Sequence[GenerationSettings]) -> float | None:
    """Credits a batch should cost, from each model's price per second.

    Returns:
        The sum, or None when any request's model has no known price (an unknown price is
        not zero: `check_budget` refuses such a batch when a budget is set).

    Example:
        ```python
        estimate_credits([request] * 100)  # 5000.0 for 10 s gen4_turbo clips
        ```
    """
    prices = [r.estimated_credits() for r in requests]
    return None if any(p is None for p in prices) else float(sum(p or 0 for p in prices))


def check_budget(
    estimated: float | None,
    budget: float | None,
    balance: float | None = None,
    model: str | None = None,
) -> None:
    """Refuse a batch over budget or over the organization's balance, before any POST.

    Args:
        estimated: The batch's estimated credits; None when a price is unknown.
        budget: The most the caller allows, or None for no budget.
        balance: The organization's credit balance, when the API tells it.
        model: The batch's model, named when its price is unknown.

    Raises:
        BudgetExceededError: naming the estimate, the limit and what to change.
    """
    if budget is not None and estimated is None:
        raise BudgetExceededError(
            f"A budget of {budget:g} credits is set, but the price of "
            f"{'model ' + repr(model) if model else 'the model'} is unknown to prefect-runway "
            f"(not in its table{_did_you_mean(model)}), so the batch's cost cannot be bounded; "
            "remove budget_credits to submit anyway, or use a model with a known price."
        )
    if estimated is None:
        return
    if budget is not None and estimated > budget:
        raise BudgetExceededError(
            f"Estimated cost {estimated:g} credits (~{estimated / 100:.2f} USD) exceeds the "
            f"budget of {budget:g} credits; raise budget_credits or submit fewer images."
        )
    if balance is not None and estimated > balance:
        raise BudgetExceededError(
            f"Estimated cost {estimated:g} credits exceeds the organization's balance of "
            f"{balance:g} credits; buy credits or submit fewer images."
        )


def _did_you_mean(model: str | None) -> str:
    close = suggest_model(model) if model else None
    return f"; did you mean {close!r}?" if close and close != model else ""


class DownloadedOutput(BaseModel):
    """One stored output of a task (`download_task_output`): JSON-serializable, so a
    persisted Prefect result holds it as ``{"location", "bytes", "sha256", "content_type"}``.

    ``output["location"]`` reads a field as the dicts of earlier versions did, and
    ``dict(output)`` gives that dict.
    """

    model_config = ConfigDict(frozen=True)

    location: str
    """The local path or ``s3://bucket/key`` the video was stored at."""
    bytes: int
    """Its size, checked against the host's full length."""
    sha256: str
    """SHA-256 hex of its bytes (on S3 also in the object's ``sha256`` metadata)."""
    content_type: str = "video/mp4"

    def __getitem__(self, field: str) -> Any:
        if field not in type(self).model_fields:
            raise KeyError(field)
        return getattr(self, field)


@task(name="download-runway-output", retries=2, retry_delay_seconds=10)
def download_task_output(
    credentials: RunwayCredentials,
    task_id: str,
    destination: str,
    s3_client: S3Client | None = None,
) -> list[DownloadedOutput]:
    """Stream a SUCCEEDED task's outputs to a local path or an ``s3://bucket/key`` URI.

    Videos are streamed through a temporary file, never held in memory, and checked against
    their full length (the Content-Length, else a second request's): a download cut short
    raises `RunwayIncompleteDownloadError` and stores nothing. To S3, the video is uploaded
    to a temporary key, checked there, then copied to its final key (with its SHA-256 in the
    object's ``sha256`` metadata), so the final key only ever holds a complete video. An
    expired output URL (403) is refreshed by fetching the task again, once.

    Args:
        credentials: The Runway credentials block.
        task_id: A SUCCEEDED task.
        destination: A local file path or ``s3://bucket/key``; with several outputs, ``-1``,
            ``-2``... are inserted before the extension.
        s3_client: A boto3 S3 client; default ``boto3.client("s3")`` (standard credential
            chain, ``AWS_ENDPOINT_URL`` honoured).

    Returns:
        One `DownloadedOutput` per output: ``location``, ``bytes``, ``sha256``,
        ``content_type`` (also readable as ``output["location"]``).
    """
    with credentials.get_client() as client:
        current = client.get_task(task_id)
        if current.status.value != "SUCCEEDED" or not current.output:
            raise RunwayError(
                f"Task {task_id} is {current.status.value}; only a SUCCEEDED task has outputs."
            )
        records: list[DownloadedOutput] = []
        for index, _ in enumerate(current.output):
            target = _numbered(destination, index, len(current.output))
            with tempfile.TemporaryFile() as spool:
                size, digest = _download_fresh(client, task_id, current, index, spool)
                spool.seek(0)
                _store(spool, target, s3_client, size, digest)
            records.append(DownloadedOutput(location=target, bytes=size, sha256=digest))
            get_run_logger().info("Saved output of Runway task %s to %s", task_id, target)
    return records


def _download_fresh(client: Any, task_id: str, current: RunwayTask, index: int, spool: Any) -> Any:
    try:
        return client.download(current.output[index], spool)  # type: ignore[index]
    except RunwayError as exc:
        if exc.status_code not in (401, 403):
            raise
    spool.seek(0)
    spool.truncate()
    fresh = client.get_task(task_id)  # output URLs expire after 24-48 h: ask for new ones
    return client.download(fresh.output[index], spool)


def _numbered(destination: str, index: int, total: int) -> str:
    if total == 1:
        return destination
    stem, dot, ext = destination.rpartition(".")
    return f"{stem}-{index + 1}.{ext}" if dot else f"{destination}-{index + 1}"


_SINGLE_COPY_LIMIT = 5 * 1024**3
"""S3's limit for one CopyObject; larger objects are copied in parts by boto3."""


def _store(
    spool: Any, target: str, s3_client: S3Client | None, size: int, digest: str
) -> str | None:
    """Publish the spooled file complete at `target`; return its S3 ETag when S3 told it
    (so a caller feeding the object on need not ask again)."""
    if target.startswith("s3://"):
        import boto3

        bucket, _, key = target[5:].partition("/")
        s3 = s3_client or boto3.client("s3")
        partial = f"{key}.partial-{uuid.uuid4().hex[:12]}"
        found = sniff_media(spool.read(SNIFF_BYTES))  # a video, an image or audio
        spool.seek(0)
        content_type = found.content_type if found else "application/octet-stream"
        extra = {"ContentType": content_type, "Metadata": {"sha256": digest}}
        s3.upload_fileobj(spool, bucket, partial, ExtraArgs=extra)
        try:
            stored = s3.head_object(Bucket=bucket, Key=partial)["ContentLength"]
            if stored != size:
                raise RunwayIncompleteDownloadError(
                    f"s3://{bucket}/{partial} holds {stored} of {size} bytes; the video was not "
                    "published, retry the copy"
                )
            if size < _SINGLE_COPY_LIMIT:  # one request, and its answer names the ETag
                copied = s3.copy_object(Bucket=bucket, Key=key,
                                        CopySource={"Bucket": bucket, "Key": partial},
                                        MetadataDirective="REPLACE", **extra)  # type: ignore[arg-type]  # fmt: skip
                etag = copied.get("CopyObjectResult", {}).get("ETag", "").strip('"')
            else:
                s3.copy({"Bucket": bucket, "Key": partial}, bucket, key,
                        ExtraArgs={**extra, "MetadataDirective": "REPLACE"})  # fmt: skip
                etag = ""
        finally:
            s3.delete_object(Bucket=bucket, Key=partial)
        return etag or None
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:12]}")
    try:
        with partial_path.open("wb") as handle:
            while chunk := spool.read(1 << 20):
                handle.write(chunk)
        os.replace(partial_path, path)  # the final name only ever holds a complete file
    finally:
        partial_path.unlink(missing_ok=True)
    return None


__all__ = [
    "BudgetExceededError",
    "DownloadedOutput",
    "acancel_task",
    "aget_task",
    "asubmit_image_to_video",
    "await_for_tasks",
    "cancel_task",
    "check_budget",
    "download_task_output",
    "estimate_credits",
    "get_task",
    "submit_image_to_video",
    "wait_for_tasks",
]
