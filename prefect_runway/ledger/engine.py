"""The submission engine: every paid call (task, fan-out, CLI) goes through `Engine.submit`.

One image, one protocol, written like a payment ledger:

1. **Look**: read the image's record (no lock). A ``submitted`` record answers at once: a
   rerun fetches no image and pays nothing. A record that cannot be read fails the image
   (fail closed), never counts as "no record".
2. **Prepare** the image (download, upload) *before* the lock, so slow work never holds it.
3. **Lock** the key (`prefect_runway.ledger.locks`, renewed while held) and read the record again:
   another run may have paid meanwhile.
4. **Intent**: write an ``intent`` record. If it cannot be written, nothing is POSTed.
5. **POST** with the client's transient retries (the one retry policy of every path).
6. **Outcome**: write the task ID atomically, with retries. If that fails, the task ID is
   still on the row, in an ERROR log line, and the run fails loudly.
7. Unlock.

Unknown outcomes (an answer lost and the retries then failed, or an intent found without an
outcome after a crash) are a state of their own: the row says ``unknown``, a WARNING says
why, and nothing is paid again until the caller asks for it (``resubmit_unknown=True``),
in which case the new task is flagged ``possible_duplicate`` (in the ledger too, so later runs
keep saying so). Whether a POST created a task is read from the evidence the client classified
(`prefect_runway.errors.create_outcome`): only a POST that certainly created nothing (the API
refused it, or nothing was sent, whatever the exception's type) removes its intent; every
other failure leaves an ``unknown`` record. Releasing the lock never changes a row: a paid
image stays paid when the lock service fails at the end.

Prefect's transactions are not used here: their `ResultStore` reads fail open and their
records are written without an intent, which is exactly what a paid call cannot afford (see
`prefect_runway.ledger.records`). The protocol above is the transaction, on the same keys.

Example:
    ```python
    from prefect_runway import GenerationSettings, sample_image_data_uri
    from prefect_runway.ledger.engine import Engine, ImageJob

    image = sample_image_data_uri()
    settings = GenerationSettings(model="gen4_turbo", ratio="1280:720")
    async with creds.get_async_client() as client:
        engine = await Engine.create(creds, client)
        row = await engine.submit(ImageJob(source="cat", identity=image, image=image), settings)
        print(row.status, row.task_id)
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from prefect.logging import get_logger
from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from prefect_runway import settings as config
from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.models import (
    GenerationSettings,
    ImageToVideoRequest,
    PromptImage,
    SubmittedTask,
)
from prefect_runway.api.requests import IMAGE_TO_VIDEO, GenerationRequest
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import (
    CreateOutcome,
    ImageRejectedError,
    InputRejectedError,
    RecordConflictError,
    RecordError,
    RecordWriteError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayDailyLimitError,
    RunwayError,
    RunwayUnknownOutcomeError,
    create_outcome,
    validation_messages,
)
from prefect_runway.ledger.budget import BudgetRefused, Reservation, SharedBudget, counters_for
from prefect_runway.ledger.keys import (
    generation_fields,
    generation_key,
    image_request_identity,
    input_identities,
    request_fields,
    submission_key,
)
from prefect_runway.ledger.locks import (
    DEFAULT_HOLD_TIMEOUT,
    RenewableLockManager,
    SubmissionLockManager,
)
from prefect_runway.ledger.quota import DailyQuota
from prefect_runway.ledger.records import Ledger, SubmissionRecord, TaskAttempt
from prefect_runway.runlog import log as run_log

ImageResolver = Callable[[AsyncRunwayClient], Awaitable["str | list[PromptImage]"]]
RowStatus = Literal[
    "submitted", "cached", "rejected", "failed", "unknown", "unrecorded", "deferred"
]

module_logger = get_logger("prefect_runway.ledger.engine")


@dataclass(frozen=True)
class ImageJob:
    """One image to submit.

    Attributes:
        source: What a person sees in artifacts, e.g. ``s3://bucket/key`` (no secrets).
        identity: The stable identity in the cache key, e.g. ``s3://bucket/key#etag``.
        image: The prompt image, or an async function building it from the client (called
            only when the image is to be submitted, so a rerun fetches nothing).
        settings: Per-image settings; the batch's settings when None.
    """

    source: str
    identity: str
    image: str | list[PromptImage] | ImageResolver
    settings: GenerationSettings | None = None


@dataclass(frozen=True)
class GenerationJob:
    """One generation on any task endpoint.

    Attributes:
        source: What a person sees in artifacts (a table line, an S3 URI; no secrets).
        request: The request as written, its inputs as given (``s3://`` URIs included): the
            key covers it.
        identities: Stable identities of inputs by path in the body (``promptImage``,
            ``videoUri``, ``references.0.uri``) where the URI is not one, e.g.
            ``s3://bucket/key#etag``; the others are derived (`keys.asset_identity`).
        prepare: An async function building the request to send from the client (presigned
            URLs, uploads), called only when the job is to be paid; None: `request` as is.
    """

    source: str
    request: GenerationRequest
    identities: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[AsyncRunwayClient], Awaitable[GenerationRequest]] | None = None


@dataclass
class _Work:
    """What the protocol needs of one paid call, whichever endpoint it is."""

    key: str
    source: str
    identity: str
    model: str
    fields: dict[str, Any]
    prepare: Callable[[], Awaitable[Any]]
    post: Callable[[Any], Awaitable[SubmittedTask]]


class SubmissionRow(BaseModel):
    """The outcome of one image: what the artifacts and manifests show.

    Statuses: ``submitted`` (paid now), ``cached`` (paid before, not again), ``rejected``
    (unusable input, nothing paid), ``failed`` (the API or the ledger refused, nothing
    paid), ``unknown`` (a task may exist: held until ``resubmit_unknown``), ``unrecorded``
    (paid now, task ID on this row, but its record could not be written) and ``deferred``
    (the daily generation limit is reached: nothing paid, submitted by a later run).
    """

    source: str
    status: RowStatus
    task_id: str | None = None
    model: str | None = None
    ratio: str | None = None
    duration: int | None = None
    seed: int | None = None
    estimated_credits: float | None = None
    transport: str | None = None
    possible_duplicate: bool = False
    lost_responses: int = 0
    error: str | None = None
    cache_key: str | None = None
    history: list[TaskAttempt] = Field(default_factory=list)
    """Every task the ledger's record of `cache_key` knows, oldest first (this row's task
    included once it has one): the manifest lists each as a generation, so no later run,
    setting or lost manifest write hides a paid task ID."""
    endpoint: str = "image_to_video"
    """The task endpoint (`prefect_runway.api.requests.ENDPOINT_NAMES`)."""
    prompt_sha256: str | None = None
    """SHA-256 hex of the request's ``promptText`` (`prompt_digest`): which prompt, never the
    prompt itself."""
    stops_batch: bool = False
    """True when the failure would fail every other image too (the key was refused, or the
    API cannot be reached): a batch stops at the first such row (`prefect_runway.ledger.batch`)."""
    _task: SubmittedTask | None = PrivateAttr(default=None)
    _exception: BaseException | None = PrivateAttr(default=None)

    @property
    def cache_hit(self) -> bool:
        """True when the image had been submitted before and was not submitted again."""
        return self.status == "cached"

    @property
    def paid(self) -> bool:
        """True when this run created a Runway task (recorded or not)."""
        return self.status in ("submitted", "unrecorded")

    @property
    def task(self) -> SubmittedTask | None:
        """The task this row stands for (submitted now, or the cached one), with its
        ``request_fingerprint`` set; None when no task is known."""
        return self._task

    @property
    def exception(self) -> BaseException | None:
        """The exception that ended the row (``failed``, ``rejected``, ``unknown``,
        ``unrecorded``), or None; `error` is its message."""
        return self._exception

    def raise_for_status(self) -> SubmittedTask:
        """The row's task; without one, raise the row's exception (a `RunwayError` with
        `error` as its message when the row holds none).

        An ``unrecorded`` row has its task and returns it: check `status` to fail on it.

        Example:
            ```python
            from prefect_runway import sample_image_data_uri

            image = sample_image_data_uri()
            async with creds.get_async_client() as client:
                engine = await Engine.create(creds, client)
                row = await engine.submit(ImageJob("cat", image, image), settings)
            print(row.raise_for_status().id)  # or the row's error, raised
            ```
        """
        if self._task is None:
            raise self._exception or RunwayError(self.error or "submission failed")
        return self._task


@dataclass
class Engine:
    """The once-only protocol, bound to one client, ledger and lock manager.

    Args:
        client: An open async client.
        account: The account fingerprint in keys (`RunwayCredentials.account_fingerprint`).
        ledger: Where records live; default `Ledger.default()`.
        locks: A `RenewableLockManager` (renewed while held); `Engine.create`'s default:
            the one ``PREFECT_RUNWAY_LOCKS`` selects (`prefect_runway.settings`), file locks
            when unset.
        resubmit: Pay again for every image, even recorded ones (replacing their records).
        resubmit_unknown: Pay again for images whose outcome is unknown (flagged
            ``possible_duplicate``).
        cache_expiration: How long ``submitted`` records count; None: for ever.
        hold_timeout: Seconds a lock lives without renewal (renewed every third of it).
        quota: Today's generations left (daily limits); None: no limit known.
        budget: The account's budget shared with every run through the lock store
            (`prefect_runway.ledger.budget`): each POST first reserves one generation of
            each model `quota` knows a limit of (sized from a fresh read of the organization
            endpoint) and, with a monthly figure, its estimated credits. `Engine.create`'s
            default: on the lock manager's store, with ``monthly_budget_credits`` (default
            ``PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS``); None: nothing shared.
    """

    client: AsyncRunwayClient
    account: str
    ledger: Ledger
    locks: RenewableLockManager = field(default_factory=SubmissionLockManager)
    resubmit: bool = False
    resubmit_unknown: bool = False
    cache_expiration: timedelta | None = None
    hold_timeout: float = DEFAULT_HOLD_TIMEOUT
    flow_run_id: str | None = None
    quota: DailyQuota = field(default_factory=DailyQuota)
    budget: SharedBudget | None = None
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    @classmethod
    async def create(
        cls,
        credentials: RunwayCredentials,
        client: AsyncRunwayClient,
        ledger: Ledger | None = None,
        **options: Any,
    ) -> Engine:
        """An engine for `credentials`: the ledger, lock manager and lock timeout that the
        settings select (`prefect_runway.settings`), unless given."""
        if "locks" not in options:
            options["locks"] = config.lock_manager()
        options.setdefault("hold_timeout", config.lock_timeout())
        monthly = options.pop("monthly_budget_credits", None)
        if monthly is None:
            monthly = config.monthly_budget_credits()
        counters = counters_for(options["locks"])
        if "budget" not in options and counters is not None:
            options["budget"] = SharedBudget(
                counters, credentials.account_fingerprint, monthly_credits=monthly
            )
        return cls(
            client=client,
            account=credentials.account_fingerprint,
            ledger=ledger or await Ledger.default(),
            flow_run_id=options.pop("flow_run_id", None) or _flow_run_id(),
            **options,
        )

    def key(self, settings: GenerationSettings, identity: str) -> str:
        """The cache key of `identity` submitted with `settings` on this account."""
        return submission_key(self.account, settings, identity)

    async def submit(self, job: ImageJob, settings: GenerationSettings) -> SubmissionRow:
        """Submit `job` at most once; never raises for one image's failure (see the row)."""
        settings = job.settings or settings
        key = self.key(settings, job.identity)
        row = SubmissionRow(
            source=job.source,
            status="failed",
            model=settings.model,
            ratio=settings.ratio,
            duration=settings.effective_duration,
            seed=settings.seed,
            estimated_credits=settings.estimated_credits(),
            cache_key=key,
            prompt_sha256=prompt_digest(settings.prompt_text),
        )

        async def prepare() -> ImageToVideoRequest:
            return settings.for_image(await self._prepare(job, key, settings))

        work = _Work(
            key=key, source=job.source, identity=job.identity, model=settings.model,
            fields=request_fields(settings), prepare=prepare, post=self.client.image_to_video,
        )  # fmt: skip
        return await self._run(work, row)

    async def submit_generation(self, job: GenerationJob) -> SubmissionRow:
        """Submit `job` (any endpoint) at most once; never raises for one job's failure.

        An image_to_video request takes the same path, key and record as `submit`.
        """
        request = job.request
        if request.endpoint == IMAGE_TO_VIDEO:
            return await self._submit_image_request(job)
        key = generation_key(self.account, request, job.identities)
        body = request.body
        row = SubmissionRow(
            source=job.source,
            status="failed",
            endpoint=request.endpoint,
            model=request.model,
            ratio=body.get("ratio") if isinstance(body.get("ratio"), str) else None,
            duration=body.get("duration") if type(body.get("duration")) is int else None,
            seed=body.get("seed") if type(body.get("seed")) is int else None,
            cache_key=key,
            prompt_sha256=prompt_digest(body.get("promptText") or _nested(body, "promptText")),
        )
        fields = generation_fields(request, job.identities)

        async def prepare() -> GenerationRequest:
            return await job.prepare(self.client) if job.prepare is not None else request

        work = _Work(
            key=key, source=job.source, identity=_identity_of(request, job.identities),
            model=request.model, fields=fields, prepare=prepare, post=self.client.create_task,
        )  # fmt: skip
        return await self._run(work, row)

    async def _submit_image_request(self, job: GenerationJob) -> SubmissionRow:
        """An image_to_video `GenerationJob` as the `ImageJob` it is: `submit`'s key (the
        one `generation_key` gives it), record and checks."""
        identity = image_request_identity(
            job.request, input_identities(job.request, job.identities)
        )

        async def image(client: AsyncRunwayClient) -> str | list[PromptImage]:
            request = job.request if job.prepare is None else await job.prepare(client)
            try:
                return request.image_to_video().prompt_image
            except ValueError as exc:  # e.g. an s3:// input nobody resolved
                raise ImageRejectedError(f"{job.source}: {exc}", permanent=False) from None

        image_job = ImageJob(source=job.source, identity=identity, image=image)
        return await self.submit(image_job, job.request.image_settings().settings())

    async def _run(self, work: _Work, row: SubmissionRow) -> SubmissionRow:
        try:
            return await self._submit(work, row)
        except InputRejectedError as exc:  # an image, a video or audio that cannot be used
            row.estimated_credits = None  # nothing will be paid for it
            return _ended(row, "rejected", str(exc), exc)
        except ValidationError as exc:
            row.estimated_credits = None
            message = "; ".join(validation_messages(exc))
            return _ended(row, "rejected", message, exc)
        except RunwayUnknownOutcomeError as exc:
            log(logging.WARNING, "%s: %s", work.source, exc)
            row.possible_duplicate = True
            row.lost_responses = exc.lost_responses
            return _ended(row, "unknown", str(exc), exc)
        except Exception as exc:  # one image never sinks the batch: report it on its row
            row.stops_batch = isinstance(exc, (RunwayAuthenticationError, RunwayConnectionError))
            row.estimated_credits = 0.0  # a failed row created nothing (see the outcome table)
            return _ended(row, "failed", f"{type(exc).__name__}: {exc}", exc)

    async def _submit(self, work: _Work, row: SubmissionRow) -> SubmissionRow:
        key, model = work.key, work.model
        earlier = await self.ledger.read(key)
        row.history = _history(earlier)
        if earlier is not None and self._answered(earlier):
            return _cached(row, earlier)
        if earlier is not None and earlier.state == "rejected" and not self.resubmit:
            raise ImageRejectedError(earlier.error or "rejected by an earlier run")
        if not self.quota.open(model):
            return _deferred(row, self.quota.why(model))  # before any download
        request = None
        if earlier is None or earlier.state == "rejected" or self.resubmit:
            request = await work.prepare()  # outside the lock: downloads, uploads
        holder = uuid.uuid4().hex
        await self.locks.aacquire_lock(key, holder, hold_timeout=self.hold_timeout)
        lost_lock = asyncio.Event()
        renewal = asyncio.create_task(self._renew(key, holder, lost_lock))
        try:
            earlier = await self.ledger.read(key)  # under the lock: another run may have paid
            row.history = _history(earlier)
            if earlier is not None and self._answered(earlier):
                return _cached(row, earlier)
            if earlier is not None and earlier.state == "rejected" and not self.resubmit:
                raise ImageRejectedError(earlier.error or "rejected by an earlier run")
            unknown = earlier is not None and earlier.state in ("intent", "unknown")
            if earlier is not None and unknown and not (self.resubmit or self.resubmit_unknown):
                raise _unknown(key, earlier, self.ledger)
            if request is None:
                request = await work.prepare()
            row.transport = _transport_of(request)
            if lost_lock.is_set():
                raise RecordConflictError(f"The lock on {key} was lost; nothing was submitted.")
            if not self.quota.take(model):
                return _deferred(row, self.quota.why(model))
            try:
                held = await self._reserve(model, row.estimated_credits)
            except BudgetRefused as exc:
                self.quota.give_back(model)
                if exc.daily:
                    self.quota.close(model, str(exc))
                return _deferred(row, str(exc))
            except BaseException:
                self.quota.give_back(model)
                raise
            intent = SubmissionRecord(
                key=key,
                state="intent",
                source=work.source,
                identity=work.identity,
                request=work.fields,
                flow_run_id=self.flow_run_id,
                history=_history(earlier),
            )
            try:
                await self._write_intent(intent, earlier)
                submitted = await self._post(work, request, intent, earlier)
            except RunwayDailyLimitError as exc:
                self._give_back(model, held)
                self.quota.close(model, f"daily generation limit reached: {exc}")
                return _deferred(row, self.quota.why(model))
            except RunwayUnknownOutcomeError:
                self._settle(held, created=True)  # a task may exist: it stays counted
                raise
            except Exception:  # certainly nothing created; a cancellation mid-POST is no
                # Exception: its generation and reservation stay taken, as a task may exist
                self._give_back(model, held)
                raise
            self._settle(held, created=True)
            row.possible_duplicate = unknown or bool(submitted.lost_responses)
            before = earlier.lost_responses if earlier else 0
            row.lost_responses = submitted.lost_responses + before
            return await self._record(row, intent, submitted)
        finally:
            renewal.cancel()
            self._release(key, holder)

    async def _reserve(self, model: str, credits: float | None) -> Reservation | None:
        """Reserve this POST's share of the account's budget (None: nothing shared). The
        first reservation of a model with a known daily limit sizes it: the shared count's
        settled figure, then a fresh read of the organization endpoint.

        Raises:
            BudgetRefused: nothing left for it (the row is deferred).
            BudgetStoreError: the shared store failed (fail closed).
        """
        budget = self.budget
        if budget is None:
            return None
        if self.quota.knows(model) and not budget.is_open(model):
            async with self._opening:
                if not budget.is_open(model):
                    settled = await asyncio.to_thread(budget.settled, model)
                    try:
                        org = await self.client.organization()
                    except Exception as exc:
                        raise RunwayError(
                            f"Cannot read the organization endpoint to size the account's "
                            f"shared daily quota of {model} ({type(exc).__name__}: {exc}); "
                            "nothing was submitted. Rerun when the API answers."
                        ) from None
                    budget.open_daily(model, settled, org.remaining_daily(model))
        return await asyncio.to_thread(budget.reserve, model, credits)

    def _settle(self, held: Reservation | None, created: bool) -> None:
        if held is not None and self.budget is not None:
            self.budget.settle(held, created)

    def _give_back(self, model: str, held: Reservation | None) -> None:
        self.quota.give_back(model)
        self._settle(held, created=False)

    def _answered(self, record: SubmissionRecord) -> bool:
        return record.state == "submitted" and not record.expired and not self.resubmit

    async def _prepare(
        self, job: ImageJob, key: str, settings: GenerationSettings
    ) -> str | list[PromptImage]:
        if isinstance(job.image, (str, list)):
            return job.image
        try:
            return await job.image(self.client)
        except ImageRejectedError as exc:
            if exc.permanent:  # remembered, so a rerun does not fetch these bytes again
                record = SubmissionRecord(
                    key=key, state="rejected", source=job.source, identity=job.identity,
                    request=request_fields(settings), flow_run_id=self.flow_run_id,
                    error=str(exc),
                )  # fmt: skip
                try:
                    await self.ledger.create(record)
                except RecordError:
                    pass  # only an optimisation: the image is rejected either way
            raise

    async def _write_intent(
        self, intent: SubmissionRecord, earlier: SubmissionRecord | None
    ) -> None:
        """Write `intent` only over what was read under the lock: created where no record
        was, else replacing `earlier` only if the stored record is still the version read
        (S3 ``If-Match`` on its ETag; local files: compare-and-rename under a ``flock``).

        Raises:
            RecordConflictError: another runner wrote the record since it was read (a second
                host, or a lock that expired while this run was stalled); nothing is POSTed.
            RecordWriteError: the intent could not be written; nothing is POSTed.
        """
        try:
            if earlier is None:
                await self.ledger.create(intent)
            else:
                await self.ledger.replace_if(intent, earlier)
        except RecordConflictError:
            # Another runner got there between our read and our write: trust its record.
            raise RecordConflictError(
                f"Another runner wrote the record {self.ledger.where(intent.key)} after this "
                "run read it (a second host, or this run's lock expired); nothing was "
                "submitted for this image. Rerun: the record it wrote will be read."
            ) from None
        except RecordWriteError as exc:
            message = f"{exc}; the intent was not written, so nothing was submitted"
            raise RecordWriteError(message) from None

    async def _post(
        self, work: _Work, request: Any, intent: SubmissionRecord, earlier: SubmissionRecord | None
    ) -> SubmittedTask:
        try:
            return await work.post(request)
        except Exception as exc:
            if create_outcome(exc) is CreateOutcome.NOT_CREATED:
                await self._undo_intent(intent.key, earlier)  # whatever the exception's type
                raise
            lost = max(getattr(exc, "lost_responses", 0) or 0, 1)
            error = str(exc) if isinstance(exc, RunwayError) else f"{type(exc).__name__}: {exc}"
            unknown = intent.model_copy(
                update={
                    "state": "unknown",
                    "lost_responses": lost,
                    "possible_duplicate": True,
                    "error": error,
                    "answer": getattr(exc, "answer", None),
                    "written_at": datetime.now(timezone.utc),
                }
            )
            try:
                await self.ledger.replace(unknown)
            except RecordError:
                pass  # the intent stays: a rerun sees an unknown outcome all the same
            raise _unknown(intent.key, unknown, self.ledger) from None

    async def _undo_intent(self, key: str, earlier: SubmissionRecord | None) -> None:
        """The POST certainly created nothing: put the ledger back as it was."""
        try:
            if earlier is None:
                await self.ledger.delete(key)
            else:
                await self.ledger.replace(earlier)
        except RecordError as exc:
            log(logging.WARNING, "%s; a rerun will report this image's outcome as unknown", exc)

    async def _record(
        self, row: SubmissionRow, intent: SubmissionRecord, submitted: SubmittedTask
    ) -> SubmissionRow:
        submitted = submitted.model_copy(update={"request_fingerprint": intent.key})
        row._task = submitted
        row.task_id = submitted.id
        if submitted.estimated_credits is not None:
            row.estimated_credits = submitted.estimated_credits  # the API's own figure
        if row.possible_duplicate:
            log(
                logging.WARNING,
                "%s: Runway task %s created after %d lost answer(s) or an unknown earlier "
                "outcome; a duplicate (paid) task may exist.",
                row.source, submitted.id, row.lost_responses,
            )  # fmt: skip
        outcome = intent.model_copy(
            update={
                "state": "submitted",
                "task": submitted,
                "lost_responses": row.lost_responses,
                "possible_duplicate": row.possible_duplicate,
                "transport": row.transport,
                "history": intent.with_attempt(
                    submitted,
                    possible_duplicate=row.possible_duplicate,
                    lost_responses=submitted.lost_responses,
                ),  # every earlier task of this key stays in it: a ledger never forgets
                "written_at": datetime.now(timezone.utc),
                "expires_at": (
                    datetime.now(timezone.utc) + self.cache_expiration
                    if self.cache_expiration
                    else None
                ),
            }
        )
        row.history = outcome.history  # kept on the row even if the write below fails
        try:
            await self.ledger.replace(outcome)
        except RecordWriteError as exc:
            log(
                logging.ERROR,
                "%s: Runway task %s was created but its record could not be written (%s). "
                "Keep this task ID: the ledger holds only the intent, so a rerun reports the "
                "image as 'unknown' and does not pay again.",
                row.source, submitted.id, exc,
            )  # fmt: skip
            row.status = "unrecorded"
            row.error = f"task {submitted.id} created; its record was not written: {exc}"
            row._exception = exc
            return row
        row.status = "submitted"
        return row

    async def _renew(self, key: str, holder: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self.hold_timeout / 3)
            try:
                still_ours = self.locks.renew_lock(key, holder, self.hold_timeout)
            except Exception:  # a storage hiccup: try again at the next tick
                continue
            if not still_ours:
                lost.set()
                return

    def _release(self, key: str, holder: str) -> None:
        """Release the lock; never raises, so a paid row keeps its status (the record, not
        the lock, guards the image from now on)."""
        try:
            self.locks.release_lock(key, holder)
        except ValueError as exc:  # taken over after expiring: the record still guards it
            log(logging.WARNING, "%s", exc)
        except Exception as exc:  # e.g. Redis unreachable: the lock expires on its own
            log(
                logging.WARNING,
                "Could not release the lock on %s (%s: %s); it expires within %g s. The "
                "ledger, not the lock, guards the image: its outcome stands as reported.",
                key, type(exc).__name__, exc, self.hold_timeout,
            )  # fmt: skip


