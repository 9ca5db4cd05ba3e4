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
)


@dataclass(frozen=True)
class Faults:
    """Faults the emulator injects into ``POST .../v1/image_to_video`` (submits).

    Every ``rate_*`` is a probability in ``[0, 1]``; each fault is drawn independently, in the
    order reset, 429, 5xx, malformed, wrapped error (before validation, so no task is created),
    then lost response (after the task is created). ``latency`` applies to every API request.

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
        hang_after: Once this many tasks exist, further submits are held without an answer
            and create nothing, until the faults change or the emulator stops: a clean point
            at which to kill a client in crash-and-resume tests.
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

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        for name in ("retry_after", "latency"):
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


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
