"""File locks for paid submissions: exclusive, renewable, and safe to break when abandoned.

Prefect's `FileSystemLockManager` checks a lock and then deletes it, so two contenders can
break the same abandoned lock and both submit; its locks expire while their holder still
works, and an empty lock file (its creator died between creating and writing it) makes it
raise. No maintained library offers the four things a paid call needs, so this module
implements Prefect's `LockManager` protocol by hand:

- **Exclusive**: a lock is a file created with ``O_EXCL``.
- **Renewable**: the holder pushes its expiry forward (`renew_lock`) while its work is in
  flight, by writing a new file and renaming it over the old one.
- **Broken atomically**: contenders break an abandoned lock one at a time (a kernel
  ``flock`` that dies with its process), and only if it still holds the bytes judged
  abandoned; a lock renewed or re-created in between is left alone.
- **Judged soberly**: a holder on this machine (same host, boot and PID namespace) whose PID
  is gone is dead at once; otherwise only the expiry counts. Empty or partial files age out
  by their modification time. Containers that share a lock folder and a hostname but not a
  PID namespace therefore fall back to the expiry, never to a wrong PID check.

Example:
    ```python
    from prefect_runway.ledger.locks import SubmissionLockManager

    locks = SubmissionLockManager("/tmp/runway-locks")
    if locks.try_acquire("runway-i2v-abc", holder="run-1", hold_timeout=60):
        ...  # the paid work; call locks.renew_lock(...) while it lasts
        locks.release_lock("runway-i2v-abc", "run-1")
    ```
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import json
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from prefect.settings import get_current_settings

DEFAULT_HOLD_TIMEOUT = 120.0
"""Seconds a lock lives without renewal. A holder renews it every third of that."""
PARTIAL_FILE_GRACE = 10.0
"""Seconds an empty or unreadable lock file counts as held (its writer may still be writing)."""
_POLL = 0.05


@runtime_checkable
class RenewableLockManager(Protocol):
    """Prefect's `LockManager` protocol as the engine uses it, plus `renew_lock`: exclusive
    locks that expire unless their holder renews them. `SubmissionLockManager` (lock files)
    and `prefect_runway.ledger.redis_locks.RedisSubmissionLockManager` (Redis) implement it.

    The two managers repeat these signatures one for one, and each has sync/async twins
    (``acquire_lock``/``aacquire_lock``, ``wait_for_lock``/``await_for_lock``): deliberate
    mirrors, their bodies one call of `poll_until` / `apoll_until`.
    """

    hold_timeout: float
    """Default seconds a lock lives without renewal."""

    def try_acquire(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Take the lock if it is free (or already `holder`'s); never waits."""
        ...

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """Take the lock, waiting up to `acquire_timeout` seconds (None: as long as it takes)."""
        ...

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """`acquire_lock` without blocking the event loop."""
        ...

    def renew_lock(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Push the expiry of `holder`'s lock forward; False when the lock is no longer its."""
        ...

    def release_lock(self, key: str, holder: str) -> None:
        """Give the lock back; ValueError when `holder` does not hold it."""
        ...

    def is_locked(self, key: str) -> bool:
        """True while someone holds a live lock on `key`."""
        ...

    def is_lock_holder(self, key: str, holder: str) -> bool:
        """True when the lock names `holder` (read afresh)."""
        ...

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """Wait until `key` is free; False when `timeout` passed first."""
        ...

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """`wait_for_lock` without blocking the event loop."""
        ...


# The lock managers' waiting, in one place. `poll_until` and `apoll_until` are deliberate
# mirrors (sync and async twins): change one, change the other the same way.


def poll_until(
    done: Callable[[], bool],
    timeout: float | None = None,
    pause: float = _POLL,
    backoff: float = 1.0,
    max_pause: float = math.inf,
) -> bool:
    """Call `done()` until it is True, sleeping `pause` seconds between calls (multiplied by
    `backoff` each time, up to `max_pause`); False when `timeout` seconds passed first
    (None: no limit). `done` is always called at least once.

    Example:
        >>> poll_until(lambda: True, timeout=0)
        True
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * backoff, max_pause)
    return True


async def apoll_until(
    done: Callable[[], bool | Awaitable[bool]],
    timeout: float | None = None,
    pause: float = _POLL,
    backoff: float = 1.0,
    max_pause: float = math.inf,
) -> bool:
    """`poll_until` without blocking the event loop; `done` may be a coroutine function
    (e.g. a blocking check run in an executor)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not await _value(done()):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(pause)
        pause = min(pause * backoff, max_pause)
    return True


async def _value(result: bool | Awaitable[bool]) -> bool:
    return await result if inspect.isawaitable(result) else result


def _read_id(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


_HOST = socket.gethostname()
_BOOT = _read_id("/proc/sys/kernel/random/boot_id")
_PIDNS = _pid_namespace()


class SubmissionLockManager:
    """Prefect's `LockManager` protocol on lock files, hardened for paid submissions.

    Args:
        lock_files_directory: Where lock files live; default ``$PREFECT_HOME/runway-locks``,
            resolved when used so settings changed after import (profiles, tests) apply.
        hold_timeout: Default seconds a lock lives without renewal.
    """

    def __init__(
        self,
        lock_files_directory: str | Path | None = None,
        hold_timeout: float = DEFAULT_HOLD_TIMEOUT,
    ) -> None:
        self._directory = Path(lock_files_directory) if lock_files_directory else None
        self.hold_timeout = hold_timeout

    @property
    def lock_files_directory(self) -> Path:
        """The folder of lock files."""
        return self._directory or get_current_settings().home / "runway-locks"

    def __repr__(self) -> str:
        return f"SubmissionLockManager({str(self.lock_files_directory)!r})"

    def _path(self, key: str) -> Path:
        return self.lock_files_directory / f"{key}.lock"

    def _content(self, holder: str, hold_timeout: float | None) -> bytes:
        expires = time.time() + (hold_timeout or self.hold_timeout)
        owner = {"pid": os.getpid(), "host": _HOST, "boot": _BOOT, "pidns": _PIDNS}
        return json.dumps({"holder": holder, "expires": expires, **owner}).encode()

    # -- taking and giving back ---------------------------------------------------------------

    def try_acquire(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Take the lock if it is free, abandoned, or already `holder`'s; never waits."""
        path = self._path(key)
        for _ in range(5):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                continue
            except FileExistsError:
                raw = _read_bytes(path)
                if raw is None:
                    continue  # released meanwhile: try again
                info = _parse(raw)
                if info is not None and info.get("holder") == holder:
                    return True
                if not _abandoned(info, path) or not _break(path, raw):
                    return False
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._content(holder, hold_timeout))
            return True
        return False

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """Take the lock, waiting up to `acquire_timeout` seconds (None: as long as it takes)."""
        return poll_until(lambda: self.try_acquire(key, holder, hold_timeout), acquire_timeout)

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """`acquire_lock` without blocking the event loop."""
        return await apoll_until(
            lambda: self.try_acquire(key, holder, hold_timeout), acquire_timeout
        )

    def renew_lock(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Push the expiry of `holder`'s lock forward; False when the lock is no longer its."""
        path = self._path(key)
        if not self.is_lock_holder(key, holder):
            return False
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.renew")
        temporary.write_bytes(self._content(holder, hold_timeout))
        os.replace(temporary, path)  # atomic: the lock file never disappears
        return self.is_lock_holder(key, holder)

    def release_lock(self, key: str, holder: str) -> None:
        """Give the lock back.

        Raises:
            ValueError: the lock is not held by `holder` (it expired and was taken over).
        """
        path = self._path(key)
        raw = _read_bytes(path)
        info = _parse(raw) if raw is not None else None
        if info is None or info.get("holder") != holder:
            raise ValueError(f"Cannot release lock {key!r}: it is not held by {holder!r}.")
        path.unlink(missing_ok=True)

    # -- looking ------------------------------------------------------------------------------

    def is_locked(self, key: str) -> bool:
        """True while someone holds a lock on `key` that is not abandoned."""
        path = self._path(key)
        raw = _read_bytes(path)
        return raw is not None and not _abandoned(_parse(raw), path)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        """True when the lock file on disk names `holder` (read afresh, never cached)."""
        raw = _read_bytes(self._path(key))
        info = _parse(raw) if raw is not None else None
        return info is not None and info.get("holder") == holder

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """Wait until `key` is free; False when `timeout` passed first."""
        return poll_until(lambda: not self.is_locked(key), timeout)

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """`wait_for_lock` without blocking the event loop."""
        return await apoll_until(lambda: not self.is_locked(key), timeout)


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    return info if isinstance(info, dict) and "holder" in info and "expires" in info else None


def _abandoned(info: dict[str, Any] | None, path: Path) -> bool:
    """True when nobody will release this lock: expired, its holder dead, or never written."""
    if info is None:  # empty or partial: its creator may still be writing, or died doing so
        try:
            return time.time() - path.stat().st_mtime > PARTIAL_FILE_GRACE
        except FileNotFoundError:
            return True
    if float(info.get("expires", 0)) < time.time():
        return True
    same_machine = (info.get("host"), info.get("boot"), info.get("pidns")) == (_HOST, _BOOT, _PIDNS)
    return same_machine and not _alive(info.get("pid"))


def _break(path: Path, judged: bytes) -> bool:
    """Remove an abandoned lock, unless it changed since it was judged; True when removed.

    Breakers take turns on an advisory ``flock`` of one guard file per folder, which the
    kernel releases even when a breaker dies; under it, the lock is read again and removed
    only if it still holds the bytes that were judged abandoned. (Renaming the lock away
    instead would leave its place empty for an instant, and a third contender could take
    it while a live lock was being put back.)
    """
    with open(path.parent / ".break.guard", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        current = _read_bytes(path)
        if current is None:
            return True  # released or broken meanwhile: the place is free to try
        if current != judged:
            return False  # renewed or re-created since it was judged: a live holder's
        path.unlink()
        return True


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
