"""One budget for the account: each model's daily generations, and an optional monthly figure
of credits, reserved in the shared lock store before each POST, so concurrent flow runs and
hosts never both spend the same remainder.

The store is the one the submission locks use (`prefect_runway.settings.lock_manager`): a
JSON file per counter beside the lock files (one host), or a Redis key (several hosts). A
counter holds what was ever ``reserved``, what was ``returned`` (POSTs that provably created
nothing) and the ``open`` reservations whose POST is still in flight.

**Daily generations.** Runway's window is a rolling 24 hours, and only the organization
endpoint knows how much of it is used. A run takes the counter's *settled* figure (reserved,
less returned, less in flight) and only then reads ``maxDailyGenerations - dailyGenerations``
(`open_daily`): whatever was settled before that read is in Runway's count, and whatever is
reserved after it (by any run, in flight or created) is not, so it is counted against the
figure read. No window has to be guessed: every run sizes its share from a fresh reading, and
generations that leave Runway's window are seen by the next run's reading. A reservation whose
POST never answered (its worker died) counts as created once its deadline passes.

**Monthly credits.** ``PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS`` (or `Engine`'s
``monthly_budget_credits``) caps what every run of the account reserves in a UTC month, each
POST reserving its estimated credits; an unknown price is refused, as `check_budget` does.

Why not Prefect's global concurrency limits (``prefect.concurrency``)? A ``rate_limit`` is a
token bucket that frees slots at a steady decay, not Runway's rolling window (after a burst of
N it would free one every 24/N hours while Runway frees none, so its excess would be answered
429); it needs one Prefect API shared by every run, which the CLI and a plain
``submit_images`` call do not have; a limit that does not exist lets callers through unless
``strict``; and nothing can be given back once a slot has decayed. The lock store is already
shared by every path that pays, and answers exactly.

Failing closed: a counter that cannot be read or written (`BudgetStoreError`) stops the
model for the run with that error; it never means "plenty left".

Example:
    ```python
    from prefect_runway.ledger.budget import FileCounters, SharedBudget

    budget = SharedBudget(FileCounters("/tmp/runway-budget"), account="acct", monthly_credits=100)
    budget.open_daily("gen4_turbo", budget.settled("gen4_turbo"), remaining=2)
    held = budget.reserve("gen4_turbo", credits=50)   # one generation and 50 credits
    budget.settle(held, created=False)                # the POST created nothing: given back
    ```
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from prefect_runway.errors import BudgetExceededError, BudgetStoreError, redacted

T = TypeVar("T")
POST_DEADLINE = 3600.0
"""Seconds an unanswered reservation stays "in flight"; then it counts as created."""
DAILY_TTL = 2 * 86400
MONTHLY_TTL = 40 * 86400


class Counters(Protocol):
    """A shared store of small JSON states, each changed atomically."""

    where: str

    def update(self, name: str, change: Callable[[dict[str, Any]], T], ttl: float) -> T:
        """Apply `change` to the state of `name` (``{}`` when new) and store it, atomically;
        return what `change` returned. Raises `BudgetStoreError` when the store fails."""
        ...


class FileCounters:
    """Counters as JSON files in `folder`, changed under a ``flock`` (one host).

    Args:
        folder: Where the files live (beside the lock files by default).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.where = str(self.folder)

    def update(self, name: str, change: Callable[[dict[str, Any]], T], ttl: float) -> T:
        """See `Counters.update` (`ttl` is not needed: old files are a few bytes)."""
        path = self.folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', name)}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(path.with_suffix(".guard"), "a") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)
                state = json.loads(path.read_text()) if path.exists() else {}
                result = change(state)
                temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
                temporary.write_text(json.dumps(state))
                os.replace(temporary, path)  # atomic: a crash leaves the old state whole
                return result
        except (OSError, ValueError) as exc:
            raise BudgetStoreError(_failed(str(path), exc)) from None


