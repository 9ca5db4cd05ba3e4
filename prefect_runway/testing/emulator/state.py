"""Thread-safe emulator state: tasks, lazy lifecycle scheduling, credits, uploads, stats.

Task status is computed lazily from timestamps under one lock; no background thread runs.
Slots are scheduled as if time ran continuously: a throttled task starts exactly when a slot
frees (or when a running task is cancelled), in creation order.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from .clock import Clock
from .faults import Faults
from .validation import MODELS, TASK_MODELS, ValidatedSubmit, ValidatedTask

SUBMIT_FAULTS = ("hang", "reset", "429", "5xx", "malformed", "wrapped_error")
"""Faults answered before any task exists (``5xx`` is drawn as its status, e.g. ``"503"``)."""
DAY_SECONDS = 86400.0


class DailyLimitExceeded(Exception):
    """A create over the model's daily generation limit (rolling 24 hours).

    Attributes:
        model: The model.
        limit: Its maximum generations per rolling 24 hours.
        retry_after: Seconds until the oldest generation of the window leaves it.
    """

    def __init__(self, model: str, limit: int, retry_after: float) -> None:
        super().__init__(f"daily limit of {limit} generations reached for {model}")
        self.model = model
        self.limit = limit
        self.retry_after = retry_after


def iso_utc(wall: float) -> str:
    """Format a Unix timestamp as ISO 8601 UTC with millisecond precision and ``Z``."""
    moment = datetime.fromtimestamp(wall, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Task:
    """One generation task and its timeline (monotonic clock unless named wall)."""

    id: str
    body: dict[str, Any]
    model: str
    credits: int
    created_wall: float
    created_at: float
    ready_at: float
    fail_code: str | None
    started_at: float | None = None
    ends_at: float | None = None
    cancelled_at: float | None = None
    settled: bool = False
    endpoint: str = "image_to_video"
    output: str = "video"
    output_count: int = 1
    estimate: bool = True
    routing: bool = False

    def status(self, now: float) -> str:
        """Return the Runway status at ``now`` (the scheduler must have advanced to ``now``)."""
        if self.cancelled_at is not None:
            return "CANCELLED"
        if self.started_at is None or self.ends_at is None:
            return "PENDING" if now < self.ready_at else "THROTTLED"
        if now < self.ends_at:
            return "RUNNING"
        return "FAILED" if self.fail_code else "SUCCEEDED"


@dataclass
class Upload:
    """An ephemeral upload slot and, once received, its bytes."""

    filename: str
    data: bytes | None = None


@dataclass
class _Stats:
    posts: int = 0
    tasks_created: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    lost_responses: int = 0
    after_create: Counter[str] = field(default_factory=Counter)
    polls: int = 0
    cancels: int = 0
    uploads: int = 0
    organization: int = 0
    downloads: int = 0
    download_errors: int = 0
    get_faults: Counter[str] = field(default_factory=Counter)
    truncated_downloads: int = 0


class EmulatorState:
    """All mutable emulator state behind one lock.

    Args:
        concurrency: Maximum RUNNING tasks at once.
        generation_seconds: RUNNING duration.
        pending_seconds: PENDING duration before a task may take a slot.
        credit_balance: Starting credit balance.
        faults: Initial fault settings.
        daily_limit: Maximum generations per model in any rolling 24 hours; None: no limit.
        clock: The clock every time-based behaviour reads (a new one by default).
        concurrency_per_model: `concurrency` counts each model's RUNNING tasks on their own
            (Runway's ``maxConcurrentGenerations`` is per model), each model's queue FIFO;
            False (default): one limit over every model.
    """

    def __init__(
        self,
        concurrency: int,
        generation_seconds: float,
        pending_seconds: float,
        credit_balance: int,
        faults: Faults,
        daily_limit: int | None = None,
        clock: Clock | None = None,
        concurrency_per_model: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if daily_limit is not None and daily_limit < 1:
            raise ValueError("daily_limit must be at least 1 (None: no limit)")
        if generation_seconds < 0 or pending_seconds < 0:
            raise ValueError("generation_seconds and pending_seconds must be >= 0")
        self.concurrency = concurrency
        self.concurrency_per_model = concurrency_per_model
        self.generation_seconds = float(generation_seconds)
        self.pending_seconds = float(pending_seconds)
        self.initial_credits = int(credit_balance)
        self.daily_limit = daily_limit
        self.clock = clock or Clock()
        self.lock = threading.Lock()
        self._faults = faults
        self._rng = random.Random(faults.seed)
        self._get_rng = random.Random(faults.seed)
        self._faults_set_at = self.clock.monotonic()
        self.submit_gate = threading.Event()  # cleared by Emulator.hold_submits (tests)
        self.submit_gate.set()
        self.held_submits = 0
        self._clear()

    def _clear(self) -> None:
        self.credit_balance = self.initial_credits
        self._tasks: dict[str, Task] = {}
        self._history: list[Task] = []  # every task created, deleted ones too (usage reads it)
        self._ever_succeeded: set[str] = set()
        self._waiting: deque[Task] = deque()
        self._running: list[Task] = []
        self._bodies: set[str] = set()
        self._daily: dict[str, deque[float]] = {}
        self._uploads: dict[str, Upload] = {}
        self._stats = _Stats()
        self._script_at = 0
        self._get_script_at = 0
        self._admitted = 0  # submits let through to create a task (hang_after counts these)

    # -- faults -------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The current fault settings."""
        with self.lock:
            return self._faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings and reseed the fault random generator."""
        with self.lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)
            self._get_rng = random.Random(faults.seed)
            self._faults_set_at = self.clock.monotonic()
            self._script_at = 0
            self._get_script_at = 0

    def reset(self) -> None:
        """Forget all tasks, uploads, stats and daily usage; restore the credit balance.

        The clock keeps its offset: emulated time never runs backwards."""
        with self.lock:
            self._clear()

    def draw_submit_fault(self, proxy: bool) -> tuple[str | None, str | None]:
        """Count a submit POST and draw its faults: the next ``script`` entry, else the rates.

        Returns:
            ``(before, after)``: the fault to answer before any task exists (``"hang"``,
            ``"reset"``, ``"429"``, ``"malformed"``, ``"wrapped_error"`` or a 5xx status such
            as ``"503"``), or None; and the after-create fault a script asked for (drawn by
            `draw_after_create` otherwise), or None.
        """
        with self.lock:
            self._stats.posts += 1
            f = self._faults
            if f.hang_after is not None and self._admitted >= f.hang_after:
                self._stats.rejected["fault_hang"] += 1
                return "hang", None
            if self._script_at < len(f.script):
                entry = f.script[self._script_at]
                self._script_at += 1
                if entry.startswith("created:"):
                    self._admitted += 1
                    return None, entry[len("created:") :]
                if entry == "ok":
                    self._admitted += 1
                    return None, "ok"
                return self._before(entry), None
            draws = (
                ("reset", f.rate_reset),
                ("429", f.rate_429),
                ("5xx", f.rate_5xx),
                ("malformed", f.rate_malformed),
                ("wrapped_error", f.rate_wrapped_error),
            )
            for name, rate in draws:
                hit = self._rng.random() < rate
                if hit and (name != "wrapped_error" or proxy):
                    return self._before(name), None
            self._admitted += 1  # counted now, so concurrent submits cannot overshoot
            return None, None

    def _before(self, name: str) -> str:
        """Count a fault answered before creation; a ``5xx`` becomes its status (lock held)."""
        if name == "5xx" or (name.isdigit() and int(name) >= 500):
            self._stats.rejected["fault_5xx"] += 1
            return str(self._rng.choice(self._faults.statuses_5xx)) if name == "5xx" else name
        self._stats.rejected[f"fault_{name}"] += 1
        return name

    def draw_after_create(self, scripted: str | None) -> str | None:
        """The fault that follows a created task (counted in ``after_create``), or None.

        Args:
            scripted: What the script asked for (``"ok"``: nothing), or None to draw it:
                ``rate_lost_response`` (a ``drop``), then ``rate_after_create``.
        """
        with self.lock:
            f = self._faults
            kind = scripted
            if kind is None:  # drawn even at rate 0, so seeded runs keep their sequence
                kind = "drop" if self._rng.random() < f.rate_lost_response else None
            if kind is None and f.rate_after_create > 0:
                if self._rng.random() < f.rate_after_create:
                    kind = self._rng.choice(f.after_create)
            if kind is None or kind == "ok":
                return None
            self._stats.after_create[kind] += 1
            if kind == "drop":
                self._stats.lost_responses += 1
            return kind

    def wait_at_gate(self, stopping: Any) -> None:
        """Hold a submit while the gate is closed, counted in ``held_submits``."""
        if self.submit_gate.is_set():
            return
        with self.lock:
            self.held_submits += 1
        try:
            while not self.submit_gate.wait(0.02) and not stopping():
                pass
        finally:
            with self.lock:
                self.held_submits -= 1

    def hanging(self) -> bool:
        """True while submits are held (``hang_after`` reached)."""
        with self.lock:
            limit = self._faults.hang_after
            return limit is not None and self._admitted >= limit

    def draw_get_fault(self, task_id: str) -> str | None:
        """Draw the fault of one poll of `task_id` (see `Faults`) and count it, or None.

        Returns:
            ``"404"``, a 5xx status such as ``"503"``, ``"slow"`` or ``"reset"``; None for
            no fault (a script's ``ok`` included).
        """
        with self.lock:
            f = self._faults
            now = self.clock.monotonic()
            kind: str | None = None
            if self._get_script_at < len(f.get_script):
                kind = f.get_script[self._get_script_at]
                self._get_script_at += 1
            else:
                since = now - self._faults_set_at
                for burst, after, seconds in f.get_bursts:
                    if after <= since < after + seconds:
                        kind = burst
                        break
            if kind is None and f.get_not_found_seconds > 0:
                task = self._tasks.get(task_id)
                if task is not None and now - task.created_at < f.get_not_found_seconds:
                    kind = "404"
            if kind is None:
                draws = (
                    ("reset", f.rate_get_reset),
                    ("404", f.rate_get_404),
                    ("5xx", f.rate_get_5xx),
                    ("slow", f.rate_get_slow),
                )
                for name, rate in draws:
                    if rate > 0 and self._get_rng.random() < rate:
                        kind = name
                        break
            if kind is None or kind == "ok":
                return None
            if kind == "5xx":
                kind = str(self._get_rng.choice(f.get_statuses_5xx))
            self._stats.get_faults[kind] += 1
            return kind

    def draw_download_error(self) -> bool:
        """Draw whether a video download fails (and count it if so)."""
        with self.lock:
            failed = self._rng.random() < self._faults.rate_download_error
            if failed:
                self._stats.download_errors += 1
            return failed

    def draw_download_truncation(self) -> str | None:
        """Draw whether a video download is cut short: ``"sized"`` (the full Content-Length
        announced), ``"unsized"`` (no Content-Length) or None; counted if so."""
        with self.lock:
            kind = None
            if self._rng.random() < self._faults.rate_truncated_download:
                kind = "sized"
            elif self._rng.random() < self._faults.rate_truncated_download_unsized:
                kind = "unsized"
            if kind is not None:
                self._stats.truncated_downloads += 1
            return kind

    def reject(self, reason: str) -> None:
        """Count a rejected submit under ``reason``."""
        with self.lock:
            self._stats.rejected[reason] += 1

    def count(self, counter: str) -> None:
        """Increment the ``polls``, ``cancels``, ``uploads``, ``organization`` or ``downloads``
        counter."""
        with self.lock:
            setattr(self._stats, counter, getattr(self._stats, counter) + 1)

    # -- scheduling ---------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Start waiting tasks whose slot time has come; settle finished ones."""
        gen = self.generation_seconds
        conc = self.concurrency
        per_model = self.concurrency_per_model
        blocked: set[str] = set()  # models whose oldest waiting task cannot start yet
        kept: deque[Task] = deque()
        while self._waiting:
            head = self._waiting.popleft()
            if head.model in blocked:
                kept.append(head)
                continue
            ready = head.ready_at
            ends = sorted(
                t.ends_at for t in self._running if t.ends_at is not None and t.ends_at > ready
                and (not per_model or t.model == head.model)
            )
            start = ready if len(ends) < conc else ends[len(ends) - conc]
            if start > now:
                kept.append(head)
                if not per_model:  # one queue: nothing behind it starts either
                    kept.extend(self._waiting)
                    self._waiting.clear()
                    break
                blocked.add(head.model)
                continue
            head.started_at = start
            head.ends_at = start + gen
            self._running.append(head)
        self._waiting = kept
        still: list[Task] = []
        for task in self._running:
            if task.ends_at is not None and task.ends_at <= now:
                self._settle(task)
            else:
                still.append(task)
        self._running = still

    def _settle(self, task: Task) -> None:
        if task.settled:
            return
        task.settled = True
        if task.cancelled_at is None:
            if task.fail_code:
                self.credit_balance += task.credits
            else:
                self._ever_succeeded.add(task.id)

    # -- daily limit --------------------------------------------------------------------------

    def _window(self, model: str) -> deque[float]:
        """Creation times of ``model``'s generations in the last 24 hours (lock held)."""
        window = self._daily.setdefault(model, deque())
        cutoff = self.clock.time() - DAY_SECONDS
        while window and window[0] <= cutoff:
            window.popleft()
        return window

    def advance_clock(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return its total offset."""
        with self.lock:
            offset = self.clock.advance(seconds)
            self._advance(self.clock.monotonic())
            return offset

    # -- tasks --------------------------------------------------------------------------------

    def create_task(
        self,
        body: dict[str, Any],
        submit: ValidatedSubmit | ValidatedTask,
        task_id: str | None = None,
    ) -> Task | None:
        """Charge credits and create a task (under `task_id` when given, else a new UUID).

        Returns:
            The new task, or None when the credit balance is too low (counted as rejected).

        Raises:
            DailyLimitExceeded: the model's daily limit is reached (counted as rejected).
        """
        with self.lock:
            window = self._window(submit.model)
            if self.daily_limit is not None and len(window) >= self.daily_limit:
                self._stats.rejected["daily_limit"] += 1
                retry_after = window[0] + DAY_SECONDS - self.clock.time()
                raise DailyLimitExceeded(submit.model, self.daily_limit, max(retry_after, 0.0))
            if self.credit_balance < submit.credits:
                self._stats.rejected["credits"] += 1
                return None
            now = self.clock.monotonic()
            self._advance(now)
            fail_code = submit.fail_code
            if fail_code is None and self._rng.random() < self._faults.rate_task_failure:
                fail_code = self._faults.failure_code
            task = Task(
                id=task_id or str(uuid.uuid4()),
                body=body,
                model=submit.model,
                credits=submit.credits,
                created_wall=self.clock.time(),
                created_at=now,
                ready_at=now + self.pending_seconds,
                fail_code=fail_code,
            )
            if isinstance(submit, ValidatedTask):
                task.endpoint = submit.endpoint
                task.output = submit.output
                task.output_count = submit.output_count
                task.estimate = submit.estimate
                task.routing = submit.routing
            self.credit_balance -= submit.credits
            self._tasks[task.id] = task
            self._history.append(task)
            self._waiting.append(task)
            self._bodies.add(json.dumps(body, sort_keys=True))
            window.append(task.created_wall)
            self._stats.tasks_created += 1
            return task

    def get_task(self, task_id: str) -> tuple[Task, str, float] | None:
        """Return ``(task, status, now)`` for a known task, else None."""
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            now = self.clock.monotonic()
            self._advance(now)
            return task, task.status(now), now

    def cancel_or_delete(self, task_id: str) -> bool:
        """Cancel an unfinished task or delete a finished one.

        Returns:
            False when the task is unknown.
        """
        with self.lock:
            task = self._tasks.get(task_id)
            if task is None:
                return False
            now = self.clock.monotonic()
            self._advance(now)
            status = task.status(now)
            if status in ("PENDING", "THROTTLED"):
                self._waiting.remove(task)
                task.cancelled_at = now
                task.settled = True
                self.credit_balance += task.credits
            elif status == "RUNNING":
                # Stays in the running list with its end moved to now, so the slot frees now.
                task.cancelled_at = now
                task.ends_at = now
                task.settled = True
                self.credit_balance += task.credits
            else:
                del self._tasks[task_id]
            return True

    def has_output(self, task_id: str) -> bool:
        """Whether a task ever succeeded (its video stays downloadable after deletion)."""
        with self.lock:
            self._advance(self.clock.monotonic())
            return task_id in self._ever_succeeded

    def snapshots(self) -> list[dict[str, Any]]:
        """Return test-friendly snapshots of all tasks, in creation order."""
        with self.lock:
            now = self.clock.monotonic()
            self._advance(now)
            return [
                {
                    "id": t.id,
                    "status": t.status(now),
                    "body": t.body,
                    "created_at": iso_utc(t.created_wall),
                    "model": t.model,
                    "failure_code": t.fail_code,
                }
                for t in self._tasks.values()
            ]

    # -- uploads ------------------------------------------------------------------------------

    def create_upload(self, filename: str) -> str:
        """Register an upload slot and return its token."""
        with self.lock:
            token = uuid.uuid4().hex
            self._uploads[token] = Upload(filename=filename)
            self._stats.uploads += 1
            return token

    def upload_exists(self, token: str) -> bool:
        """Whether an upload slot was issued for ``token``."""
        with self.lock:
            return token in self._uploads

    def complete_upload(self, token: str, data: bytes) -> bool:
        """Store an upload's bytes; False when the token is unknown."""
        with self.lock:
            upload = self._uploads.get(token)
            if upload is None:
                return False
            upload.data = data
            return True

    def upload_ready(self, token: str) -> bool:
        """Whether an upload's file has been received."""
        with self.lock:
            upload = self._uploads.get(token)
            return upload is not None and upload.data is not None

    # -- reporting ----------------------------------------------------------------------------

    def organization(self) -> dict[str, Any]:
        """Return the ``GET /v1/organization`` body (does not count the request)."""
        with self.lock:
            return {
                "creditBalance": self.credit_balance,
                "tier": {
                    "maxMonthlyCreditSpend": 100000,
                    "models": {
                        m: {
                            "maxConcurrentGenerations": self.concurrency,
                            "maxDailyGenerations": self.daily_limit,
                        }
                        for m in (*MODELS, *TASK_MODELS)
                    },
                },
                "usage": {
                    "models": {
                        m: {"dailyGenerations": len(self._window(m))}
                        for m in (*MODELS, *TASK_MODELS)
                    }
                },
            }

    def today(self) -> date:
        """The current UTC date on the emulator's clock."""
        return datetime.fromtimestamp(self.clock.time(), tz=timezone.utc).date()

    def usage(self, start: date, before: date) -> dict[str, Any]:
        """Return the ``POST /v1/organization/usage`` body for the UTC days ``[start, before)``.

        Every task ever created counts on the UTC day of its creation (by the emulator's
        clock), deleted tasks and tasks whose create answer was dropped or faulted included,
        at its credits net of refunds: a FAILED or CANCELLED task nets 0 (the emulator refunds
        both in full, as their final ``cost.credits`` of 0 says); one still running counts in
        full. Days and models that net 0 are left out.
        """
        with self.lock:
            now = self.clock.monotonic()
            self._advance(now)
            used: dict[date, Counter[str]] = {}
            for t in self._history:
                day = datetime.fromtimestamp(t.created_wall, tz=timezone.utc).date()
                if start <= day < before and t.status(now) not in ("FAILED", "CANCELLED"):
                    used.setdefault(day, Counter())[t.model] += t.credits
            results: list[dict[str, Any]] = []
            models: set[str] = set()
            for day, counts in sorted(used.items()):
                credits = [{"model": m, "amount": n} for m, n in sorted(counts.items()) if n]
                models.update(m for m, n in counts.items() if n)
                if credits:
                    results.append({"date": day.isoformat(), "usedCredits": credits})
            return {"models": sorted(models), "results": results}

    def stats(self) -> dict[str, Any]:
        """Return the ``GET /_emulator/stats`` body."""
        with self.lock:
            now = self.clock.monotonic()
            self._advance(now)
            s = self._stats
            by_status = Counter(t.status(now) for t in self._tasks.values())
            return {
                "posts": s.posts,
                "tasks_created": s.tasks_created,
                "rejected": dict(s.rejected),
                "lost_responses": s.lost_responses,
                "after_create": dict(s.after_create),
                "polls": s.polls,
                "cancels": s.cancels,
                "uploads": s.uploads,
                "organization": s.organization,
                "downloads": s.downloads,
                "download_errors": s.download_errors,
                "get_faults": dict(s.get_faults),
                "truncated_downloads": s.truncated_downloads,
                "duplicates": s.tasks_created - len(self._bodies),
                "by_status": dict(by_status),
                "credit_balance": self.credit_balance,
                "clock_offset": self.clock.offset,
            }
