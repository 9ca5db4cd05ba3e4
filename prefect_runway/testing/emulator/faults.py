"""Fault-injection settings for the Runway emulator."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_RATE_FIELDS = (
    "rate_429",
    "rate_5xx",
    "rate_reset",
    "rate_lost_response",
    "rate_malformed",
    "rate_wrapped_error",
    "rate_task_failure",
    "rate_download_error",
    "rate_truncated_download",
    "rate_truncated_download_unsized",
    "rate_after_create",
    "rate_get_404",
    "rate_get_5xx",
    "rate_get_slow",
    "rate_get_reset",
)

BEFORE_CREATE = ("ok", "reset", "429", "5xx", "malformed", "wrapped_error")
"""Script entries that answer before any task exists (or, for ``ok``, inject nothing);
a status code from 500 to 599 (``"503"``) is one too: that 5xx with the API's error body."""
AFTER_CREATE = (
    "drop", "truncate", "slow", "wrapped_error", "malformed", "noid",
    "wrapped", "ms", "us", "ns", "iso", "extra",
)  # fmt: skip
"""What follows a created task, written ``created:<kind>`` in a script: no answer at all
(``drop``), half a body then a closed connection (``truncate``), the answer after
``slow_seconds`` (``slow``), HTTP 200 with a proxy's wrapped ``{"code": 500}``
(``wrapped_error``), with HTML (``malformed``) or with JSON lacking any ID (``noid``); or a
gateway's 5xx with an HTML body, as a status code from 500 to 599 (``created:502``,
``created:524``). The last six are answers that do carry the ID, in a proxy's variants: the
wrapped shape (``wrapped``), creation times in epoch milli-, micro- or nanoseconds or ISO 8601
(``ms``, ``us``, ``ns``, ``iso``), and fields no client knows (``extra``)."""

GET_FAULTS = ("ok", "404", "5xx", "slow", "reset")
"""Faults of ``GET /v1/tasks/{id}`` (polls), in a ``get_script`` or a ``get_bursts`` entry:
no fault (``ok``), ``Task not found.`` (``404``), a status drawn from ``get_statuses_5xx``
(``5xx``) or a given status from 500 to 599 (``"500"``) with the API's JSON error body, the
answer after ``slow_seconds`` (``slow``), or the connection closed without an answer
(``reset``)."""


