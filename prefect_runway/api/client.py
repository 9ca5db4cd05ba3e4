"""httpx clients for Runway's generation API, sync and async, with one surface.

Both clients speak two dialects: ``runway`` (the official API at
``https://api.dev.runwayml.com``) and ``proxy`` (resellers that mount the same API under a
``/runwayml`` prefix and may wrap answers in ``{code, message, request_id, data}``): one
`prefect_runway.api.dialects.Dialect` each, which the client asks for what differs.

Retries happen here only for transient failures, with exponential backoff and up to 50 %
random jitter, bounded by ``max_retries``. 4xx answers fail at once.

Submissions (paid creates) are classified by evidence, attempt by attempt, in one place:
`classify_create` (the table is in the README). *Created*: an ID was read from the answer,
read first and the rest leniently. *Not created*: the API itself said so (its 4xx error body,
a 429, a 503 with its error body or ``Retry-After``) or nothing was sent (connection refused,
TLS failure): retried silently when transient. *Unknown*: everything else (500, 502, 504,
520-527, a proxy's wrapped 5xx, an answer without a readable ID, a timeout or reset after
sending): a paid task may exist, and Runway has no idempotency key.

Lost responses (unknown attempts): such a POST is retried (``retry_lost_responses=True``, the
default), and the returned `SubmittedTask` says how many answers were lost
(``lost_responses``) so the batch reports a *possible duplicate* instead of hiding it.
Retrying costs at most one extra generation; not retrying loses the image's video and, on the
rerun that follows, costs the same generation anyway. Set ``retry_lost_responses=False`` to
fail at the first unknown attempt instead. GETs change nothing, so they retry every 5xx
(500 included), 429 and connection errors.

Waiting (`RunwayClient.wait_for_task`, `AsyncRunwayClient.wait_for_tasks`) is patient and
truthful: one deadline per task from the caller's ``timeout``; a poll that fails transiently
is polled again with backoff until that deadline, never a verdict; a 404 is a verdict
(`RunwayTaskLostError`) only once 404s have persisted, unbroken, for ``not_found_grace``
seconds (a proxy may not know a fresh task yet; a gateway may blip). Retry warnings go to the
Prefect run's logger inside a flow or task run (`prefect_runway.runlog`).

Example:
    ```python
    from prefect_runway import sample_image_data_uri
    from prefect_runway.api.client import RunwayClient
    from prefect_runway.api.models import ImageToVideoRequest

    with RunwayClient() as client:  # reads RUNWAYML_API_SECRET / RUNWAYML_BASE_URL
        task = client.image_to_video(ImageToVideoRequest(
            prompt_image=sample_image_data_uri(), model="gen4_turbo",
            ratio="1280:720", duration=5))
        done = client.wait_for_task(task.id)
        print(done.output)
    ```
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO, TypeVar

import httpx
from pydantic import ValidationError

from prefect_runway.api.dialects import Dialect, failure_code, task_fields
from prefect_runway.api.limits import MAX_USAGE_DAYS
from prefect_runway.api.models import (
    ImageToVideoRequest,
    Organization,
    OrganizationUsage,
    SubmittedTask,
    Task,
    TaskStatus,
    redact_url,
)
from prefect_runway.api.requests import IMAGE_TO_VIDEO, GenerationRequest
from prefect_runway.errors import (
    CreateOutcome,
    RunwayAuthenticationError,
    RunwayBadRequestError,
    RunwayConnectionError,
    RunwayDailyLimitError,
    RunwayError,
    RunwayIncompleteDownloadError,
    RunwayInvalidTaskIdError,
    RunwayNotFoundError,
    RunwayProtocolError,
    RunwayRateLimitError,
    RunwayResponseLostError,
    RunwayServerError,
    RunwayTaskFailedError,
    RunwayTaskLostError,
    RunwayTaskTimeoutError,
    RunwayValidationError,
)
from prefect_runway.runlog import log

logger = logging.getLogger("prefect_runway.api.client")

DEFAULT_BASE_URLS: dict[str, str] = {dialect.value: dialect.default_base_url for dialect in Dialect}
"""Dialect name -> its public API root; derived from `Dialect.default_base_url`, kept for
importers (the client asks the `Dialect`)."""
DEFAULT_API_VERSION = "2024-11-06"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MIN_POLL_INTERVAL = 5.0
"""Runway asks clients not to poll a task more often than every 5 seconds."""
DEFAULT_NOT_FOUND_GRACE = 60.0
"""Seconds of unbroken 404s before a waited-for task is lost (`RunwayTaskLostError`)."""
_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,199}")
"""What a task ID can be: Runway's are UUIDs, proxies' short tokens; never a path."""

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Transport errors raised before any byte of the request left (httpx reports TLS handshake
failures as `httpx.ConnectError`)."""
_ANSWER_CHARS = 500
_T = TypeVar("_T")
TaskCallback = Callable[[Task], Any]


@dataclass(frozen=True)
class _Call:
    """One API call, described without I/O so both clients share it."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    is_submit: bool = False
    daily_limit_429: bool = False
    """A 429 means the daily generation limit unless its body says otherwise (official
    create)."""
    read: bool = False
    """A POST that only reads (the usage query): every 5xx is retried, as for a GET."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(parsed.timestamp() - time.time(), 0.0) if parsed else None


