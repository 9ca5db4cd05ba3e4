"""Every error this package raises, in one tree under `PrefectRunwayError`.

Every message says what happened and what to do; none holds the API key or a presigned URL's
query string.

```
PrefectRunwayError                  anything prefect-runway raises on purpose
├── RunwayError                     a call to Runway's API failed (status_code, request_id)
│   ├── RunwayBadRequestError       400/422: the API refused the request; nothing was created
│   ├── RunwayAuthenticationError   401/403: the key was refused
│   ├── RunwayNotFoundError         404
│   │   └── RunwayTaskLostError     a task answered 404 for longer than the grace
│   ├── RunwayInvalidTaskIdError    not a task ID (also a ValueError)
│   ├── RunwayRateLimitError        429 (transient)
│   │   └── RunwayDailyLimitError   the tier's daily generations are used up
│   ├── RunwayServerError           5xx (transient when the API itself said so)
│   ├── RunwayConnectionError       no connection (transient)
│   ├── RunwayResponseLostError     sent, then the answer was lost (transient)
│   ├── RunwayProtocolError         an answer that is not the API's shape
│   ├── RunwayTaskFailedError       the task ended FAILED (failure_code)
│   ├── RunwayTaskTimeoutError      the task did not finish in time
│   ├── RunwayUnknownOutcomeError   a create whose outcome is unknown: a task may exist
│   └── RunwayIncompleteDownloadError  a video download ended early; nothing stored
├── RunwayValidationError           refused locally before anything was sent (a ValueError)
│   └── InputRejectedError          an input (image, video, audio) Runway cannot take
│       └── ImageRejectedError      an image's bytes cannot become a generation
├── ImageSourceError                an input could not be read (storage error); retried later
├── LedgerError                     the ledger could not be used; nothing was submitted
│   ├── RecordError                 a submission record
│   │   ├── RecordReadError         could not be read: never taken as "no record"
│   │   ├── RecordWriteError        could not be written
│   │   └── RecordConflictError     another run's record appeared first
│   └── LockError                   the lock service could not be used
├── ConfigurationError              a PREFECT_RUNWAY_* setting cannot be used
├── BudgetExceededError             a batch would cost more than allowed
├── ManifestError                   the manifest could not be read or written safely
└── BatchFailedError                a flow's batch ended with failures (all reported first)
```

Example:
    ```python
    from prefect_runway.errors import PrefectRunwayError, RunwayBadRequestError

    try:
        client.image_to_video(request)
    except RunwayBadRequestError as exc:
        print(exc.status_code, exc.message)  # the API's own error text
    except PrefectRunwayError as exc:
        print(exc)  # says what happened and what to do
    ```
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class CreateOutcome(str, Enum):
    """What the evidence says a create (a paid POST) did; see `create_outcome`.

    - ``CREATED``: a task ID was read from the answer.
    - ``NOT_CREATED``: the API itself said no task exists (its 4xx error body, a 429, a 503
      with its own error body or ``Retry-After``), or the request was never sent (connection
      refused, TLS failure, a local check).
    - ``UNKNOWN``: anything else (500, 502, 504, 520-527, a proxy's wrapped 5xx code, a 200
      without a readable ID, a timeout or reset after sending): a paid task may exist.
    """

    CREATED = "created"
    NOT_CREATED = "not_created"
    UNKNOWN = "unknown"


class PrefectRunwayError(Exception):
    """The root of every error prefect-runway raises on purpose (see the tree above)."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments need help to survive pickling (Prefect persists failures).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(
    cls: type[PrefectRunwayError], args: tuple[Any, ...], state: dict[str, Any]
) -> PrefectRunwayError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class RunwayError(PrefectRunwayError):
    """A call to Runway's API failed: the base of every error about a Runway call.

    Attributes:
        message: What went wrong, in the API's words where it gave any.
        status_code: The HTTP status, when there was a response.
        request_id: A proxy's request ID, when it sent one.
        transient: True when retrying the same call later may succeed.
    """

    transient = False
    lost_responses = 0
    """Answers to this call that were lost before it failed: >0 on a submission means a task
    may exist (see `RunwayUnknownOutcomeError`)."""
    create_outcome: CreateOutcome | None = None
    """On a failed create (a submission): what the evidence of its last attempt says it did
    (see `CreateOutcome`); None on other calls. The whole create's outcome, earlier attempts
    included, is `prefect_runway.errors.create_outcome` of the error."""
    answer: str | None = None
    """A create's answer that could not be read (no task ID in it), redacted and truncated,
    for a person to read."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.details = details

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code})")
        if self.request_id:
            parts.append(f"[request_id {self.request_id}]")
        return " ".join(parts)



class RunwayBadRequestError(RunwayError):
    """400: the API refused the input. Never retried: fix the request."""


class RunwayAuthenticationError(RunwayError):
    """401 or 403: the key is wrong, revoked, or not allowed to do this."""


class RunwayNotFoundError(RunwayError):
    """404: no such task (or it was deleted)."""


class RunwayTaskLostError(RunwayNotFoundError):
    """A task answered 404 on every poll for longer than the wait's not-found grace.

    One 404 is no verdict (a proxy's fresh task, a gateway's blip): only 404s that persisted
    for ``not_found_grace`` seconds make a task *lost*: deleted, made with another account or
    on another base URL, or never created. A subclass of `RunwayNotFoundError`, so callers
    that catch that keep working.

    Attributes:
        task_id: The task.
        missing_seconds: How long it answered 404 without a break.
    """

    def __init__(
        self, message: str, *, task_id: str, missing_seconds: float, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.missing_seconds = missing_seconds


class RunwayInvalidTaskIdError(RunwayError, ValueError):
    """A task ID that cannot be one (empty, a path, spaces): refused before any request.

    Also a `ValueError`, as it was before it had a class of its own.
    """


class RunwayRateLimitError(RunwayError):
    """429: too many requests. Transient: retried with backoff (see `RunwayDailyLimitError`).

    Attributes:
        retry_after: Seconds the API asked to wait, when it sent ``Retry-After``.
    """

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RunwayDailyLimitError(RunwayRateLimitError):
    """429 on create over the model's daily generation limit (a rolling 24-hour window).

    Not transient: retrying in seconds only wastes requests, so neither the client nor
    Prefect retries it. Defer the rest of the batch and submit it when the window frees;
    ``Organization.remaining_daily(model)`` tells how many generations are left today.

    Attributes:
        retry_after: Seconds the API asked to wait, when it sent ``Retry-After``.
    """

    transient = False


class RunwayServerError(RunwayError):
    """5xx: Runway or the proxy is shedding load or broken.

    502/503/504 are transient. On a read (``GET``, which changes nothing) every 5xx is, 500
    included: the client marks such errors ``idempotent`` and retries them with backoff.
    """

    idempotent = False
    """The failed call was a read: retrying it cannot create or change anything."""

    @property
    def transient(self) -> bool:  # type: ignore[override]
        if self.idempotent and self.status_code is not None and self.status_code >= 500:
            return True
        return self.status_code in (502, 503, 504)


class RunwayConnectionError(RunwayError):
    """The request never reached the API (connect error or timeout). Transient."""

    transient = True


class RunwayResponseLostError(RunwayError):
    """The request was sent but no usable answer came back.

    For a submission this is the dangerous case: the task may exist and be paid for, and
    Runway offers no idempotency key to find out. See the README's lost-response policy.
    """

    transient = True


class RunwayProtocolError(RunwayError):
    """The API answered with something this client cannot read (not JSON, no task ID)."""


class RunwayTaskFailedError(RunwayError):
    """A task ended FAILED or CANCELLED.

    Attributes:
        task_id: The task.
        status: ``FAILED`` or ``CANCELLED``.
        failure_code: Runway's code, e.g. ``SAFETY.INPUT.TEXT`` or ``INTERNAL.BAD_OUTPUT.CODE01``.
        cost: The credits the API says the task cost, when its answer had a ``cost``.
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str,
        status: str,
        failure_code: str | None = None,
        cost: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.status = status
        self.failure_code = failure_code
        self.cost = cost

    @property
    def retryable(self) -> bool:
        """True when re-submitting may help: an ``INTERNAL.*`` failure. SAFETY.* never."""
        return bool(self.failure_code and self.failure_code.startswith("INTERNAL"))


