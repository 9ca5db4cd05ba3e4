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
  (prefect-aws's ``S3Bucket``: conditional writes, see `prefect_runway.ledger.stores`).
- ``PREFECT_RUNWAY_RECORDS``: ``s3://bucket/prefix`` (boto3's credential chain) or a folder.
- ``PREFECT_RUNWAY_LOCK_TIMEOUT``: seconds a lock lives without renewal (renewed every third
  of it while held); default 120. A dead worker's locks free themselves after this long.
- ``PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS``: credits every run of the account may reserve in
  a UTC month, counted across runs and hosts in the lock store (`prefect_runway.ledger.budget`).

Every ``PREFECT_RUNWAY_*`` value is validated (`check_settings`): schemes in any case, no
relative record folders, no ``file://host/...``, no unknown names; and a worker whose records
differ from those the shared lock store's marker names refuses (`check_shared_ledger`).

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

import asyncio
import difflib
import json
import math
import os
import re
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from prefect_runway.errors import ConfigurationError, redacted
from prefect_runway.ledger.locks import (
    DEFAULT_HOLD_TIMEOUT,
    RenewableLockManager,
    SubmissionLockManager,
)
from prefect_runway.ledger.stores import is_host_local  # noqa: F401  (its old home)

LOCKS = "PREFECT_RUNWAY_LOCKS"
RECORDS = "PREFECT_RUNWAY_RECORDS"
RECORDS_BLOCK = "PREFECT_RUNWAY_RECORDS_BLOCK"
LOCK_TIMEOUT = "PREFECT_RUNWAY_LOCK_TIMEOUT"
ALLOW_LOOPBACK = "PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS"
MONTHLY_BUDGET = "PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS"
KNOWN = (LOCKS, RECORDS, RECORDS_BLOCK, LOCK_TIMEOUT, ALLOW_LOOPBACK, MONTHLY_BUDGET)
"""Every ``PREFECT_RUNWAY_*`` setting; any other name is refused (a typo would be ignored)."""
MARKER_KEY = "prefect-runway:ledger"
"""The Redis key naming the records location every worker on that lock store must share."""
HOSTNAME = socket.gethostname()
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BLOCK_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*/[^/\s]+$")
_BOOLEANS = ("1", "0", "true", "false", "yes", "no")
_checked: set[tuple[str, str, str]] = set()

REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "rediss+sentinel", "unix")

_managers: dict[tuple[str, float], RenewableLockManager] = {}
_managers_lock = threading.Lock()


