"""Today's generations, as the client counts them: per model for one batch (`DailyQuota`),
shared out among a flow's listing pages (`PageQuota`), and what a plan defers (`split`,
`days_needed`).

Runway's tiers cap generations per model per day; the organization endpoint tells what is
left (`prefect_runway.api.models.Organization.remaining_daily`) and a create past it answers
429 with a daily-limit message (`prefect_runway.errors.RunwayDailyLimitError`). This module is
the client's side of that arithmetic, used by the engine and the flows; the emulator keeps
its own model of Runway's side (`prefect_runway.testing.emulator`).

Example:
    ```python
    from prefect_runway.ledger.quota import DailyQuota, split

    quota = DailyQuota({"gen4_turbo": 2})
    quota.take("gen4_turbo"), quota.take("gen4_turbo"), quota.take("gen4_turbo")
    # (True, True, False)
    split(10, remaining=4)   # (4, 6): 4 submitted today, 6 deferred
    ```
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class DailyQuota:
    """Generations still allowed today, per model, shared by every image of a batch.

    Known counts come from the organization endpoint; a daily-limit answer (429 on create)
    closes the model's quota for the rest of the run, whatever was known.

    Args:
        remaining: Model -> generations left today, when the API tells it.
    """

    def __init__(self, remaining: dict[str, int] | None = None) -> None:
        self._remaining = dict(remaining or {})
        self.reasons: dict[str, str] = {}

    def knows(self, model: str) -> bool:
        """True when the organization endpoint told `model`'s remaining generations."""
        return model in self._remaining

    def open(self, model: str) -> bool:
        """True while `model` may still be submitted today."""
        return model not in self.reasons and self._remaining.get(model, 1) > 0

    def take(self, model: str) -> bool:
        """Use one generation of today's quota; False (and nothing used) when none is left."""
        if not self.open(model):
            return False
        if model in self._remaining:
            self._remaining[model] -= 1
        return True

    def give_back(self, model: str) -> None:
        """Return a generation taken for a POST that created nothing."""
        if model in self._remaining:
            self._remaining[model] += 1

    def close(self, model: str, reason: str) -> None:
        """No more `model` today, because of `reason` (the API's daily-limit answer)."""
        self.reasons.setdefault(model, reason)

    def why(self, model: str) -> str:
        """Why `model` is deferred, for the row."""
        return self.reasons.get(model) or (
            f"today's quota of {model} generations is used up (organization endpoint)"
        )


class _Row(Protocol):
    """What `PageQuota.settle` reads of a `prefect_runway.ledger.engine.SubmissionRow`."""

    @property
    def paid(self) -> bool: ...

    @property
    def status(self) -> str: ...

    @property
    def error(self) -> str | None: ...


class PageQuota:
    """Today's generations left (None: unknown), shared out among listing pages: each page
    gets what is left after the pages in flight, and a daily-limit answer closes it for the
    pages after.

    Args:
        remaining: Generations left today (the organization endpoint); None: unknown.
    """

    def __init__(self, remaining: int | None) -> None:
        self.remaining = remaining
        self.closed_reason: str | None = None

    def allot(self, page_size: int) -> int | None:
        """Generations for a page of `page_size` images: 0 once closed, None when unknown."""
        if self.closed_reason is not None:
            return 0
        if self.remaining is None:
            return None
        allotted = min(self.remaining, page_size)
        self.remaining -= allotted
        return allotted

    def settle(self, allotted: int | None, rows: Iterable[_Row]) -> None:
        """A page ended with `rows`: give back what it did not use, and close the quota at
        its first daily-limit deferral. Unknown outcomes count as used (a task may exist)."""
        rows = list(rows)
        paid = sum(row.paid or row.status == "unknown" for row in rows)
        if self.remaining is not None and allotted is not None:
            self.remaining += max(allotted - paid, 0)  # what the page did not use
        if self.closed_reason is None:
            self.closed_reason = next(
                (r.error for r in rows if r.status == "deferred" and "limit" in (r.error or "")),
                None,
            )


def split(new: int, remaining: int | None) -> tuple[int, int]:
    """`new` images to pay for, split into (today, deferred) by `remaining` (None: no known
    limit, nothing deferred).

    Example:
        >>> split(10, 4), split(3, 4), split(3, None)
        ((4, 6), (3, 0), (3, 0))
    """
    deferred = 0 if remaining is None else max(new - remaining, 0)
    return new - deferred, deferred


def days_needed(deferred: int, max_daily: int | None) -> int | None:
    """Days (ticks of a daily schedule) still needed for `deferred` images at `max_daily`
    generations a day; None when nothing is deferred or the tier's limit is unknown.

    Example:
        >>> days_needed(120, 50), days_needed(0, 50), days_needed(3, None)
        (3, None, None)
    """
    if not deferred or not max_daily:
        return None
    return -(-deferred // max_daily)
