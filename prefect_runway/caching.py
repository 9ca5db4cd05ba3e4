"""What makes two submissions the same paid generation, and the lock that keeps it paid once.

The cache key of a submission is a hash of:

- the account fingerprint (base URL + dialect + a hash of the key; never the key itself),
- the image's *stable identity*: given by the caller (the S3 flow passes
  ``s3://bucket/key#etag``), else derived: a content hash for data URIs, the URL without its
  signing parameters for an HTTPS URL (a presigned URL's signature changes on every run and
  never enters the key), the URI itself for ``runway://``,
- every request field that changes the generation, with the model's default duration filled
  in, so ``duration=None`` and ``duration=10`` share an entry for gen4_turbo.

Example:
    ```python
    from prefect_runway.caching import submission_key

    key = submission_key(creds.account_fingerprint, request, "s3://bucket/cat.png#9b2cf5")
    ```
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pydantic_core
from prefect.locking.filesystem import FileSystemLockManager, _LockInfo
from prefect.settings import get_current_settings

from prefect_runway.models import GenerationSettings, ImageToVideoRequest, PromptImage

KEY_PREFIX = "runway-i2v-"
_SIGNING_PARAMS = {
    # AWS SigV4 / SigV2, GCS, Azure SAS, CloudFront: credentials that change on every signing.
    "signature", "expires", "awsaccesskeyid", "policy", "key-pair-id",
    "se", "sig", "sp", "spr", "sr", "srt", "ss", "st", "sv", "skoid", "sktid", "token",
}  # fmt: skip


def _is_signing_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SIGNING_PARAMS or lowered.startswith(("x-amz-", "x-goog-"))


def url_identity(url: str) -> str:
    """The URL without signing parameters (presigned URLs change on every run).

    Example:
        ```python
        url_identity("https://b.s3.amazonaws.com/cat.png?X-Amz-Signature=1&v=2")
        # 'https://b.s3.amazonaws.com/cat.png?v=2'
        ```
    """
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = urlencode(sorted((k, v) for k, v in query if not _is_signing_param(k)))
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, kept, ""))


def content_identity(data: bytes) -> str:
    """``sha256:<hex>`` of an image's bytes: the identity of bytes and data URIs."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_identity(prompt_image: str | list[PromptImage]) -> str:
    """Derive an image's stable identity from what the request carries.

    Pass an explicit identity instead for ``runway://`` uploads of the same source, which get
    a new URI on every upload.
    """
    if isinstance(prompt_image, list):
        return "|".join(f"{img.position}={image_identity(img.uri)}" for img in prompt_image)
    if prompt_image.startswith("data:"):
        payload = prompt_image.split(",", 1)[1]
        return content_identity(base64.b64decode(payload))
    if prompt_image.startswith("runway://"):
        return prompt_image
    return url_identity(prompt_image)


def submission_key(
    account_fingerprint: str,
    request: GenerationSettings,
    identity: str | None = None,
) -> str:
    """The cache key of one paid generation (see the module docs for what goes in).

    Args:
        account_fingerprint: `RunwayCredentials.account_fingerprint`.
        request: An `ImageToVideoRequest`, or `GenerationSettings` with an `identity`.
        identity: The image's stable identity; derived from the request's image if omitted.
    """
    if identity is None:
        if not isinstance(request, ImageToVideoRequest):
            raise ValueError("submission_key needs an image identity for GenerationSettings")
        identity = image_identity(request.prompt_image)
    fields = request.settings_wire()
    fields["duration"] = request.effective_duration
    payload = {"v": 1, "account": account_fingerprint, "image": identity, "request": fields}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return KEY_PREFIX + digest[:48]


