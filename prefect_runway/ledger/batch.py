"""Fan-out: submit many images from one event loop, each through the submission engine.

A Prefect task run per image costs more orchestration than a 20 ms POST (see the README's
benchmarks), so a batch runs inside one task run and every image goes through
`prefect_runway.ledger.engine.Engine.submit`: the same keys, ledger and locks as
`submit_image_to_video` and the CLI. A batch and single-image calls therefore share one
ledger, each record is written before and after its POST, and a rerun reads the records
back without fetching any image.

Example:
    ```python
    from prefect_runway import GenerationSettings, sample_image_data_uri
    from prefect_runway.ledger.batch import ImageJob, submit_images

    images = [sample_image_data_uri()]  # https:// URLs, data URIs or runway:// uploads
    rows = await submit_images(creds, GenerationSettings(model="gen4_turbo", ratio="1280:720"),
                               [ImageJob(source=uri, identity=uri, image=uri) for uri in images])
    ```
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterable, Iterable
from typing import Any

from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.models import GenerationSettings
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import ImageRejectedError
from prefect_runway.ledger.engine import Engine, GenerationJob, ImageJob, SubmissionRow
from prefect_runway.ledger.quota import DailyQuota
from prefect_runway.ledger.records import Ledger

__all__ = [
    "GenerationJob", "ImageJob", "ImageRejectedError", "SubmissionRow", "submit_generations",
    "submit_images",
]  # fmt: skip

Job = ImageJob | GenerationJob


async def submit_images(
    credentials: RunwayCredentials,
    settings: GenerationSettings | None,
    jobs: Iterable[Job] | AsyncIterable[Job],
    *,
    concurrency: int = 16,
    ledger: Ledger | None = None,
    client: AsyncRunwayClient | None = None,
    cache_expiration: datetime.timedelta | None = None,
    resubmit: bool = False,
    resubmit_unknown: bool = False,
    quota: DailyQuota | None = None,
) -> list[SubmissionRow]:
    """Submit every job once, `concurrency` at a time, and return one row per job.

    Jobs are consumed lazily, so a generator over 100k S3 objects is never held at once.
    A bad image, a 4xx, an exhausted retry budget or an unreadable record fails its own row,
    never the batch.

    Args:
        credentials: The Runway credentials block.
        settings: Generation settings shared by the image jobs (a job may carry its own);
            None when every job is a `GenerationJob`.
        jobs: The images (`ImageJob`) or generations on any endpoint (`GenerationJob`), as
            an iterable or async iterable.
        concurrency: Submissions in flight at once.
        ledger: Where records live; default: `Ledger.default()`.
        client: An open async client to reuse; default: one from `credentials`.
        cache_expiration: How long records stay valid; default: never expire.
        resubmit: Submit even where a record exists, and replace it (pays again).
        resubmit_unknown: Submit images whose earlier outcome is unknown (flagged
            ``possible_duplicate``; pays again if the earlier task did exist).
        quota: Today's generations left per model; past it, or after the first daily-limit
            answer, images are ``deferred`` (nothing paid; a later run submits them).

    Returns:
        One `SubmissionRow` per job, in the jobs' order.
    """
    own_client = client is None
    client = client or credentials.get_async_client()
    engine = await Engine.create(
        credentials, client, ledger, cache_expiration=cache_expiration, resubmit=resubmit,
        resubmit_unknown=resubmit_unknown, quota=quota or DailyQuota(),
    )  # fmt: skip
    iterator = _aiter(jobs)
    pull = asyncio.Lock()
    rows: list[tuple[int, SubmissionRow]] = []
    counter = 0
    stopped: list[str] = []  # fail fast: a refused key or an unreachable API fails them all

    async def worker() -> None:
        nonlocal counter
        while True:
            async with pull:
                try:
                    job = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                index, counter = counter, counter + 1
            if stopped:  # nothing fetched, nothing sent: a rerun submits it
                rows.append((index, _not_sent(job, settings, stopped[0])))
                continue
            if isinstance(job, GenerationJob):
                row = await engine.submit_generation(job)
            else:
                assert settings is not None, "image jobs need the batch's settings"
                row = await engine.submit(job, settings)
            if row.stops_batch and not stopped:
                stopped.append(row.error or "the API refused the batch")
            rows.append((index, row))

    try:
        await asyncio.gather(*(worker() for _ in range(max(concurrency, 1))))
    finally:
        if own_client:
            await client.aclose()
    return [row for _, row in sorted(rows, key=lambda pair: pair[0])]


def _not_sent(job: Job, settings: GenerationSettings | None, reason: str) -> SubmissionRow:
    if isinstance(job, GenerationJob):
        return SubmissionRow(
            source=job.source, status="failed", endpoint=job.request.endpoint,
            model=job.request.model, stops_batch=True, estimated_credits=0.0,
            error=f"not sent: the batch stopped at the first job because {reason}",
        )  # fmt: skip
    settings = job.settings or settings
    assert settings is not None
    return SubmissionRow(
        source=job.source, status="failed", model=settings.model, ratio=settings.ratio,
        duration=settings.effective_duration, seed=settings.seed, stops_batch=True,
        estimated_credits=0.0,
        error=f"not sent: the batch stopped at the first image because {reason}",
    )  # fmt: skip


async def submit_generations(
    credentials: RunwayCredentials,
    jobs: Iterable[GenerationJob] | AsyncIterable[GenerationJob],
    **options: Any,
) -> list[SubmissionRow]:
    """Submit generations on any endpoints once each: `submit_images` for `GenerationJob`s
    (the same options), one row per job in the jobs' order.

    Example:
        ```python
        from prefect_runway.api.requests import GenerationRequest
        from prefect_runway.ledger.batch import GenerationJob, submit_generations

        prompts = ["a kite", "a lighthouse"]
        jobs = [GenerationJob(source=p, request=GenerationRequest(endpoint="text_to_image",
                body={"model": "gen4_image", "promptText": p, "ratio": "1920:1080"}))
                for p in prompts]
        rows = await submit_generations(creds, jobs)
        ```
    """
    return await submit_images(credentials, None, jobs, **options)


async def _aiter_sync(jobs: Iterable[Job]) -> Any:
    for job in jobs:
        yield job


def _aiter(jobs: Iterable[Job] | AsyncIterable[Job]) -> Any:
    if isinstance(jobs, AsyncIterable):
        return jobs.__aiter__()
    return _aiter_sync(jobs).__aiter__()