@dataclass(frozen=True)
class Faults:
    """Faults the emulator injects into ``POST .../v1/image_to_video`` (submits).

    Every ``rate_*`` is a probability in ``[0, 1]``; each fault is drawn independently, in the
    order reset, 429, 5xx, malformed, wrapped error (before validation, so no task is created),
    then lost response and after-create faults (after the task is created). ``latency``
    applies to every API request.

    ``script`` overrides the draws request by request: its entries are used by the next
    submit POSTs in order (one each; setting the faults starts it again), then the rates
    apply. An entry is ``"ok"`` (no fault), a fault before creation (``"reset"``, ``"429"``,
    ``"malformed"``, ``"wrapped_error"``, ``"5xx"`` or a status such as ``"503"``) or
    ``"created:<kind>"``, a task created and then one of `AFTER_CREATE` (or a status such as
    ``"created:502"``).

    Example:
        ```python
        emu.set_faults(Faults(script=("created:502", "ok")))  # paid twice, one answer read
        emu.set_faults(Faults(rate_after_create=0.15, after_create=("502", "524")))
        emu.set_faults(Faults(get_not_found_seconds=3))  # a fresh task 404s for 3 s
        emu.set_faults(Faults(get_bursts=(("503", 0, 30),)))  # 30 s of 503s from now
        emu.set_faults(Faults(get_script=("500", "404", "ok")))  # the next three polls
        ```

    Polls (``GET /v1/tasks/{id}``, not ``DELETE``) have faults of their own, checked in this
    order: the next ``get_script`` entry, an active ``get_bursts`` window, a task's
    ``get_not_found_seconds``, then the ``rate_get_*`` draws (from a generator of their own,
    so they never shift the submit faults' seeded sequence). Each injected one is counted
    in the stats' ``get_faults`` by kind (``"404"``, ``"503"``, ``"slow"``...).

    Attributes:
        rate_429: Fraction of submits answered 429 with a ``Retry-After`` header.
        retry_after: Value of ``Retry-After`` in seconds. Sent as given (``"0.05"``) so tests
            stay fast; real Runway sends whole seconds.
        rate_5xx: Fraction answered 502, 503 or 504 (picked at random).
        rate_reset: Fraction whose connection is dropped before processing (no task created).
        rate_lost_response: Fraction where the task is created, then the connection is dropped
            without any response.
        rate_malformed: Fraction answered 200 with a body that is not JSON (no task created).
        rate_wrapped_error: Proxy dialect only: fraction answered HTTP 200 with a wrapped
            ``{"code": 500, ...}`` error body (no task created).
        rate_task_failure: Fraction of created tasks that end FAILED.
        failure_code: ``failureCode`` of those failed tasks.
        latency: Seconds slept in the handler thread before every API request.
        seed: Seed for the fault random generator, for reproducible runs.
        rate_download_error: Fraction of output video downloads (GET) answered 500; the video
            stays downloadable, so a later try may succeed.
        rate_truncated_download: Fraction of video downloads cut short: the full
            ``Content-Length`` is announced, half the bytes are sent, then the connection
            closes (a client that checks framing sees it).
        rate_truncated_download_unsized: Fraction of video downloads cut short *without* a
            ``Content-Length`` (the body ends at the connection's close, as some CDNs and
            proxies answer): only a length from a second request (HEAD) reveals it.
        statuses_5xx: The statuses ``rate_5xx`` picks from, with the API's JSON error body.
        rate_after_create: Fraction of created tasks whose answer is then one of
            ``after_create`` (picked at random): the faults of gateways and proxies.
        after_create: Kinds from `AFTER_CREATE`, or status codes 500-599 as strings.
        slow_seconds: How late a ``slow`` answer comes (make it longer than the client's
            timeout to see a timeout after creation).
        script: Faults for the next submit POSTs, one each, before the rates (see above).
        hang_after: Once this many tasks exist, further submits are held without an answer
            and create nothing, until the faults change or the emulator stops: a clean point
            at which to kill a client in crash-and-resume tests.
        get_script: Faults for the next polls, one each, in order (any task), before the
            rest: entries from `GET_FAULTS` or a status such as ``"500"``.
        get_bursts: Windows of emulator time in which every poll gets one fault: entries
            ``(kind, after, seconds)``, a kind from `GET_FAULTS` (or a status) for
            ``seconds`` starting ``after`` seconds from when these faults were set (on the
            emulator clock, so `Emulator.advance_clock` moves through them).
        get_not_found_seconds: Every task answers 404 for this long after its creation (a
            proxy's fresh task), whatever the dialect.
        rate_get_404: Fraction of polls answered 404 (the task still exists).
        rate_get_5xx: Fraction answered a status drawn from ``get_statuses_5xx``.
        get_statuses_5xx: The statuses ``rate_get_5xx`` and a ``5xx`` entry pick from.
        rate_get_slow: Fraction answered after ``slow_seconds``.
        rate_get_reset: Fraction whose connection is closed without an answer.
    """

    rate_429: float = 0.0
    retry_after: float = 0.05
    rate_5xx: float = 0.0
    rate_reset: float = 0.0
    rate_lost_response: float = 0.0
    rate_malformed: float = 0.0
    rate_wrapped_error: float = 0.0
    rate_task_failure: float = 0.0
    failure_code: str = "INTERNAL.BAD_OUTPUT.CODE01"
    latency: float = 0.0
    seed: int | None = None
    hang_after: int | None = None
    rate_download_error: float = 0.0
    rate_truncated_download: float = 0.0
    rate_truncated_download_unsized: float = 0.0
    statuses_5xx: tuple[int, ...] = (502, 503, 504)
    rate_after_create: float = 0.0
    after_create: tuple[str, ...] = ("502",)
    slow_seconds: float = 2.0
    script: tuple[str, ...] = ()
    get_script: tuple[str, ...] = ()
    get_bursts: tuple[tuple[str, float, float], ...] = ()
    get_not_found_seconds: float = 0.0
    rate_get_404: float = 0.0
    rate_get_5xx: float = 0.0
    get_statuses_5xx: tuple[int, ...] = (500, 502, 503, 504)
    rate_get_slow: float = 0.0
    rate_get_reset: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "statuses_5xx", "after_create", "script", "get_script", "get_bursts",
            "get_statuses_5xx",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise ValueError(f"{name} must be a list, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        for status in self.statuses_5xx:
            if not _is_5xx(status):
                raise ValueError(f"statuses_5xx must hold statuses 500-599, got {status!r}")
        if not self.statuses_5xx:
            raise ValueError("statuses_5xx must hold at least one status, e.g. [503]")
        for status in self.get_statuses_5xx:
            if not _is_5xx(status):
                raise ValueError(f"get_statuses_5xx must hold statuses 500-599, got {status!r}")
        if not self.get_statuses_5xx:
            raise ValueError("get_statuses_5xx must hold at least one status, e.g. [500]")
        for entry in self.get_script:
            if not _get_kind(entry):
                raise ValueError(
                    f"get_script entry {entry!r} is unknown; use one of "
                    f"{', '.join(GET_FAULTS)} or a status such as '500'"
                )
        bursts = []
        for burst in self.get_bursts:
            if (
                isinstance(burst, (str, bytes))
                or not isinstance(burst, (list, tuple))
                or len(burst) != 3
                or not _get_kind(burst[0])
                or not all(_is_number(v) and float(v) >= 0 for v in burst[1:])
            ):
                raise ValueError(
                    f"get_bursts entry {burst!r} is not [kind, after_seconds, seconds] with a "
                    f"kind from {', '.join(GET_FAULTS)} (or a status such as '503') and two "
                    "numbers >= 0"
                )
            bursts.append((str(burst[0]), float(burst[1]), float(burst[2])))
        object.__setattr__(self, "get_bursts", tuple(bursts))
        for kind in self.after_create:
            if not _after_kind(kind):
                raise ValueError(
                    f"after_create entry {kind!r} is unknown; use one of "
                    f"{', '.join(AFTER_CREATE)} or a status 500-599 such as '502'"
                )
        if not self.after_create:
            raise ValueError("after_create must hold at least one kind, e.g. ['502']")
        for entry in self.script:
            if not isinstance(entry, str) or not (
                entry in BEFORE_CREATE
                or _is_5xx(entry)
                or (entry.startswith("created:") and _after_kind(entry[len("created:") :]))
            ):
                raise ValueError(
                    f"script entry {entry!r} is unknown; use 'ok', one of "
                    f"{', '.join(BEFORE_CREATE[1:])}, a status such as '503', or "
                    "'created:<kind>' with a kind from "
                    f"{', '.join(AFTER_CREATE)} or a status such as 'created:502'"
                )
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        for name in ("retry_after", "latency", "slow_seconds", "get_not_found_seconds"):
            value = getattr(self, name)
            if not _is_number(value) or float(value) < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if not isinstance(self.failure_code, str) or not self.failure_code:
            raise ValueError("failure_code must be a non-empty string")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.hang_after is not None and (
            isinstance(self.hang_after, bool)
            or not isinstance(self.hang_after, int)
            or self.hang_after < 0
        ):
            raise ValueError(f"hang_after must be a non-negative integer, got {self.hang_after!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Faults:
        """Build faults from a JSON object; missing fields take their defaults.

        Args:
            data: Field names of :class:`Faults` mapped to values.

        Returns:
            The new faults.

        Raises:
            ValueError: On an unknown field or an invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown fault fields: {', '.join(unknown)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """Return the faults as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def retry_after_header(self) -> str:
        """Return ``retry_after`` formatted for the ``Retry-After`` header."""
        value = float(self.retry_after)
        return str(int(value)) if value.is_integer() else repr(value)


def _is_5xx(value: object) -> bool:
    """True for a status 500-599, as an int or a string of digits."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return isinstance(value, int) and 500 <= value <= 599


def _get_kind(kind: object) -> bool:
    return isinstance(kind, str) and (kind in GET_FAULTS or _is_5xx(kind))


def _after_kind(kind: object) -> bool:
    return isinstance(kind, str) and (kind in AFTER_CREATE or _is_5xx(kind))


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