def _cached(row: SubmissionRow, record: SubmissionRecord) -> SubmissionRow:
    assert record.task is not None
    row.status = "cached"
    row.task_id = record.task.id
    row.possible_duplicate = record.possible_duplicate or record.lost_responses > 0
    row.lost_responses = record.lost_responses
    if record.task.estimated_credits is not None:
        row.estimated_credits = record.task.estimated_credits
    row.transport = record.transport  # None for records older than the field: kept as is
    row._task = record.task
    return row


def _history(earlier: SubmissionRecord | None) -> list[TaskAttempt]:
    """The tasks an earlier record of the key holds, carried into the next one (an intent
    over an expired, unknown or resubmitted record), so no paid task ID is ever dropped."""
    return earlier.attempts if earlier is not None else []


def _deferred(row: SubmissionRow, reason: str) -> SubmissionRow:
    row.status = "deferred"
    row.error = reason
    row.estimated_credits = None  # nothing paid in this run
    return row


def _ended(row: SubmissionRow, status: RowStatus, error: str, exc: BaseException) -> SubmissionRow:
    row.status = status
    row.error = error
    row._exception = exc
    return row


def _unknown(key: str, record: SubmissionRecord, ledger: Ledger) -> RunwayUnknownOutcomeError:
    why = (
        f"its answer was lost or carried no task ID ({record.error})"
        if record.state == "unknown"
        else "a run stopped between submitting it and recording the answer"
    )
    return RunwayUnknownOutcomeError(
        f"A Runway task may exist for this image: {why}. Not submitted again. Check the "
        "Runway dashboard, then rerun with resubmit_unknown=True (CLI: --resubmit-unknown) to "
        f"pay again, or leave it. Record: {ledger.where(key)}",
        key=key,
        lost_responses=record.lost_responses,
    )


