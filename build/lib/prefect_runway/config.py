"""Where locks and records live, chosen by settings, so a worker on any host picks them up.

A deployment run by a worker never executes set-up code of yours: the engine reads these
environment variables itself each time it builds its defaults (`Engine.create`,
`Ledger.default`). Set them in the worker's environment (or the work pool's ``env`` job
variable) on every machine:

- ``PREFECT_RUNWAY_LOCKS``: ``redis://[user:password@]host:6379/0``, ``rediss://...``, a
  Sentinel URL (``redis+sentinel://s1:26379,s2:26379/mymaster``), or ``file`` /
  ``file:///shared/locks``. Default ``file``: lock files in ``$PREFECT_HOME/runway-locks``,
  good for one machine only.
- ``PREFECT_RUNWAY_RECORDS_BLOCK``: a storage block's slug, e.g. ``s3-bucket/runway-records``
  (prefect-aws's ``S3Bucket``: conditional writes, see `prefect_runway.s3_records`).
- ``PREFECT_RUNWAY_RECORDS``: ``s3://bucket/prefix`` (boto3's credential chain) or a folder.
- ``PREFECT_RUNWAY_LOCK_TIMEOUT``: seconds a lock lives without renewal (renewed every third
  of it while held); default 120. A dead worker's locks free themselves after this long.

Record storage falls back to Prefect's own result storage: the block named by
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``, else ``PREFECT_LOCAL_STORAGE_PATH``.

Example:
    ```bash
    export PREFECT_RUNWAY_LOCKS=redis://redis.internal:6379/0
    export PREFECT_RUNWAY_RECORDS_BLOCK=s3-bucket/runway-records
    prefect worker start --pool runway-pool
    ```
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from prefect_runway.errors import ConfigurationError
from prefect_runway.locks import DEFAULT_HOLD_TIMEOUT, SubmissionLockManager

LOCKS = "PREFECT_RUNWAY_LOCKS"
RECORDS = "PREFECT_RUNWAY_RECORDS"
RECORDS_BLOCK = "PREFECT_RUNWAY_RECORDS_BLOCK"
LOCK_TIMEOUT = "PREFECT_RUNWAY_LOCK_TIMEOUT"

REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "rediss+sentinel", "unix")

_managers: dict[tuple[str, float], Any] = {}
_managers_lock = threading.Lock()


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs.

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


def _setting(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def lock_timeout() -> float:
    """Seconds a submission lock lives without renewal (``PREFECT_RUNWAY_LOCK_TIMEOUT``).

    Example:
        >>> lock_timeout()  # doctest: +SKIP
        120.0
    """
    raw = _setting(LOCK_TIMEOUT)
    if raw is None:
        return DEFAULT_HOLD_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigurationError(f"{LOCK_TIMEOUT}={raw!r} is not a positive number of seconds.")
    return value


def lock_manager() -> Any:
    """The lock manager that ``PREFECT_RUNWAY_LOCKS`` selects (one per URL per process).

    Returns:
        A `SubmissionLockManager` (file locks, the default) or a
        `prefect_runway.redis_locks.RedisSubmissionLockManager`.

    Raises:
        ConfigurationError: an unknown scheme, or Redis without the ``redis`` extra.

    Example:
        >>> os.environ["PREFECT_RUNWAY_LOCKS"] = "redis://localhost:6379/0"  # doctest: +SKIP
        >>> lock_manager()  # doctest: +SKIP
        RedisSubmissionLockManager('redis://localhost:6379/0')
    """
    raw = _setting(LOCKS) or "file"
    timeout = lock_timeout()
    scheme = urlsplit(raw).scheme.lower() if "://" in raw else raw.lower()
    if scheme == "file":
        folder = urlsplit(raw).path if "://" in raw else None
        return SubmissionLockManager(folder or None, hold_timeout=timeout)
    if scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            f"{LOCKS} must be 'file', file:///folder or a redis:// URL; got a {scheme!r} value."
        )
    with _managers_lock:
        manager = _managers.get((raw, timeout))
        if manager is None:
            try:
                from prefect_runway.redis_locks import RedisSubmissionLockManager
            except ImportError as exc:
                raise ConfigurationError(f"{LOCKS} names Redis: {exc}") from None
            manager = RedisSubmissionLockManager(raw, hold_timeout=timeout)
            _managers[(raw, timeout)] = manager
        return manager


async def record_storage() -> Any:
    """The record storage the settings select, for `prefect_runway.records.Ledger`.

    In order: the block ``PREFECT_RUNWAY_RECORDS_BLOCK`` names (e.g. ``s3-bucket/records``),
    ``PREFECT_RUNWAY_RECORDS`` (``s3://bucket/prefix`` or a folder), the block
    ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` names, ``PREFECT_LOCAL_STORAGE_PATH``.

    Raises:
        ConfigurationError: a named block cannot be loaded.

    Example:
        >>> ledger = Ledger(await record_storage())  # doctest: +SKIP
    """
    from prefect.settings import get_current_settings

    results = get_current_settings().results
    slug = _setting(RECORDS_BLOCK)
    if slug:
        return await _load_block(slug, RECORDS_BLOCK)
    location = _setting(RECORDS)
    if location:
        return location if location.startswith("s3://") else Path(location).expanduser()
    if results.default_storage_block:
        setting = "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"
        return await _load_block(results.default_storage_block, setting)
    return results.local_storage_path


async def _load_block(slug: str, setting: str) -> Any:
    from prefect.blocks.core import Block

    if slug.startswith("s3-bucket/"):
        try:
            import prefect_aws  # noqa: F401  (registers the S3Bucket block type)
        except ImportError:
            raise ConfigurationError(
                f"{setting}={slug!r} needs prefect-aws: pip install 'prefect-runway[aws]'"
            ) from None
    try:
        return await Block.aload(slug)
    except Exception as exc:
        raise ConfigurationError(
            f"{setting}={slug!r}: cannot load that block ({type(exc).__name__}: {exc}). Create "
            "it on the Prefect server this worker talks to, or fix the setting."
        ) from None