def _setting(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _refuse(name: str, raw: str, problem: str, allowed: str) -> ConfigurationError:
    return ConfigurationError(f"{name}={redacted(raw)!r}: {problem}. Allowed: {allowed}.")


def check_settings(environ: dict[str, str] | None = None) -> None:
    """Validate every ``PREFECT_RUNWAY_*`` variable, so a bad value fails before any work.

    Raises:
        ConfigurationError: an unknown ``PREFECT_RUNWAY_*`` name (with a "did you mean"),
            or a value that `parse_locks`, `parse_records`, `parse_records_block`,
            `parse_lock_timeout` refuse, or both record settings at once. The message
            names the variable, its value (passwords hidden) and what is allowed.

    Example:
        >>> check_settings({"PREFECT_RUNWAY_RECORDS": "records"})  # doctest: +SKIP
        ConfigurationError: PREFECT_RUNWAY_RECORDS='records': a relative folder ...
    """
    env = os.environ if environ is None else environ
    for name in sorted(n for n in env if n.upper().startswith("PREFECT_RUNWAY_")):
        if name not in KNOWN:
            close = difflib.get_close_matches(name.upper(), KNOWN, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigurationError(
                f"{name} is not a prefect-runway setting{hint} Known: {', '.join(KNOWN)}."
            )

    def value(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    if (raw := value(LOCKS)) is not None:
        parse_locks(raw)
    if (raw := value(RECORDS)) is not None:
        parse_records(raw)
    if (raw := value(RECORDS_BLOCK)) is not None:
        parse_records_block(raw)
    if value(RECORDS) and value(RECORDS_BLOCK):
        raise ConfigurationError(
            f"{RECORDS} and {RECORDS_BLOCK} are both set ({value(RECORDS)!r}, "
            f"{value(RECORDS_BLOCK)!r}): records live in one place; set only one of them."
        )
    if (raw := value(LOCK_TIMEOUT)) is not None:
        parse_lock_timeout(raw)
    if (raw := value(MONTHLY_BUDGET)) is not None:
        parse_credits(MONTHLY_BUDGET, raw)
    if (raw := value(ALLOW_LOOPBACK)) is not None and raw.lower() not in _BOOLEANS:
        raise _refuse(ALLOW_LOOPBACK, raw, "not a yes/no value", ", ".join(_BOOLEANS))


def _file_url(name: str, raw: str) -> Path:
    """The folder of a ``file:///absolute/folder`` URL (scheme in any case)."""
    parts = urlsplit(raw)
    allowed = "file:///absolute/folder (three slashes)"
    if parts.netloc:
        meant = f"/{parts.netloc}{parts.path}"
        raise _refuse(
            name, raw, f"{parts.netloc!r} is in the host position of the file URL and would be "
            f"dropped (it names {parts.path or '/'!r}, not {meant!r})",
            f"{allowed}, e.g. file://{meant}",
        )  # fmt: skip
    if parts.query or parts.fragment or not parts.path.startswith("/"):
        raise _refuse(name, raw, "not an absolute file:/// URL", allowed)
    return Path(unquote(parts.path))


def parse_locks(raw: str) -> tuple[str, Any]:
    """Parse ``PREFECT_RUNWAY_LOCKS``: ``("file", folder or None)`` or ``("redis", url)``.

    Schemes are accepted in any case (``REDIS://`` is ``redis://``); a ``file://`` URL must
    name an absolute folder with three slashes (``file://mnt/x`` would silently mean ``/x``).

    Raises:
        ConfigurationError: anything else, naming the value and what is allowed.

    Example:
        >>> parse_locks("FILE:///shared/locks")
        ('file', PosixPath('/shared/locks'))
    """
    allowed = "'file', file:///absolute/folder, or a " + ", ".join(
        f"{s}://" for s in REDIS_SCHEMES
    ) + " URL"
    if raw.lower() == "file":
        return "file", None
    if "://" not in raw:
        raise _refuse(LOCKS, raw, "not a lock store URL", allowed)
    scheme = urlsplit(raw).scheme
    if scheme == "file":
        return "file", _file_url(LOCKS, raw)
    if scheme not in REDIS_SCHEMES:
        raise _refuse(LOCKS, raw, f"unknown scheme {scheme!r}", allowed)
    url = scheme + raw[raw.index("://") :]  # the scheme lower-cased, the rest as given
    parts = urlsplit(url)
    if scheme == "unix" and not parts.path.startswith("/"):
        raise _refuse(LOCKS, raw, "a unix:// URL needs an absolute socket path", allowed)
    if scheme != "unix" and not (parts.hostname or "").strip(","):
        raise _refuse(LOCKS, raw, "no host in the Redis URL", allowed)
    return "redis", url


def parse_records(raw: str) -> str | Path:
    """Parse ``PREFECT_RUNWAY_RECORDS``: ``s3://bucket/prefix`` (any scheme case, returned
    as ``s3://``), or an absolute folder (``~`` expanded, or ``file:///folder``).

    A relative folder is refused: it would put one ledger in each working directory, and
    the same image would be paid once per directory.

    Raises:
        ConfigurationError: a relative folder, another scheme, a bad bucket name.

    Example:
        >>> parse_records("S3://acme-runway/records")
        's3://acme-runway/records'
    """
    allowed = "s3://bucket/prefix, an absolute folder (/srv/runway-records) or file:///folder"
    if "://" in raw:
        scheme = urlsplit(raw).scheme
        if scheme == "file":
            return _file_url(RECORDS, raw)
        if scheme != "s3":
            raise _refuse(RECORDS, raw, f"unknown scheme {scheme!r}", allowed)
        parts = urlsplit(raw)
        if not _BUCKET.match(parts.netloc):
            raise _refuse(
                RECORDS, raw, f"{parts.netloc!r} is not an S3 bucket name (3-63 lowercase "
                "letters, digits, dots and hyphens)", allowed,
            )  # fmt: skip
        if parts.query or parts.fragment:
            raise _refuse(RECORDS, raw, "an S3 URL takes no ?query or #fragment", allowed)
        return f"s3://{parts.netloc}{parts.path}"
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise _refuse(
            RECORDS, raw, f"a relative folder (here {Path.cwd() / path}): each working "
            "directory would hold its own ledger and pay for the same images again", allowed,
        )  # fmt: skip
    return path


def parse_records_block(raw: str) -> str:
    """Parse ``PREFECT_RUNWAY_RECORDS_BLOCK``: a block slug ``block-type/block-name``.

    Raises:
        ConfigurationError: not of that form.

    Example:
        >>> parse_records_block("s3-bucket/runway-records")
        's3-bucket/runway-records'
    """
    if not _BLOCK_SLUG.match(raw):
        raise _refuse(
            RECORDS_BLOCK, raw, "not a block slug",
            "block-type/block-name, e.g. s3-bucket/runway-records",
        )  # fmt: skip
    return raw


def parse_lock_timeout(raw: str) -> float:
    """Parse ``PREFECT_RUNWAY_LOCK_TIMEOUT``: a positive, finite number of seconds.

    Raises:
        ConfigurationError: anything else.

    Example:
        >>> parse_lock_timeout("7.5")
        7.5
    """
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise _refuse(
            LOCK_TIMEOUT, raw, "not a positive number of seconds",
            f"a number > 0 such as 30 or 120 (default {DEFAULT_HOLD_TIMEOUT:g})",
        )  # fmt: skip
    return value


def parse_credits(name: str, raw: str) -> float:
    """Parse a number of credits (``PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS``): finite, >= 0.

    Raises:
        ConfigurationError: anything else.

    Example:
        >>> parse_credits(MONTHLY_BUDGET, "5000")
        5000.0
    """
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise _refuse(name, raw, "not a number of credits", "a number >= 0 such as 5000")
    return value


def monthly_budget_credits() -> float | None:
    """Credits every run of the account may reserve in a UTC month
    (``PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS``); None when unset.

    Example:
        >>> monthly_budget_credits()  # doctest: +SKIP
        5000.0
    """
    raw = _setting(MONTHLY_BUDGET)
    return None if raw is None else parse_credits(MONTHLY_BUDGET, raw)


def lock_timeout() -> float:
    """Seconds a submission lock lives without renewal (``PREFECT_RUNWAY_LOCK_TIMEOUT``).

    Example:
        >>> lock_timeout()  # doctest: +SKIP
        120.0
    """
    raw = _setting(LOCK_TIMEOUT)
    return DEFAULT_HOLD_TIMEOUT if raw is None else parse_lock_timeout(raw)


def lock_manager() -> RenewableLockManager:
    """The lock manager that ``PREFECT_RUNWAY_LOCKS`` selects (one per URL per process).

    Every ``PREFECT_RUNWAY_*`` setting is validated first (`check_settings`).

    Returns:
        A `SubmissionLockManager` (file locks, the default) or a
        `prefect_runway.ledger.redis_locks.RedisSubmissionLockManager`.

    Raises:
        ConfigurationError: a setting is invalid, or Redis without the ``redis`` extra.

    Example:
        >>> os.environ["PREFECT_RUNWAY_LOCKS"] = "redis://localhost:6379/0"  # doctest: +SKIP
        >>> lock_manager()  # doctest: +SKIP
        RedisSubmissionLockManager('redis://localhost:6379/0')
    """
    check_settings()
    raw = _setting(LOCKS) or "file"
    timeout = lock_timeout()
    kind, where = parse_locks(raw)
    if kind == "file":
        return SubmissionLockManager(where, hold_timeout=timeout)
    with _managers_lock:
        manager = _managers.get((where, timeout))
        if manager is None:
            try:
                from prefect_runway.ledger.redis_locks import RedisSubmissionLockManager
            except ImportError as exc:
                raise ConfigurationError(f"{LOCKS} names Redis: {exc}") from None
            manager = RedisSubmissionLockManager(where, hold_timeout=timeout)
            _managers[(where, timeout)] = manager
        return manager


async def record_storage() -> Any:
    """The record storage the settings select, for `prefect_runway.ledger.records.Ledger`.

    In order: the block ``PREFECT_RUNWAY_RECORDS_BLOCK`` names (e.g. ``s3-bucket/records``),
    ``PREFECT_RUNWAY_RECORDS`` (``s3://bucket/prefix`` or an absolute folder), the block
    ``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK`` names, ``PREFECT_LOCAL_STORAGE_PATH``.

    Raises:
        ConfigurationError: a setting is invalid (`check_settings`), or a named block
            cannot be loaded.

    Example:
        >>> ledger = Ledger(await record_storage())  # doctest: +SKIP
    """
    from prefect.settings import get_current_settings

    check_settings()
    results = get_current_settings().results
    slug = _setting(RECORDS_BLOCK)
    if slug:
        return await _load_block(parse_records_block(slug), RECORDS_BLOCK)
    location = _setting(RECORDS)
    if location:
        return parse_records(location)
    if results.default_storage_block:
        setting = "PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK"
        return await _load_block(results.default_storage_block, setting)
    return results.local_storage_path


async def check_shared_ledger(locks: Any, ledger: Any, host: str | None = None) -> None:
    """Refuse a split ledger: workers sharing a lock store must share their records.

    The first worker to use a shared lock store (Redis) writes a marker there (key
    `MARKER_KEY`) naming its records location and whether it is host-local; every later
    worker compares. Several workers on one host sharing its disk stay valid. Lock
    managers without markers (file locks: one host) are not checked.

    Raises:
        ConfigurationError: this worker's records live elsewhere than the marker's, or
            either side's records are on a host's own disk and the hosts differ; the
            message names both locations and hosts, and how to reset the marker.
        LockError: the lock store cannot be reached.
    """
    claim = getattr(locks, "claim_marker", None)
    if claim is None:
        return
    host = host or HOSTNAME
    store = redacted(str(getattr(locks, "connection_url", "") or "")) or repr(locks)
    mine = {"records": ledger.location, "host_local": ledger.host_local, "host": host}
    seen = (repr(locks), mine["records"], host)
    if seen in _checked:
        return
    written = {**mine, "written_at": datetime.now(timezone.utc).isoformat()}
    stored = await asyncio.to_thread(claim, MARKER_KEY, json.dumps(written))
    try:
        theirs = json.loads(stored)
        their_records, their_host = str(theirs["records"]), str(theirs["host"])
        their_local = bool(theirs["host_local"])
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"The ledger marker {MARKER_KEY!r} in {store} is damaged ({stored[:200]!r}); "
            f"delete it (redis-cli DEL {MARKER_KEY}) and restart the workers."
        ) from None
    reset = (
        f"If the marker is stale (the records moved on purpose), delete it: redis-cli DEL "
        f"{MARKER_KEY}."
    )
    theirs_text = (
        f"{their_records} ({'on the local disk of host ' + their_host if their_local else 'shared'}"
        f", marker written by host {their_host})"
    )
    if their_records != mine["records"]:
        raise ConfigurationError(
            f"Split ledger: the lock store {LOCKS}={store} is shared with workers whose "
            f"records live at {theirs_text}, but this worker (host {host}) would keep its "
            f"records at {mine['records']}. Each ledger would pay for the same images again. "
            f"Set {RECORDS_BLOCK} or {RECORDS} to the same place on every worker. {reset}"
        )
    if (their_local or mine["host_local"]) and their_host != host:
        raise ConfigurationError(
            f"Split ledger: the records {mine['records']} are on a host's own disk: host "
            f"{their_host} uses them with the lock store {LOCKS}={store}, and this worker "
            f"(host {host}) would use a different disk at the same path. Put the records "
            f"where every host sees them ({RECORDS_BLOCK}=s3-bucket/..., or {RECORDS}="
            f"s3://bucket/prefix). {reset}"
        )
    _checked.add(seen)


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