class RunwayTaskTimeoutError(RunwayError):
    """A task did not finish within the wait's timeout. The task itself goes on.

    Attributes:
        task_id: The task.
        missing_seconds: How long its last polls answered 404 without a break (None: its
            last poll read it, or failed otherwise). A collector adds it up across runs to
            find a lost task.
    """

    def __init__(
        self, message: str, *, task_id: str, missing_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(message, **kwargs)
        self.task_id = task_id
        self.missing_seconds = missing_seconds


class RunwayUnknownOutcomeError(RunwayError):
    """A paid submission may or may not have created a task, and nobody can tell which.

    Raised when an answer was lost and the retries then failed, or when a rerun finds an
    *intent* record without an outcome (a crash between the POST and the record). Nothing is
    submitted again until the caller says so (``resubmit_unknown=True``): see the README's
    policy for unknown outcomes.

    Attributes:
        key: The submission's cache key.
    """

    def __init__(self, message: str, *, key: str, lost_responses: int = 0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.key = key
        self.lost_responses = lost_responses


class RunwayIncompleteDownloadError(RunwayError):
    """A video download ended before its full length (a cut connection without a
    Content-Length, or fewer bytes than announced): nothing was stored; retry it."""


class LedgerError(PrefectRunwayError):
    """The ledger (its records or its locks) could not be used; nothing was submitted."""


class RecordError(LedgerError):
    """The submission ledger (intent and outcome records) failed.

    See `prefect_runway.ledger.records`.
    """


class RecordReadError(RecordError):
    """A submission record could not be read or parsed. Never taken as "no record"."""


class RecordWriteError(RecordError):
    """A submission record could not be written."""


class RecordConflictError(RecordError):
    """An intent could not be created because another run's record appeared first."""


class BudgetExceededError(PrefectRunwayError):
    """A batch would cost more credits than allowed, or its cost is unknown; nothing was
    submitted."""


class ManifestError(PrefectRunwayError):
    """The manifest could not be read or written safely; nothing was overwritten."""


class LockError(LedgerError):
    """The lock service (e.g. Redis) could not be reached or used; nothing was submitted."""


class BudgetStoreError(LockError):
    """The account's shared budget (daily generations, monthly credits, kept in the lock
    store) could not be read or written; nothing was submitted for that model."""


class ConfigurationError(PrefectRunwayError):
    """A ``PREFECT_RUNWAY_*`` setting names a lock service or record storage that cannot be
    used (unknown scheme, missing extra, block not found)."""


class RunwayValidationError(PrefectRunwayError, ValueError):
    """Local validation refused a setting or request before anything was sent or paid.

    The message is one line per problem, naming the field, the value and what is allowed,
    without pydantic's boilerplate (`validation_messages`).
    """


class InputRejectedError(RunwayValidationError):
    """A task input (image, video or audio) that Runway cannot take: the wrong kind for
    its field, too large for its transport, a scheme Runway does not read.

    The message names the field, the (redacted) value, the limit and what to do; nothing is
    submitted for it. `ImageRejectedError` is the image case.

    Attributes:
        permanent: True when the input itself is the reason; False when another transport
            or setting may still carry it.
    """

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


class ImageRejectedError(InputRejectedError):
    """An input that cannot become a generation (not an image, empty, too large...).

    Reported on its own row; nothing is submitted for it and the batch goes on.

    Attributes:
        permanent: True when the image's bytes themselves are the reason (the ledger then
            remembers it, so a rerun does not fetch the image again); False for a read that
            failed or an object that changed.
    """


class ImageSourceError(PrefectRunwayError):
    """The S3 source itself cannot be read (missing bucket or object, access denied,
    throttling): a failure of the storage, not of the input (images, video or audio)."""


class BatchFailedError(PrefectRunwayError):
    """A flow's batch ended with failures, after every row was reported (artifacts, logs).

    Attributes:
        task_ids: The Runway task IDs the message is about (created but unrecorded, say).
    """

    def __init__(self, message: str, *, task_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.task_ids = list(task_ids or [])


def validation_messages(exc: Any) -> list[str]:
    """One clean line per problem of a pydantic ``ValidationError``: the validator's own text,
    or ``field: message``; never the ``errors.pydantic.dev`` links."""
    lines = []
    for problem in exc.errors(include_url=False):
        cause = (problem.get("ctx") or {}).get("error")
        if problem["type"] == "value_error" and cause is not None:
            lines.append(str(cause))
        else:
            where = ".".join(str(part) for part in problem["loc"])
            lines.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return lines


def create_outcome(exc: BaseException) -> CreateOutcome:
    """What a failed create did, from the evidence the client attached to `exc`.

    The client classifies each attempt in one place (`prefect_runway.api.client.classify_create`)
    and marks the exception a create ends with. The create is ``UNKNOWN`` when any attempt
    was (``lost_responses > 0``) or when the exception carries no mark: only evidence says
    nothing was created.

    Example:
        ```python
        try:
            await client.image_to_video(request)
        except Exception as exc:
            if create_outcome(exc) is CreateOutcome.NOT_CREATED:
                ...  # safe to forget the attempt: no task exists
        ```
    """
    outcome = getattr(exc, "create_outcome", None)
    lost: Any = getattr(exc, "lost_responses", 0)
    if not isinstance(outcome, CreateOutcome) or lost:
        return CreateOutcome.UNKNOWN
    return outcome


def is_transient(exc: BaseException) -> bool:
    """True when `exc` is worth retrying later (429, 502/503/504, connection failures)."""
    return isinstance(exc, RunwayError) and bool(exc.transient)


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs (lock stores, record settings).

    Example:
        >>> redacted("redis://:s3cret@cache:6379/0")
        'redis://:***@cache:6379/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    netloc = f"{user}:***@{parts.netloc.rsplit('@', 1)[1]}"
    return urlunsplit(parts._replace(netloc=netloc))