def _transport_of(request: ImageToVideoRequest | GenerationRequest) -> str | None:
    """How the inputs travelled: ``data_uri``, ``upload`` or ``url`` (the first input's way
    for image-to-video; every input's when they agree, else ``mixed``); None without inputs."""
    if isinstance(request, ImageToVideoRequest):
        image = request.prompt_image
        uris = [image if isinstance(image, str) else image[0].uri]
    else:
        uris = [uri for _, uri in request.assets()]
    ways = {
        "data_uri"
        if uri.startswith("data:")
        else "upload"
        if uri.startswith("runway://")
        else "url"
        for uri in uris
    }
    return None if not ways else ways.pop() if len(ways) == 1 else "mixed"


def _identity_of(request: GenerationRequest, identities: Mapping[str, str]) -> str:
    """The record's `identity` of a generation: its inputs' identities, by path."""
    assets = input_identities(request, identities)
    return "|".join(f"{path}={identity}" for path, identity in assets.items()) or request.endpoint


def prompt_digest(prompt: Any) -> str | None:
    """SHA-256 hex of a prompt's UTF-8 text; None without one. It tells which rows share a
    prompt without showing it (a short, guessable prompt can still be guessed).

    Example:
        >>> prompt_digest("a cat dances")[:12], prompt_digest(None)
        ('2ab8b2e85ad1', None)
    """
    if not isinstance(prompt, str) or not prompt:
        return None
    return hashlib.sha256(prompt.encode()).hexdigest()


def _nested(body: Mapping[str, Any], name: str) -> Any:
    """A field of the Model Router's ``input`` object."""
    inner = body.get("input")
    return inner.get(name) if isinstance(inner, Mapping) else None


def _flow_run_id() -> str | None:
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return str(context.flow_run.id) if context and context.flow_run else None


def log(level: int, message: str, *args: Any) -> None:
    """Log to the current Prefect run's logger when there is one, else this module's."""
    run_log(module_logger, level, message, *args)
