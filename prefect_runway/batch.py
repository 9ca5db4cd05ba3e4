"""Fan-out: submit many images from one event loop, each its own cached, locked unit.

A Prefect task run per image costs more orchestration than a 20 ms POST (see the README's
benchmarks), so a batch runs inside one task run and gives every image its own Prefect
*record* instead, with the protocol of a SERIALIZABLE Prefect transaction (lock, read or
submit, persist, unlock) on the same cache key, result store, lock manager and JSON record
as `submit_image_to_video`. A batch and single-image calls therefore share one cache, each
record is written the moment its submission returns (a crash loses no task ID), and a rerun
reads the records back without fetching any image.

Example:
    ```python
    from prefect_runway.batch import ImageJob, submit_images
    from prefect_runway.models import GenerationSettings

    rows = await submit_images(creds, GenerationSettings(model="gen4_turbo", ratio="1280:720"),
                               [ImageJob(source=url, identity=url, image=url) for url in urls])
    ```
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from prefect.filesystems import LocalFileSystem
from prefect.logging import get_logger
from prefect.results import ResultStore, get_result_store
from prefect.types._datetime import now
from pydantic import BaseModel, ValidationError

from prefect_runway.caching import SubmissionLockManager, submission_key
from prefect_runway.client import AsyncRunwayClient
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.models import GenerationSettings, PromptImage, SubmittedTask

ImageResolver = Callable[[AsyncRunwayClient], Awaitable["str | list[PromptImage]"]]

logger = get_logger("prefect_runway.batch")
_T = TypeVar("_T")


class ImageRejectedError(ValueError):
    """An input that cannot become a generation (not an image, empty, too large...).

    Reported in the batch's rows; nothing is submitted for it and the batch goes on.
    """


@dataclass(frozen=True)
class ImageJob:
    """One image of a batch.

    Attributes:
        source: What a person sees in artifacts, e.g. ``s3://bucket/key`` (no secrets).
        identity: The stable identity in the cache key, e.g. ``s3://bucket/key#etag``.
        image: The prompt image, or an async function building it from the client (called
            on a cache miss only, so a rerun fetches nothing).
        settings: Per-image settings; the batch's settings when None.
    """

    source: str
    identity: str
    image: str | list[PromptImage] | ImageResolver
    settings: GenerationSettings | None = None


class SubmissionRow(BaseModel):
    """The outcome of one image: what the artifacts and manifests show."""

    source: str
    status: Literal["submitted", "cached", "rejected", "failed"]
    task_id: str | None = None
    model: str | None = None
    ratio: str | None = None
    duration: int | None = None
    seed: int | None = None
    estimated_credits: float | None = None
    transport: str | None = None
    possible_duplicate: bool = False
    error: str | None = None
    cache_key: str | None = None

    @property
    def cache_hit(self) -> bool:
        """True when the image had been submitted before and was not submitted again."""
        return self.status == "cached"


async def submission_store(result_storage: Any = None) -> ResultStore:
    """The result store `submit_image_to_video` uses (its storage, serializer and locks)."""
    from prefect_runway.tasks import asubmit_image_to_video

    task = asubmit_image_to_video
    if result_storage is not None:
        task = task.with_options(result_storage=result_storage)
    store = await get_result_store().aupdate_for_task(task)
    # Records are read back from storage; keeping each one in memory too would grow with N.
    return store.model_copy(update={"cache_result_in_memory": False})


async def cached_submission(store: ResultStore, key: str) -> SubmittedTask | None:
    """The submission recorded under `key`, or None (no lock taken)."""
    return await _io(store, _read, store, key, None)


async def submit_images(
    credentials: RunwayCredentials,
    settings: GenerationSettings,
    jobs: Iterable[ImageJob] | AsyncIterable[ImageJob],
    *,
    concurrency: int = 16,
    store: ResultStore | None = None,
    client: AsyncRunwayClient | None = None,
    cache_expiration: datetime.timedelta | None = None,
    refresh: bool = False,
) -> list[SubmissionRow]:
    """Submit every job once, `concurrency` at a time, and return one row per job.

    Jobs are consumed lazily, so a generator over 100k S3 objects is never held at once.
    A bad image, a 4xx or an exhausted retry budget fails its own row, never the batch.

    Args:
        credentials: The Runway credentials block.
        settings: Generation settings shared by the jobs (a job may carry its own).
        jobs: The images, as an iterable or async iterable of `ImageJob`.
        concurrency: Submissions in flight at once.
        store: Result store; default: `submission_store()`.
        client: An open async client to reuse; default: one from `credentials`.
        cache_expiration: How long records stay valid; default: never expire.
        refresh: Submit even where a record exists, and replace it (pays again).

    Returns:
        One `SubmissionRow` per job, in the jobs' order.
    """
    store = store or await submission_store()
    fingerprint = credentials.account_fingerprint
    own_client = client is None
    client = client or credentials.get_async_client()
    iterator = _aiter(jobs)
    pull = asyncio.Lock()
    rows: list[tuple[int, SubmissionRow]] = []
    counter = 0

    async def worker() -> None:
        nonlocal counter
        while True:
            async with pull:
                try:
                    job = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                index, counter = counter, counter + 1
            row = await _submit_one(
                client, store, fingerprint, settings, job, cache_expiration, refresh
            )
            rows.append((index, row))

    try:
        await asyncio.gather(*(worker() for _ in range(max(concurrency, 1))))
    finally:
        if own_client:
            await client.aclose()
    return [row for _, row in sorted(rows, key=lambda pair: pair[0])]


async def _submit_one(
    client: AsyncRunwayClient,
    store: ResultStore,
    fingerprint: str,
    batch_settings: GenerationSettings,
    job: ImageJob,
    cache_expiration: datetime.timedelta | None,
    refresh: bool = False,
) -> SubmissionRow:
    settings = job.settings or batch_settings
    key = submission_key(fingerprint, settings, job.identity)
    row: dict[str, Any] = {
        "source": job.source,
        "model": settings.model,
        "ratio": settings.ratio,
        "duration": settings.effective_duration,
        "seed": settings.seed,
        "estimated_credits": settings.estimated_credits(),
        "cache_key": key,
    }
    holder = uuid.uuid4().hex
    try:
        # The same protocol as a Prefect transaction with SERIALIZABLE isolation (lock, read
        # or run, persist, unlock) on the same store and key as `submit_image_to_video`.
        earlier = await _io(store, _lock_and_read, store, key, holder)
        if earlier is None and not store.is_lock_holder(key, holder):
            await store.aacquire_lock(key, holder=holder)  # another run holds it: wait
            earlier = await _io(store, _read, store, key, holder)
        try:
            if earlier is not None and not refresh:
                return SubmissionRow(status="cached", task_id=earlier.id, **row)
            image = job.image if isinstance(job.image, (str, list)) else await job.image(client)
            request = settings.for_image(image)
            submitted = await client.image_to_video(request)
            submitted = submitted.model_copy(update={"request_fingerprint": key})
            expiration = now("UTC") + cache_expiration if cache_expiration else None
            record = store.create_result_record(
                submitted, key=key, expiration=expiration  # type: ignore[arg-type]
            )
            await _io(store, store.persist_result_record, record, holder)
        finally:
            if store.is_lock_holder(key, holder):
                store.release_lock(key, holder)
    except ImageRejectedError as exc:
        return SubmissionRow(status="rejected", error=str(exc), **row)
    except ValidationError as exc:
        message = "; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors())
        return SubmissionRow(status="rejected", error=message, **row)
    except Exception as exc:  # one image never sinks the batch: report it on its row
        return SubmissionRow(status="failed", error=f"{type(exc).__name__}: {exc}", **row)
    if submitted.lost_responses:
        logger.warning(
            "%s: Runway task %s created after %d lost response(s); a duplicate may exist.",
            job.source,
            submitted.id,
            submitted.lost_responses,
        )
    return SubmissionRow(
        status="submitted",
        task_id=submitted.id,
        transport=_transport_of(image),
        possible_duplicate=bool(submitted.lost_responses),
        **row,
    )


async def _io(store: ResultStore, call: Callable[..., _T], *args: Any) -> _T:
    """Local storage: call inline (a few small file calls cost less than a thread hop);
    remote storage (an S3 bucket block...): in a worker thread, never blocking the loop."""
    if isinstance(store.result_storage, LocalFileSystem):
        return call(*args)
    return await asyncio.to_thread(call, *args)


def _lock_and_read(store: ResultStore, key: str, holder: str) -> SubmittedTask | None:
    """Take the key's lock if it is free (never waits), then read its record; else None."""
    manager = store.lock_manager
    if isinstance(manager, SubmissionLockManager):
        acquired = manager.try_acquire(key, holder)
    else:
        acquired = store.acquire_lock(key, holder=holder, timeout=0)
    return _read(store, key, holder) if acquired else None


def _read(store: ResultStore, key: str, holder: str | None) -> SubmittedTask | None:
    if not store.exists(key):
        return None
    result = store.read(key, holder=holder).result
    return result if isinstance(result, SubmittedTask) else None


def _transport_of(image: str | list[PromptImage]) -> str:
    first = image if isinstance(image, str) else image[0].uri
    if first.startswith("data:"):
        return "data_uri"
    return "upload" if first.startswith("runway://") else "url"


async def _aiter_sync(jobs: Iterable[ImageJob]) -> Any:
    for job in jobs:
        yield job


def _aiter(jobs: Iterable[ImageJob] | AsyncIterable[ImageJob]) -> Any:
    if isinstance(jobs, AsyncIterable):
        return jobs.__aiter__()
    return _aiter_sync(jobs).__aiter__()