class RedisCounters:
    """Counters as Redis keys, changed in optimistic transactions (``WATCH``/``MULTI``).

    Args:
        client: A redis-py client (the lock manager's).
        where: The server, for messages (no password).
    """

    def __init__(self, client: Any, where: str) -> None:
        self.client = client
        self.where = where

    def update(self, name: str, change: Callable[[dict[str, Any]], T], ttl: float) -> T:
        """See `Counters.update`; the key expires `ttl` seconds after its last change."""
        from redis.exceptions import RedisError

        key = f"prefect-runway:budget:{name}"

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            state = json.loads(raw) if raw else {}
            result = change(state)
            pipe.multi()
            pipe.set(key, json.dumps(state), ex=int(ttl))
            return result

        try:
            return self.client.transaction(transaction, key, value_from_callable=True)
        except (RedisError, ValueError) as exc:
            raise BudgetStoreError(_failed(f"{self.where} ({key})", exc)) from None


def counters_for(locks: Any) -> Counters | None:
    """The counters of the lock store `locks` uses; None for a lock manager of another kind
    (then nothing is shared: each run counts alone, as before)."""
    from prefect_runway.ledger.locks import SubmissionLockManager

    if isinstance(locks, SubmissionLockManager):
        return FileCounters(locks.lock_files_directory / "budget")
    try:
        from prefect_runway.ledger.redis_locks import RedisSubmissionLockManager
    except ImportError:  # no 'redis' extra: no Redis lock manager either
        return None
    if isinstance(locks, RedisSubmissionLockManager):
        return RedisCounters(locks.client, redacted(locks.connection_url or ""))
    return None


@dataclass
class Reservation:
    """What one POST holds: (counter name, amount) pairs under one ticket."""

    ticket: str
    parts: list[tuple[str, float]] = field(default_factory=list)


class BudgetRefused(Exception):
    """The account's shared budget has nothing left for this POST (the row is deferred).

    Attributes:
        daily: True when the model's daily generations are used up (not the monthly credits).
    """

    def __init__(self, message: str, daily: bool) -> None:
        super().__init__(message)
        self.daily = daily