class SubmissionLockManager(FileSystemLockManager):
    """Prefect's file lock manager, hardened for paid submissions on one machine.

    Prefect's `FileSystemLockManager` is the right mechanism for SERIALIZABLE isolation on
    one host; this subclass only fixes what a crash or a race would otherwise break:

    - the lock file is created with O_EXCL and its content written at once; a reader that
      catches it still empty counts it as held;
    - a lock left by a process that died (same host, PID gone) is broken at once, so a rerun
      after a crash does not wait for it; locks of live holders expire after `hold_timeout`;
    - the directory defaults to ``$PREFECT_HOME/runway-locks``, resolved when used, so
      settings changed after import (tests, profiles) apply.

    For several machines, use a shared lock manager (e.g. prefect-redis's
    ``RedisLockManager``) with shared result storage; see the README.

    Args:
        lock_files_directory: Where lock files live; default ``$PREFECT_HOME/runway-locks``.
        hold_timeout: Seconds after which a live holder's lock counts as abandoned.
    """

    def __init__(
        self, lock_files_directory: Path | None = None, hold_timeout: float = 900.0
    ) -> None:
        self._directory = lock_files_directory
        self.hold_timeout = hold_timeout
        self._locks: dict[str, _LockInfo] = {}

    @property
    def lock_files_directory(self) -> Path:  # type: ignore[override]
        return _resolved(str(self._directory or get_current_settings().home / "runway-locks"))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SubmissionLockManager)
            and self.lock_files_directory == other.lock_files_directory
        )

    def __hash__(self) -> int:
        return hash(self.lock_files_directory)

    def _try_create(self, key: str, holder: str, hold_timeout: float | None) -> bool:
        directory = self.lock_files_directory
        expiration = datetime.now(timezone.utc) + timedelta(
            seconds=hold_timeout or self.hold_timeout
        )
        content = {
            "holder": holder,
            "expiration": expiration.isoformat(),
            "pid": os.getpid(),
            "host": _HOST,
        }
        path = self._lock_path_for_key(key)
        try:
            # O_EXCL: creating the file is the lock. Its content follows in the same call; a
            # reader that catches the file empty treats it as held (see _get_lock_info).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            directory.mkdir(parents=True, exist_ok=True)
            return self._try_create(key, holder, hold_timeout)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(pydantic_core.to_json(content))
        self._locks[key] = {"holder": holder, "expiration": expiration, "path": path}
        return True

    def is_lock_holder(self, key: str, holder: str) -> bool:
        held = self._locks.get(key)
        if held is not None and held["holder"] == holder and held["path"].exists():
            return True
        return super().is_lock_holder(key, holder)

    def release_lock(self, key: str, holder: str) -> None:
        held = self._locks.get(key)
        if held is not None and held["holder"] == holder:
            held["path"].unlink(missing_ok=True)  # ours, per our own record: no re-read
            self._locks.pop(key, None)
            return
        super().release_lock(key, holder)

    def try_acquire(self, key: str, holder: str, hold_timeout: float | None = None) -> bool:
        """Take the lock if it is free (or already ours), without waiting."""
        return self._try_create(key, holder, hold_timeout) or self.is_lock_holder(key, holder)

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        while True:
            if self.try_acquire(key, holder, hold_timeout):
                return True
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.01)
            if not self.wait_for_lock(key, remaining):
                return False

    async def aacquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        deadline = None if acquire_timeout is None else time.monotonic() + acquire_timeout
        while True:
            if self.try_acquire(key, holder, hold_timeout):
                return True
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.01)
            if not await self.await_for_lock(key, remaining):
                return False

    def _get_lock_info(self, key: str, use_cache: bool = True) -> _LockInfo | None:
        if use_cache and (cached := self._locks.get(key)) is not None:
            return cached
        path = self._lock_path_for_key(key)
        try:
            raw: dict[str, Any] = pydantic_core.from_json(path.read_bytes() or b"{}")
        except FileNotFoundError:
            return None
        if raw.get("host") == _HOST and not _alive(raw.get("pid")):
            path.unlink(missing_ok=True)  # the holder died: nobody will release it
            self._locks.pop(key, None)
            return None
        expiration = raw.get("expiration")
        info: _LockInfo = {
            "holder": raw.get("holder", ""),
            "expiration": datetime.fromisoformat(expiration) if expiration else None,
            "path": path,
        }
        self._locks[key] = info
        return info

    async def _aget_lock_info(self, key: str, use_cache: bool = True) -> _LockInfo | None:
        return self._get_lock_info(key, use_cache)  # one small file read: no thread needed


_HOST = socket.gethostname()


@functools.lru_cache(maxsize=16)
def _resolved(directory: str) -> Path:
    return Path(directory).expanduser().resolve()


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