def _error_from(status: int, body: Any, response: httpx.Response | None) -> RunwayError:
    """Map an error answer to the matching exception class."""
    message = f"Runway API answered HTTP {status}"
    request_id = None
    details = None
    if isinstance(body, dict):
        message = str(body.get("error") or body.get("message") or message)
        request_id = body.get("request_id")
        details = body.get("issues")
        if details:
            message += ": " + "; ".join(
                f"{'.'.join(map(str, issue.get('path', [])))}: {issue.get('message')}"
                for issue in details
                if isinstance(issue, dict)
            )
    kwargs: dict[str, Any] = {"status_code": status, "request_id": request_id, "details": details}
    if status == 429:
        retry_after = _retry_after(response) if response is not None else None
        daily = _DAILY_LIMIT.search(message) is not None
        error_class = RunwayDailyLimitError if daily else RunwayRateLimitError
        return error_class(message, retry_after=retry_after, **kwargs)
    if status in (401, 403):
        return RunwayAuthenticationError(message, **kwargs)
    if status == 404:
        return RunwayNotFoundError(message, **kwargs)
    if status >= 500:
        return RunwayServerError(message, **kwargs)
    return RunwayBadRequestError(message, **kwargs)


_DAILY_LIMIT = re.compile(r"daily|per day|24.?h", re.IGNORECASE)
_TRANSIENT_429 = re.compile(
    r"too many requests|rate.?limit|slow down|concurren|throttl|overload", re.IGNORECASE
)


def _daily_limit_error(call: _Call, error: RunwayError) -> RunwayError:
    """On official create, an unexplained 429 is the daily limit: say so, do not retry it."""
    if (
        not call.daily_limit_429
        or type(error) is not RunwayRateLimitError
        or _TRANSIENT_429.search(error.message)
    ):
        return error
    model = (call.json or {}).get("model", "this model")
    return RunwayDailyLimitError(
        f"{error.message}: on the official API a 429 on create means the daily generation "
        f"limit of {model} (rolling 24 hours) is used up; submit the rest when the window "
        "frees (Organization.remaining_daily tells how many are left).",
        retry_after=error.retry_after,
        status_code=error.status_code,
        request_id=error.request_id,
        details=error.details,
    )


def _json_body(response: httpx.Response) -> tuple[Any, bool]:
    """The JSON body (None when empty) and whether it could be read."""
    if not response.content:
        return None, True
    try:
        return response.json(), True
    except ValueError:
        return None, False


def _created_task(response: httpx.Response, body: Any) -> SubmittedTask | None:
    """The task an answer to a create carries, read ID first; None when none is readable.

    Any 2xx counts, and a wrapped error that still carries its task in ``data``.
    """
    if not isinstance(body, dict):
        return None
    if not response.is_success and not isinstance(body.get("data"), dict):
        return None
    try:
        return SubmittedTask.from_response(body)
    except Exception:  # no readable ID: not created as far as this answer tells
        return None


def classify_create(
    response: httpx.Response | None = None, sent_error: httpx.HTTPError | None = None
) -> CreateOutcome:
    """What one attempt of a create did, by evidence: the one table of create outcomes.

    | evidence | outcome |
    |---|---|
    | an ID read from the answer (any 2xx; a wrapped error with a task in ``data``) | created |
    | 429; any other 4xx but 408 and 499; a wrapped 4xx code | not created |
    | 503 with the API's JSON error body or a ``Retry-After`` header | not created |
    | connection refused, connect timeout, TLS failure (nothing sent) | not created |
    | 500, 502, 504, 520-527, a bare 503, 408, 499, any other status | unknown |
    | a 2xx without a readable ID, or with a wrapped 5xx code | unknown |
    | a timeout, reset or broken answer after the request was sent | unknown |

    Args:
        response: The answer, when one arrived.
        sent_error: The transport error, when none did.

    Returns:
        `CreateOutcome.CREATED`, ``NOT_CREATED`` or ``UNKNOWN``.
    """
    if response is None:
        sent_nothing = isinstance(sent_error, _NOT_SENT)
        return CreateOutcome.NOT_CREATED if sent_nothing else CreateOutcome.UNKNOWN
    body, _ = _json_body(response)
    if _created_task(response, body) is not None:
        return CreateOutcome.CREATED
    status, code = response.status_code, failure_code(body)
    if response.is_success:
        refused = isinstance(code, int) and 400 <= code <= 499
        return CreateOutcome.NOT_CREATED if refused else CreateOutcome.UNKNOWN
    if 400 <= status <= 499 and status not in (408, 499):
        return CreateOutcome.NOT_CREATED
    api_body = isinstance(body, dict) and (
        isinstance(body.get("error"), str) or ("code" in body and "message" in body)
    )
    if status == 503 and (api_body or response.headers.get("retry-after")):
        return CreateOutcome.NOT_CREATED
    return CreateOutcome.UNKNOWN


_URL = re.compile(r"https?://[^\s\"'<>]+")
_SECRETS = re.compile(r"(?i)(bearer\s+|key_)[A-Za-z0-9._~+/=-]+")


