"""Redis locks for paid submissions on several machines: they expire, renew, and release only
for their holder.

prefect-redis's `RedisLockManager` is the base (its connection handling: ``redis://``,
``rediss://``, Sentinel URLs, pickling), but its lock calls are replaced, because Prefect's
transactions never pass a hold timeout: its locks then carry no expiry, and a worker that dies
while holding one blocks every later run of that image for ever. Here:

- **Exclusive, with an expiry**: ``SET lock:<key> <holder> NX PX <ms>``; a lock is never
  created without one (`DEFAULT_HOLD_TIMEOUT` when the caller gives none).
- **Renewed while held**: `renew_lock` pushes the expiry forward only if the lock still names
  its holder (one Lua script: compare, then ``PEXPIRE``), so a live holder's lock never lapses
  and a dead one's frees itself after at most one hold timeout.
- **Released by its holder only**: compare, then ``DEL``, in one Lua script; a lock that
  expired and was taken over is left to its new holder.

Calls use the synchronous client (a connection pool shared by threads): the engine runs in
several event loops at once (one per Prefect task-runner thread) and redis-py's asyncio
clients are bound to the loop that first used them. Waiting is done off the event loop.

Example:
    ```python
    # not run: needs a Redis server at that address
    from prefect_runway.ledger.redis_locks import RedisSubmissionLockManager

    locks = RedisSubmissionLockManager("redis://redis.internal:6379/0")
    if locks.try_acquire("runway-i2v-abc", holder="run-1", hold_timeout=60):
        ...  # the paid work; call locks.renew_lock("runway-i2v-abc", "run-1", 60) meanwhile
        locks.release_lock("runway-i2v-abc", "run-1")
    ```
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect_runway.errors import LockError
from prefect_runway.ledger.locks import DEFAULT_HOLD_TIMEOUT, wait_until_free
from prefect_runway.settings import redacted

try:
    from prefect_redis.locking import RedisLockManager
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "Redis locks need the 'redis' extra: pip install 'prefect-runway[redis]'"
    ) from exc

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_POLL = 0.05
_MAX_POLL = 0.25
# Redis calls made for a coroutine run here, not in the loop's small default executor, which
# the record storage and downloads also use.
_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="runway-redis-locks")


class RedisSubmissionLockManager(RedisLockManager):
    """Prefect's `LockManager` protocol on Redis, with expiring, renewable, holder-checked locks.

    Args:
        connection_url: ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS) or a
            Sentinel URL (``redis+sentinel://s1:26379,s2:26379/mymaster``).
        hold_timeout: Default seconds a lock lives without renewal.
    """

    def __init__(
        self,
        connection_url: str = "redis://localhost:6379/0",
        hold_timeout: float = DEFAULT_HOLD_TIMEOUT,
    ) -> None:
        self.hold_timeout = hold_timeout
        super().__init__(connection_url=connection_url)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "hold_timeout": self.hold_timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def __repr__(self) -> str:
        return f"RedisSubmissionLockManager({redacted(self.connection_url or '')!r})"

    def _ms(self, hold_timeout: float | None) -> int:
        return max(int((hold_timeout or self.hold_timeout) * 1000), 1)

    def _fail(self, action: str, key: str, exc: Exception) -> LockError:
        return LockError(
            f"Cannot {action} the lock on {key} at {redacted(self.connection_url or '')} "
            f"({type(exc).__name__}: {exc}); nothing was submitted for it. Check that Redis "
            "is reachable from this worker (PREFECT_RUNWAY_LOCKS), then rerun."
        )

    # -- taking and giving back ---------------------------------------------------------------

    def try_acquire(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Take the lock if it is free or already `holder`'s (then renewed); never waits."""
        name = self._lock_name_for_key(key)
        ms = self._ms(hold_timeout)
        try:
            if self.client.set(name, holder, nx=True, px=ms):
                return True
            return bool(self._renew(keys=[name], args=[holder, ms]))
        except RedisError as exc:
            raise self._fail("take", key, exc) from None

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """Take the lock, waiting up to `acquire_timeout` seconds (None: until it is free or
        expires, which is at most one hold timeout after its holder died)."""
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        pause = _POLL
        while not self.try_acquire(key, holder, hold_timeout):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 1.5, _MAX_POLL)
        return True

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        """`acquire_lock` without blocking the event loop."""
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        pause = _POLL
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(_THREADS, self.try_acquire, key, holder, hold_timeout):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, _MAX_POLL)
        return True

    def renew_lock(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Push the expiry of `holder`'s lock forward; False when the lock is no longer its."""
        name = self._lock_name_for_key(key)
        try:
            return bool(self._renew(keys=[name], args=[holder, self._ms(hold_timeout)]))
        except RedisError as exc:
            raise self._fail("renew", key, exc) from None

    def release_lock(self, key: str, holder: str) -> None:
        """Give the lock back, only if `holder` still holds it.

        Raises:
            ValueError: the lock is not held by `holder` (it expired, and maybe was taken
                over: the new holder keeps it).
        """
        name = self._lock_name_for_key(key)
        try:
            released = self._release(keys=[name], args=[holder])
        except RedisError as exc:
            raise self._fail("release", key, exc) from None
        if not released:
            raise ValueError(
                f"Cannot release lock {key!r}: it is not held by {holder!r} (it expired, or "
                "another holder has it; raise PREFECT_RUNWAY_LOCK_TIMEOUT if renewals cannot "
                "keep up)."
            )

    def claim_marker(self, name: str, value: str) -> str:
        """Write `value` at `name` unless something is there (``SET NX``, no expiry); return
        what is stored: `value` for the first worker, else the first worker's.

        Raises:
            LockError: Redis cannot be reached.
        """
        try:
            self.client.set(name, value, nx=True)
            stored = self.client.get(name)
        except RedisError as exc:
            raise self._fail("read the ledger marker for", name, exc) from None
        return value if stored is None else _text(stored)

    # -- looking ------------------------------------------------------------------------------

    def is_locked(self, key: str) -> bool:
        """True while someone holds an unexpired lock on `key`."""
        return bool(self.client.exists(self._lock_name_for_key(key)))

    def is_lock_holder(self, key: str, holder: str) -> bool:
        """True when the lock in Redis names `holder` (read afresh)."""
        value = self.client.get(self._lock_name_for_key(key))
        return value is not None and _text(value) == holder

    def lock_ttl(self, key: str) -> float | None:
        """Seconds until the lock on `key` expires; None when there is no lock."""
        ms = int(self.client.pttl(self._lock_name_for_key(key)))
        if ms == -2:  # no such key
            return None
        return float("inf") if ms == -1 else ms / 1000  # -1: no expiry (not one of ours)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """Wait until `key` is free; False when `timeout` passed first."""
        return wait_until_free(self.is_locked, key, timeout)

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        """`wait_for_lock` without blocking the event loop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(_THREADS, self.is_locked, key):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