class SharedBudget:
    """The account's shared daily generations (per model) and monthly credits.

    Args:
        counters: The shared store (`counters_for`).
        account: The account fingerprint (`RunwayCredentials.account_fingerprint`).
        monthly_credits: Credits every run of the account may reserve in a UTC month; None:
            no monthly figure.
    """

    def __init__(
        self, counters: Counters, account: str, monthly_credits: float | None = None
    ) -> None:
        self.counters = counters
        self.account = account
        self.monthly_credits = monthly_credits
        self._daily: dict[str, tuple[float, int] | None] = {}  # (settled before, remaining)
        self._broken: dict[str, str] = {}

    def _name(self, model: str) -> str:
        return f"{self.account}:daily:{model}"

    def settled(self, model: str) -> float:
        """Generations of `model` reserved and settled so far (take it *before* reading the
        organization endpoint).

        Raises:
            BudgetStoreError: the store failed; `model` stays closed for this run.
        """
        now = time.time()
        return self._guard(model, lambda: self.counters.update(
            self._name(model), lambda state: _settled(state, now), DAILY_TTL))  # fmt: skip

    def open_daily(self, model: str, settled: float, remaining: int | None) -> None:
        """Share `remaining` generations of `model` (read after `settled`) with every run;
        None: the organization endpoint tells no limit now (nothing counted for `model`)."""
        self._daily[model] = None if remaining is None else (settled, remaining)

    def is_open(self, model: str) -> bool:
        """True once `open_daily` sized `model` (or the store failed for it)."""
        return model in self._daily or model in self._broken

    def reserve(self, model: str, credits: float | None) -> Reservation:
        """Reserve one generation of `model` and, with a monthly figure, its `credits`.

        Raises:
            BudgetRefused: nothing left (the row is deferred; nothing was reserved).
            BudgetExceededError: a monthly figure is set and the price is unknown.
            BudgetStoreError: the store failed (fail closed: `model` stops for this run).
        """
        if model in self._broken:  # its count could not be read: never "plenty left"
            raise BudgetStoreError(self._broken[model])
        held = Reservation(uuid.uuid4().hex)
        deadline = time.time() + POST_DEADLINE
        daily = self._daily.get(model)
        if daily is not None:
            base, remaining = daily
            name = self._name(model)
            taken = self._guard(model, lambda: self.counters.update(
                name, lambda s: _reserve(s, held.ticket, 1, base, remaining, deadline),
                DAILY_TTL))  # fmt: skip
            if not taken:
                raise BudgetRefused(
                    f"the account's daily generation limit of {model} is reserved in full by "
                    f"this and other runs ({remaining} left when this run read the organization "
                    "endpoint; shared through the lock store); a later run submits the rest",
                    daily=True,
                )
            held.parts.append((name, 1))
        if self.monthly_credits is not None:
            try:
                self._reserve_credits(model, credits, held, deadline)
            except BaseException:
                self.settle(held, created=False)
                raise
        return held

    def _reserve_credits(
        self, model: str, credits: float | None, held: Reservation, deadline: float
    ) -> None:
        budget = self.monthly_credits
        assert budget is not None
        if credits is None:
            raise BudgetExceededError(
                f"A monthly budget of {budget:g} credits is set (PREFECT_RUNWAY_MONTHLY_BUDGET_"
                f"CREDITS), but the price of {model!r} is unknown to prefect-runway, so its "
                "cost cannot be bounded; nothing was submitted."
            )
        month = datetime.now(timezone.utc).strftime("%Y-%m")
        name = f"{self.account}:credits:{month}"
        taken = self._guard(model, lambda: self.counters.update(
            name, lambda s: _reserve(s, held.ticket, credits, 0, budget, deadline),
            MONTHLY_TTL))  # fmt: skip
        if not taken:
            raise BudgetRefused(
                f"the account's monthly budget of {budget:g} credits for {month} is reserved "
                f"in full by this and other runs (this generation needs ~{credits:g}); raise "
                "PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS or wait for next month",
                daily=False,
            )
        held.parts.append((name, credits))

    def settle(self, held: Reservation, created: bool) -> None:
        """The POST answered: keep the reservation (`created`, or perhaps created), or give
        it back (it provably created nothing). Never raises: a failed give-back stays
        counted (the safe side), a failed settle expires with its deadline."""
        for name, amount in held.parts:
            change = functools.partial(_settle, ticket=held.ticket, amount=amount, created=created)
            ttl = MONTHLY_TTL if ":credits:" in name else DAILY_TTL
            try:
                self.counters.update(name, change, ttl)
            except BudgetStoreError:
                pass
        held.parts.clear()

    def _guard(self, model: str, call: Callable[[], T]) -> T:
        """`call`, unless the store already failed for `model` in this run (then that error)."""
        if model in self._broken:
            raise BudgetStoreError(self._broken[model])
        try:
            return call()
        except BudgetStoreError as exc:
            self._broken[model] = f"{exc} No more {model} is submitted by this run."
            raise BudgetStoreError(self._broken[model]) from None


def _live(state: dict[str, Any], now: float) -> dict[str, list[float]]:
    """The open reservations whose deadline has not passed (the others count as created)."""
    live = {t: v for t, v in (state.get("open") or {}).items() if v[1] > now}
    state["open"] = live
    return live


def _settled(state: dict[str, Any], now: float) -> float:
    live = _live(state, now)
    return float(state.get("reserved", 0)) - float(state.get("returned", 0)) - sum(
        v[0] for v in live.values()
    )


def _reserve(
    state: dict[str, Any], ticket: str, amount: float, base: float, limit: float, deadline: float
) -> bool:
    """Reserve `amount` if what was reserved since `base` leaves room under `limit`."""
    _live(state, time.time())
    used = float(state.get("reserved", 0)) - float(state.get("returned", 0)) - base
    if used + amount > limit + 1e-9:
        return False
    state["reserved"] = float(state.get("reserved", 0)) + amount
    state["open"][ticket] = [amount, deadline]
    return True


def _settle(state: dict[str, Any], ticket: str, amount: float, created: bool) -> None:
    (state.get("open") or {}).pop(ticket, None)
    if not created:
        state["returned"] = float(state.get("returned", 0)) + amount


def _failed(where: str, exc: Exception) -> str:
    return (
        f"Cannot read or write the account's shared budget at {where} ({type(exc).__name__}: "
        f"{exc}); nothing was submitted for it. Check the lock store (PREFECT_RUNWAY_LOCKS), "
        "then rerun."
    )