def redact_answer(content: bytes) -> str:
    """An answer's body for a person to read: every URL in it redacted by `redact_url`
    (query strings and user info removed), key-like tokens removed, at most 500 characters."""
    text = content[: _ANSWER_CHARS * 4].decode("utf-8", "replace")
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _SECRETS.sub(lambda m: m.group(1) + "<redacted>", text)
    if len(text) > _ANSWER_CHARS or len(content) > _ANSWER_CHARS * 4:
        text = text[:_ANSWER_CHARS] + f"... ({len(content)} bytes in all)"
    return text


def _parse(call: _Call, response: httpx.Response) -> Any:
    """Turn a response into its JSON body (a `SubmittedTask` for a create), or raise the
    matching `RunwayError`."""
    body, readable = _json_body(response)
    if call.is_submit:
        task = _created_task(response, body)  # the ID first: an answer with one never loses it
        if task is not None:
            return task
    hint = " A task may have been created; its ID could not be read." * call.is_submit
    if not readable and response.is_success:
        answer = redact_answer(response.content)
        error: RunwayError = RunwayProtocolError(
            f"{call.method} {call.path} answered HTTP {response.status_code} with a body "
            f"that is not JSON: {answer!r}.{hint}",
            status_code=response.status_code,
        )
        error.answer = answer
        raise error
    if not response.is_success:
        raise _daily_limit_error(call, _error_from(response.status_code, body, response))
    code = failure_code(body)
    if code is not None:
        # A proxy's wrapped error, sometimes sent with HTTP 200.
        status = code if isinstance(code, int) and 400 <= code <= 599 else 400
        error = _error_from(status, body, response)
        error.message = f"proxy error code {code}: {error.message}"
        raise error
    if call.is_submit:
        answer = redact_answer(response.content)
        error = RunwayProtocolError(
            f"{call.method} {call.path} answered HTTP {response.status_code} without a task "
            f"ID: {answer!r}.{hint}",
            status_code=response.status_code,
        )
        error.answer = answer
        raise error
    return body


def _transport_error(call: _Call, exc: httpx.HTTPError, base_url: str = "") -> RunwayError:
    what = f"{call.method} {redact_url(base_url + call.path)}"
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return RunwayConnectionError(f"{what} could not reach the API: {type(exc).__name__}")
    return RunwayResponseLostError(
        f"{what} was sent but no answer arrived ({type(exc).__name__})"
        + ("; the task may have been created" if call.is_submit else "")
    )


def _host_error(what: str, url: str, exc: httpx.HTTPError) -> RunwayError:
    """A transport error on an upload or download host, as a `RunwayError` (URL redacted)."""
    return RunwayConnectionError(
        f"{what} {redact_url(url)} failed: {type(exc).__name__}; retry later"
    )


