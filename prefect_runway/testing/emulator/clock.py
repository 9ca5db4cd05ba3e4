"""The emulator's clock: real time plus an offset that tests move forward.

Every time-based behaviour of the emulator reads this clock: task progress (PENDING, RUNNING,
SUCCEEDED), output URL expiry and the rolling 24-hour daily-generation window. Advancing it
makes "tomorrow" take no real time. It never runs backwards.

Example:
    >>> clock = Clock()
    >>> before = clock.time()
    >>> clock.advance(86400)
    86400.0
    >>> clock.time() - before >= 86400
    True
"""

from __future__ import annotations

import math
import threading
import time


class Clock:
    """Real time shifted by an offset that only grows."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of real time."""
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward.

        Args:
            seconds: How far, in seconds (finite, at least 0).

        Returns:
            The new total offset in seconds.

        Raises:
            ValueError: ``seconds`` is negative or not finite.
        """
        seconds = float(seconds)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"advance_seconds must be a finite number >= 0, got {seconds!r}")
        with self._lock:
            self._offset += seconds
            return self._offset

    def monotonic(self) -> float:
        """``time.monotonic()`` plus the offset: for durations."""
        return time.monotonic() + self.offset

    def time(self) -> float:
        """``time.time()`` plus the offset: for timestamps and URL expiry."""
        return time.time() + self.offset