def _length(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _download_error(url: str, response: httpx.Response) -> RunwayError:
    expired = " (output URLs expire: fetch the task again for fresh ones)" * (
        response.status_code in (401, 403)
    )
    return _error_from(response.status_code, None, None).__class__(
        f"Download of {redact_url(url)} failed with HTTP {response.status_code}{expired}",
        status_code=response.status_code,
    )


class _ClientBase:
    """Configuration and pure logic shared by `RunwayClient` and `AsyncRunwayClient`."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        dialect: Dialect | str = Dialect.RUNWAY,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        retry_lost_responses: bool = True,
        poll_interval: float = MIN_POLL_INTERVAL,
        not_found_grace: float = DEFAULT_NOT_FOUND_GRACE,
    ) -> None:
        api_key = api_key or os.environ.get("RUNWAYML_API_SECRET")
        if not api_key:
            raise RunwayAuthenticationError(
                "No Runway API key: pass api_key or set RUNWAYML_API_SECRET."
            )
        try:
            self.dialect: Dialect = Dialect.of(dialect)
        except ValueError as exc:
            raise RunwayValidationError(str(exc)) from None
        self._api_key = api_key
        self.base_url = (
            base_url or os.environ.get("RUNWAYML_BASE_URL") or self.dialect.default_base_url
        ).rstrip("/")
        self.api_version = api_version
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.retry_lost_responses = retry_lost_responses
        self.poll_interval = self._interval(poll_interval)
        if not not_found_grace >= 0:
            raise RunwayValidationError(
                f"not_found_grace must be >= 0 seconds, got {not_found_grace!r}"
            )
        self.not_found_grace = float(not_found_grace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, dialect={self.dialect.value!r})"

    def _interval(self, poll_interval: float | None) -> float:
        """The poll interval to use: at least 5 s against runwayml.com, even when per call."""
        default: float = getattr(self, "poll_interval", MIN_POLL_INTERVAL)
        interval = poll_interval or default
        if httpx.URL(self.base_url).host.endswith("runwayml.com"):
            interval = max(interval, MIN_POLL_INTERVAL)
        return interval

    @staticmethod
    def _task(body: Any) -> Task:
        """Read a task answer; a proxy's ``{code, data: {...}}`` envelope is unwrapped
        (`prefect_runway.api.dialects.task_fields`).

        Raises:
            RunwayProtocolError: the answer is not a task (only this task's wait fails).
        """
        try:
            return Task.model_validate(task_fields(body))
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors())
            raise RunwayProtocolError(f"Unreadable task answer (bad fields: {fields})") from None

    def _headers(self) -> dict[str, str]:
        return self.dialect.headers(self._api_key, self.api_version)

    def _http_options(self) -> dict[str, Any]:
        # Headers live on the httpx client, built once; httpx keeps them out of its reprs.
        return {"base_url": self.base_url, "timeout": self.timeout, "headers": self._headers()}

    def _delay(self, attempt: int, error: RunwayError) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None to give up."""
        if attempt > self.max_retries:
            return None
        if error.create_outcome is CreateOutcome.UNKNOWN:  # a create that may have paid
            if not self.retry_lost_responses:
                return None
        elif not error.transient:
            return None
        elif isinstance(error, RunwayResponseLostError) and not self.retry_lost_responses:
            return None
        return self._backoff(attempt, error)

    def _backoff(self, attempt: int, error: RunwayError) -> float:
        """The delay before retry `attempt`: what ``Retry-After`` asks (capped), else
        exponential backoff from ``backoff_base`` up to ``backoff_max``, plus up to 50 %."""
        if isinstance(error, RunwayRateLimitError) and error.retry_after is not None:
            return min(error.retry_after, self.backoff_max)
        delay = min(self.backoff_base * 2 ** min(attempt - 1, 60), self.backoff_max)
        return delay * (1 + random.uniform(0, 0.5))

    def _retry_delay(self, attempt: int, error: RunwayError) -> float:
        """Seconds to wait before retry `attempt`; raises `error` when it is not retried."""
        delay = self._delay(attempt, error)
        if delay is None:
            raise error
        log(logger, logging.WARNING, "%s; retry %d in %.2fs", error, attempt, delay)
        return delay

    def _patience(
        self, task_id: str, timeout: float, poll_interval: float | None, grace: float | None
    ) -> _Patience:
        grace = self.not_found_grace if grace is None else grace
        return _Patience(self, task_id, timeout, self._interval(poll_interval), grace)

    @staticmethod
    def _submitted(task: SubmittedTask, lost: int) -> SubmittedTask:
        return task.model_copy(update={"lost_responses": lost}) if lost else task

    @staticmethod
    def _failed(
        call: _Call,
        error: RunwayError,
        lost: int,
        response: httpx.Response | None = None,
        sent_error: httpx.HTTPError | None = None,
    ) -> int:
        """Mark a failed attempt with its evidence; return the lost answers so far."""
        if call.is_submit:
            outcome = classify_create(response, sent_error)
            error.create_outcome = outcome
            if outcome is CreateOutcome.UNKNOWN:
                lost += 1
                if "task may have been created" not in error.message:
                    error.message += "; a task may have been created (no ID was read)"
        else:
            lost += isinstance(error, RunwayResponseLostError)
            if (call.method == "GET" or call.read) and isinstance(error, RunwayServerError):
                error.idempotent = True  # a read: any 5xx may pass, so it is retried
        error.lost_responses = lost  # a lost answer stays known whatever error follows
        return lost

    def _usage_call(self, start_date: date, before_date: date) -> _Call:
        """The usage query of the UTC days ``[start_date, before_date)``, checked first."""
        days = (before_date - start_date).days
        if not 0 <= days <= MAX_USAGE_DAYS:
            raise RunwayValidationError(
                f"organization usage covers 0 to {MAX_USAGE_DAYS} days: got start_date "
                f"{start_date} and before_date {before_date} ({days} days)"
            )
        body = {"startDate": start_date.isoformat(), "beforeDate": before_date.isoformat()}
        return _Call("POST", self.dialect.usage_path, body, read=True)

    def _create_call(self, request: ImageToVideoRequest | GenerationRequest) -> _Call:
        """The create's call; any error here certainly sent nothing, and says so."""
        try:
            return self._submit_call(request)
        except Exception as exc:
            try:
                exc.create_outcome = CreateOutcome.NOT_CREATED  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass  # an exception that takes no mark counts as unknown: fail closed
            raise

    def _check_dialect(self, feature: str) -> None:
        if not self.dialect.uploads:
            raise RunwayError(
                f"{feature} needs the official dialect; this client uses {self.dialect.value!r} "
                f"({self.base_url})."
            )

    def _submit_call(self, request: ImageToVideoRequest | GenerationRequest) -> _Call:
        if isinstance(request, GenerationRequest):
            unresolved = [
                path for path, uri in request.assets() if uri[:5].lower() in ("s3://", "file:")
            ]
            if unresolved:
                raise RunwayValidationError(
                    f"{', '.join(unresolved)}: s3:// and file:// inputs must be resolved first "
                    "(a presigned URL, a data URI or an upload); submit_generation does it. "
                    "Nothing was sent."
                )
            if request.endpoint != IMAGE_TO_VIDEO:
                return _Call(
                    "POST", request.path, request.to_wire(), is_submit=True,
                    daily_limit_429=self.dialect.daily_limit_429,
                )  # fmt: skip
            request = request.image_to_video()  # the one path and rules of image-to-video
        request.check_dialect(self.dialect)  # retired models: refused before any credit
        return _Call(
            "POST", self.dialect.create_path, request.to_wire(), is_submit=True,
            daily_limit_429=self.dialect.daily_limit_429,
        )  # fmt: skip

    def _task_path(self, task_id: str) -> str:
        if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
            raise RunwayInvalidTaskIdError(
                f"task_id {str(task_id)[:80]!r} is not a valid task ID (letters, digits and "
                "._:~- only, up to 200 characters); nothing was asked of the API. Check where "
                "the ID came from (a manifest row, a flow parameter)."
            )
        return self.dialect.task_path(task_id)

    @staticmethod
    def _finish(task: Task) -> Task:
        """Return a SUCCEEDED task; raise for FAILED and CANCELLED."""
        if task.status is TaskStatus.SUCCEEDED:
            return task
        cost = task.cost.credits if task.cost is not None else None
        if task.status is TaskStatus.CANCELLED:
            raise RunwayTaskFailedError(
                f"Task {task.id} was cancelled.", task_id=task.id, status=task.status.value,
                cost=cost,
            )  # fmt: skip
        code = task.failure_code or "UNKNOWN"
        raise RunwayTaskFailedError(
            f"Task {task.id} failed ({code}): {task.failure or 'no reason given'}",
            task_id=task.id,
            status=task.status.value,
            failure_code=task.failure_code,
            cost=cost,
        )

    @staticmethod
    def _upload_form(upload: dict[str, Any], filename: str, data: bytes, content_type: str) -> Any:
        return {
            "data": upload.get("fields") or {},
            "files": {"file": (filename, data, content_type)},
        }


class _Patience:
    """One task's wait, the same in both clients: what a failed poll means, and when to
    poll next.

    One deadline, `timeout` seconds from the start. A transient failure (every 5xx of a GET,
    429, a connection error or lost answer) is polled again with backoff, capped so that
    the last poll falls on the deadline. A 404 starts a run of 404s; an answer ends it; the
    task is lost when one run lasts `grace` seconds. Anything else (401, an unreadable
    answer, an ID that cannot be one) ends the wait at once.
    """

    def __init__(
        self, client: _ClientBase, task_id: str, timeout: float, interval: float, grace: float
    ) -> None:
        self.client = client
        self.task_id = task_id
        self.timeout = timeout
        self.interval = interval
        self.grace = grace
        self.deadline = time.monotonic() + timeout
        self.missing_since: float | None = None
        self.failures = 0
        self.last_error: RunwayError | None = None

    def answered(self) -> float:
        """A poll read the task (not terminal): the delay before the next one."""
        self.missing_since, self.failures, self.last_error = None, 0, None
        return self._next(self.interval)

    def failed(self, error: RunwayError) -> float:
        """A poll failed with `error`: the delay before the next one, or raise the verdict.

        Raises:
            RunwayTaskLostError: 404s have lasted `grace` seconds.
            RunwayError: `error` itself, when it is not transient.
            RunwayTaskTimeoutError: the next poll would fall past the deadline.
        """
        now = time.monotonic()
        self.last_error = error
        if isinstance(error, RunwayNotFoundError):
            if self.missing_since is None:
                self.missing_since = now
            missing = now - self.missing_since
            if missing >= self.grace:
                raise RunwayTaskLostError(
                    f"Task {self.task_id} is lost: it answered 404 (not found) on every poll "
                    f"for {missing:.1f}s, past the not-found grace of {self.grace:g}s. It was "
                    "deleted, made with another API key or base URL, or never created; check "
                    "the ID and the account (raise not_found_grace for a proxy that is slow "
                    "to know new tasks).",
                    task_id=self.task_id,
                    missing_seconds=missing,
                    status_code=404,
                    request_id=error.request_id,
                )
            return self._next(max(min(self.interval, self.grace - missing), 0.0))
        if not error.transient:
            raise error
        self.failures += 1
        delay = max(self.client._backoff(self.failures, error), self.interval)
        if self.failures == 1 or self.failures % 10 == 0:
            log(
                logger,
                logging.WARNING,
                "Poll %d of Runway task %s failed: %s; polling again in %.2fs, with backoff "
                "until its deadline (%.0fs left)",
                self.failures,
                self.task_id,
                error,
                delay,
                max(self.deadline - now, 0.0),
            )
        return self._next(delay, backoff=True)

    def _next(self, delay: float, backoff: bool = False) -> float:
        remaining = self.deadline - time.monotonic()
        if backoff:  # a long backoff still polls once more, on the deadline
            delay = min(delay, max(remaining, self.interval))
        if delay > remaining:
            missing = (
                None if self.missing_since is None else time.monotonic() - self.missing_since
            )
            raise RunwayTaskTimeoutError(
                self._timeout_message(), task_id=self.task_id, missing_seconds=missing
            )
        return delay

    def _timeout_message(self) -> str:
        message = f"Task {self.task_id} did not finish within {self.timeout:g}s; it goes on"
        message += " running."
        if self.missing_since is not None:
            missing = time.monotonic() - self.missing_since
            message += f" It has answered 404 for the last {missing:.1f}s."
        elif self.last_error is not None:
            message += f" Its last poll failed: {self.last_error}."
        return message + " Wait again later with the same ID, or with a longer timeout."


class RunwayClient(_ClientBase):
    """Synchronous Runway client.

    Args:
        api_key: The API secret; defaults to ``RUNWAYML_API_SECRET``.
        base_url: Defaults to ``RUNWAYML_BASE_URL``, else the dialect's public URL.
        dialect: ``"runway"`` (official) or ``"proxy"`` (``/runwayml`` resellers), or the
            `Dialect`; held as the `Dialect` (``client.dialect``).
        api_version: Sent as ``X-Runway-Version``.
        timeout: httpx timeout for each request.
        max_retries: Transient retries per call, after the first attempt.
        backoff_base: First backoff delay in seconds; doubles each retry, plus up to 50 % jitter.
        backoff_max: Cap of one backoff delay (and of an honoured ``Retry-After``).
        retry_lost_responses: Retry a submission whose answer was lost (see module docs).
        poll_interval: Seconds between polls of one task; at least 5 against runwayml.com.

    Example:
        ```python
        with RunwayClient() as client:  # or RunwayClient("key_...", base_url=...)
            print(client.get_task(task_id).status)
        ```
    """

    def __init__(self, api_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        self._http = httpx.Client(**self._http_options())
        self._bare = httpx.Client(timeout=self.timeout, follow_redirects=True)

    def __enter__(self) -> RunwayClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()
        self._bare.close()

    # Sync twin of `AsyncRunwayClient._send`, kept line for line alike (httpx's own pattern:
    # the policy lives in `_ClientBase`, only the I/O differs).
    def _send(self, call: _Call, once: bool = False) -> tuple[Any, int]:
        """Send with transient retries (none when `once`: the caller retries); return the
        body and the number of lost answers."""
        attempt, lost = 0, 0
        while True:
            attempt += 1
            try:
                response = self._http.request(call.method, call.path, json=call.json)
            except httpx.HTTPError as exc:
                error: RunwayError = _transport_error(call, exc, self.base_url)
                lost = self._failed(call, error, lost, sent_error=exc)
            else:
                try:
                    return _parse(call, response), lost
                except RunwayError as exc:
                    error = exc
                    lost = self._failed(call, error, lost, response=response)
            if once:
                raise error
            delay = self._retry_delay(attempt, error)
            time.sleep(delay)

    def image_to_video(self, request: ImageToVideoRequest) -> SubmittedTask:
        """Submit a generation. Paid: see the module's lost-response policy."""
        return self._submitted(*self._send(self._create_call(request)))

    def create_task(self, request: GenerationRequest) -> SubmittedTask:
        """Submit a generation on any task endpoint (`GenerationRequest`). Paid, with the
        same lost-response policy as `image_to_video`."""
        return self._submitted(*self._send(self._create_call(request)))

    def get_task(self, task_id: str) -> Task:
        """Fetch a task's current state (every 5xx, 429 and connection error retried)."""
        body, _ = self._send(_Call("GET", self._task_path(task_id)))
        return self._task(body)

    def _poll(self, task_id: str) -> Task:
        """One GET of a task, no retries: a wait retries on its own schedule."""
        body, _ = self._send(_Call("GET", self._task_path(task_id)), once=True)
        return self._task(body)

    def cancel_task(self, task_id: str) -> None:
        """Cancel a pending, throttled or running task; delete a finished one."""
        self._send(_Call("DELETE", self._task_path(task_id)))

    def organization(self) -> Organization:
        """Credit balance, tier limits and today's usage."""
        body, _ = self._send(_Call("GET", self.dialect.organization_path))
        return Organization.model_validate(body or {})

    def organization_usage(self, start_date: date, before_date: date) -> OrganizationUsage:
        """Net credits per UTC day and model for the days ``[start_date, before_date)``
        (at most 90), refunds netted in; a read, so every 5xx is retried.

        Raises:
            RunwayValidationError: the range is negative or longer than 90 days (nothing sent).
        """
        body, _ = self._send(self._usage_call(start_date, before_date))
        return OrganizationUsage.model_validate(body or {})

    def upload_image(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload an image as an ephemeral upload and return its ``runway://`` URI (24 h)."""
        self._check_dialect("Ephemeral uploads")
        upload, _ = self._send(
            _Call("POST", self.dialect.uploads_path, {"filename": filename, "type": "ephemeral"})
        )
        try:
            response = self._bare.post(
                upload["uploadUrl"], **self._upload_form(upload, filename, data, content_type)
            )
        except httpx.HTTPError as exc:
            raise _host_error("Upload to", upload["uploadUrl"], exc) from None
        if not response.is_success:
            raise _error_from(response.status_code, None, response)
        return str(upload["runwayUri"])

    def wait_for_task(
        self,
        task_id: str,
        *,
        timeout: float = 900.0,
        poll_interval: float | None = None,
        not_found_grace: float | None = None,
        on_update: TaskCallback | None = None,
    ) -> Task:
        """Poll until the task is SUCCEEDED; raise when it FAILED, was CANCELLED, was lost or
        timed out.

        Args:
            task_id: The task.
            timeout: Seconds to wait in all: the one deadline of this task.
            poll_interval: Seconds between polls (default: the client's).
            not_found_grace: Seconds of unbroken 404s before the task is lost (default: the
                client's, 60 s). A 404 within it is polled again.
            on_update: Called with the task whenever its status or progress changes.

        Raises:
            RunwayTaskFailedError: FAILED (with ``failure_code``) or CANCELLED.
            RunwayTaskLostError: 404 on every poll for `not_found_grace` seconds.
            RunwayTaskTimeoutError: still not finished after `timeout` seconds (polls that
                failed transiently, 5xx included, are retried with backoff until then).
            RunwayInvalidTaskIdError: `task_id` cannot be a task ID.
        """
        patience = self._patience(task_id, timeout, poll_interval, not_found_grace)
        last: tuple[Any, ...] | None = None
        while True:
            try:
                task = self._poll(task_id)
            except RunwayError as exc:
                delay = patience.failed(exc)
            else:
                if on_update and (task.status, task.progress) != last:
                    on_update(task)
                last = (task.status, task.progress)
                if task.is_terminal:
                    return self._finish(task)
                delay = patience.answered()
            time.sleep(delay)

    def download(self, url: str, fileobj: BinaryIO) -> tuple[int, str]:
        """Stream an output URL into `fileobj`; return (bytes written, SHA-256 hex).

        Raises:
            RunwayError: the URL answered an error (403 when it expired).
        """
        digest, size = hashlib.sha256(), 0
        try:
            with self._bare.stream("GET", url) as response:
                if not response.is_success:
                    raise _download_error(url, response)
                announced = _length(response.headers.get("content-length"))
                for chunk in response.iter_bytes(1 << 20):
                    fileobj.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except httpx.HTTPError as exc:
            raise _host_error("Download of", url, exc) from None
        # A body that ends with the connection and no Content-Length looks complete: ask
        # the host for the length with a second request before calling it a video.
        expected = announced if announced is not None else self.content_length(url)
        if expected is None or size != expected:
            raise RunwayIncompleteDownloadError(
                f"Download of {redact_url(url)} "
                + (f"ended after {size} of {expected} bytes" if expected is not None else
                   f"ended after {size} bytes and no request gave its length to check")
                + "; nothing was stored, retry the download"
            )  # fmt: skip
        return size, digest.hexdigest()

    def content_length(self, url: str) -> int | None:
        """The full length of the object at `url`, from a HEAD (or, where HEAD is refused,
        a one-byte ranged GET's ``Content-Range``); None when neither tells it."""
        try:
            head = self._bare.head(url)
            if head.is_success and (length := _length(head.headers.get("content-length"))):
                return length
            with self._bare.stream("GET", url, headers={"Range": "bytes=0-0"}) as ranged:
                total = ranged.headers.get("content-range", "").rpartition("/")[2]
                if ranged.status_code == 206 and total.isdigit():
                    return int(total)
        except httpx.HTTPError:
            return None
        return None


class AsyncRunwayClient(_ClientBase):
    """Asynchronous Runway client with the same surface as `RunwayClient`.

    It adds `wait_for_tasks`, which waits for many tasks from one event loop.

    Example:
        ```python
        async with AsyncRunwayClient() as client:
            results = await client.wait_for_tasks([task_id], timeout=600)
        ```
    """

    def __init__(self, api_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(api_key, **kwargs)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        self._http = httpx.AsyncClient(**self._http_options(), limits=limits)
        self._bare = httpx.AsyncClient(timeout=self.timeout, follow_redirects=True)

    async def __aenter__(self) -> AsyncRunwayClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pools."""
        await self._http.aclose()
        await self._bare.aclose()

    # Async twin of `RunwayClient._send`: change both together.
    async def _send(self, call: _Call, once: bool = False) -> tuple[Any, int]:
        attempt, lost = 0, 0
        while True:
            attempt += 1
            try:
                response = await self._http.request(call.method, call.path, json=call.json)
            except httpx.HTTPError as exc:
                error: RunwayError = _transport_error(call, exc, self.base_url)
                lost = self._failed(call, error, lost, sent_error=exc)
            else:
                try:
                    return _parse(call, response), lost
                except RunwayError as exc:
                    error = exc
                    lost = self._failed(call, error, lost, response=response)
            if once:
                raise error
            delay = self._retry_delay(attempt, error)
            await asyncio.sleep(delay)

    async def image_to_video(self, request: ImageToVideoRequest) -> SubmittedTask:
        """Submit a generation. Paid: see the module's lost-response policy."""
        return self._submitted(*await self._send(self._create_call(request)))

    async def create_task(self, request: GenerationRequest) -> SubmittedTask:
        """Submit a generation on any task endpoint (`GenerationRequest`). Paid, with the
        same lost-response policy as `image_to_video`."""
        return self._submitted(*await self._send(self._create_call(request)))

    async def get_task(self, task_id: str) -> Task:
        """Fetch a task's current state (every 5xx, 429 and connection error retried)."""
        body, _ = await self._send(_Call("GET", self._task_path(task_id)))
        return self._task(body)

    async def _poll(self, task_id: str) -> Task:
        """One GET of a task, no retries: a wait retries on its own schedule."""
        body, _ = await self._send(_Call("GET", self._task_path(task_id)), once=True)
        return self._task(body)

    async def cancel_task(self, task_id: str) -> None:
        """Cancel a pending, throttled or running task; delete a finished one."""
        await self._send(_Call("DELETE", self._task_path(task_id)))

    async def organization(self) -> Organization:
        """Credit balance, tier limits and today's usage."""
        body, _ = await self._send(_Call("GET", self.dialect.organization_path))
        return Organization.model_validate(body or {})

    async def organization_usage(
        self, start_date: date, before_date: date
    ) -> OrganizationUsage:
        """Net credits per UTC day and model for the days ``[start_date, before_date)``
        (at most 90), refunds netted in; a read, so every 5xx is retried.

        Raises:
            RunwayValidationError: the range is negative or longer than 90 days (nothing sent).
        """
        body, _ = await self._send(self._usage_call(start_date, before_date))
        return OrganizationUsage.model_validate(body or {})

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload an image as an ephemeral upload and return its ``runway://`` URI (24 h)."""
        self._check_dialect("Ephemeral uploads")
        upload, _ = await self._send(
            _Call("POST", self.dialect.uploads_path, {"filename": filename, "type": "ephemeral"})
        )
        try:
            response = await self._bare.post(
                upload["uploadUrl"], **self._upload_form(upload, filename, data, content_type)
            )
        except httpx.HTTPError as exc:
            raise _host_error("Upload to", upload["uploadUrl"], exc) from None
        if not response.is_success:
            raise _error_from(response.status_code, None, response)
        return str(upload["runwayUri"])

    async def wait_for_task(
        self,
        task_id: str,
        *,
        timeout: float = 900.0,
        poll_interval: float | None = None,
        not_found_grace: float | None = None,
        on_update: TaskCallback | None = None,
    ) -> Task:
        """Poll until the task is SUCCEEDED; raise when it FAILED, was CANCELLED, was lost or
        timed out.

        Same arguments and errors as `RunwayClient.wait_for_task`.
        """
        return await self._wait(
            task_id, self._poll, timeout, poll_interval, not_found_grace, on_update
        )

    async def _wait(
        self,
        task_id: str,
        get: Callable[[str], Awaitable[Task]],
        timeout: float,
        poll_interval: float | None,
        not_found_grace: float | None,
        on_update: TaskCallback | None,
    ) -> Task:
        patience = self._patience(task_id, timeout, poll_interval, not_found_grace)
        last: tuple[Any, ...] | None = None
        while True:
            try:
                task = await get(task_id)
            except RunwayError as exc:
                delay = patience.failed(exc)
            else:
                if on_update and (task.status, task.progress) != last:
                    result = on_update(task)
                    if isinstance(result, Awaitable):
                        await result
                last = (task.status, task.progress)
                if task.is_terminal:
                    return self._finish(task)
                delay = patience.answered()
            await asyncio.sleep(delay)

    async def wait_for_tasks(
        self,
        task_ids: Iterable[str],
        *,
        timeout: float = 3600.0,
        poll_interval: float | None = None,
        max_in_flight: int = 16,
        not_found_grace: float | None = None,
        on_update: TaskCallback | None = None,
        on_done: Callable[[str, Task | RunwayError], Any] | None = None,
    ) -> dict[str, Task | RunwayError]:
        """Wait for many tasks from this one event loop (no thread per task).

        Each task is polled no more often than `poll_interval`; at most `max_in_flight`
        polls are in the air at once (a poll waiting out its backoff holds no slot). Each
        task has its own deadline, `timeout` seconds from the start, and its own 404 grace
        (see `RunwayClient.wait_for_task`). A task that fails, is lost or has an ID that
        cannot be one ends only its own wait.

        Args:
            task_ids: The tasks (duplicates are waited for once).
            timeout: Seconds each task may take, from now.
            poll_interval: Seconds between polls of one task (default: the client's).
            max_in_flight: Most polls in the air at once.
            not_found_grace: Seconds of unbroken 404s before a task is lost (default: the
                client's).
            on_update: Called (or awaited) with a task whenever its status or progress
                changes.
            on_done: Called (or awaited) with a task's ID and its outcome as soon as its
                own wait ends, before the others finish.

        Returns:
            task ID -> the SUCCEEDED `Task`, or the `RunwayError` it ended with
            (`RunwayTaskFailedError`, `RunwayTaskLostError`, `RunwayTaskTimeoutError`,
            `RunwayInvalidTaskIdError`, ...).
        """
        gate = asyncio.Semaphore(max_in_flight)
        ids = list(dict.fromkeys(task_ids))

        async def gated_get(task_id: str) -> Task:
            async with gate:
                return await self._poll(task_id)

        async def one(task_id: str) -> Task | RunwayError:
            outcome: Task | RunwayError
            try:
                outcome = await self._wait(
                    task_id, gated_get, timeout, poll_interval, not_found_grace, on_update
                )
            except RunwayError as exc:
                outcome = exc
            if on_done is not None:
                result = on_done(task_id, outcome)
                if isinstance(result, Awaitable):
                    await result
            return outcome

        results = await asyncio.gather(*(one(task_id) for task_id in ids))
        return dict(zip(ids, results, strict=True))
