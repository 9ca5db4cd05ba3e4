"""The submission ledger: one durable record per paid generation, written before and after it.

A record lives under the submission's cache key in the record storage: the one configured
(``PREFECT_RUNWAY_RECORDS_BLOCK`` or ``PREFECT_RUNWAY_RECORDS``, see `prefect_runway.settings`),
else Prefect's default result storage (``PREFECT_LOCAL_STORAGE_PATH``, or the block named by
``PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK``), or any Prefect storage block passed in. Its states:

- ``intent``: written *before* the POST. Found by a later run with no live holder, it means
  the outcome is unknown (a crash or a lost answer between POST and outcome).
- ``unknown``: the POST's answer was lost and the retries ended in errors: a task may exist.
- ``submitted``: the POST's answer, with its task ID: the image is never paid for again.
- ``rejected``: the image's bytes cannot become a generation (not an image, a GIF...): a
  rerun reports it again without fetching it. Nothing was paid.

Prefect's `ResultStore` is not used for these records, and here is why: it treats any read
error as "no record" (a paid call would then be repeated), and writes local files in place
(a crash mid-write leaves a truncated record). This ledger fails closed on read errors,
writes local records atomically (temporary file, fsync, rename), creates intents only
where no record exists (a hard link on local disk), and writes an intent over an existing
record only if that record is still the version read (`Ledger.replace_if`: S3 ``If-Match``,
a compare-and-rename under a ``flock`` locally), so a lock that lied or expired still cannot
let two runs pay for one image. Records that v0.1's Prefect cache wrote are read as ``submitted``.

The protocol is here; the bytes go to a `prefect_runway.ledger.stores.RecordStore` (a folder,
S3 or a storage block), as Prefect's `ResultStore` delegates to its storage block.

Example:
    ```python
    from prefect_runway.ledger.records import Ledger

    ledger = await Ledger.default()
    record = await ledger.read("runway-i2v-1f2e...")   # None, or a SubmissionRecord
    ```
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from prefect_runway.api.models import SubmittedTask
from prefect_runway.errors import (
    ConfigurationError,
    RecordConflictError,
    RecordReadError,
    RecordWriteError,
)
from prefect_runway.ledger.keys import GENERATION_KEY_PREFIX, KEY_PREFIX
from prefect_runway.ledger.stores import RecordStore, record_store

RecordState = Literal["intent", "unknown", "submitted", "rejected"]
RECORD_PREFIX = "runway-"
"""What every record's key starts with (`KEY_PREFIX`, `GENERATION_KEY_PREFIX`)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TaskAttempt(BaseModel):
    """One task ever created for a key: kept in the record's ``history``, never overwritten.

    Attributes:
        attempt: 1 for the key's first paid task, 2 for the next (a resubmission), ...
        task_id: The Runway task.
        settings_hash: SHA-256 (first 16 hex digits) of the request fields it was created with.
        created_at: When its answer was recorded.
        flow_run_id: The Prefect flow run that created it, if any.
        estimated_credits: The API's (or the local) estimate when it was created.
        possible_duplicate: Another paid task may exist beside it (a lost answer, or an
            unknown earlier outcome).
        lost_responses: Answers lost while creating it.
        final_status: SUCCEEDED, FAILED or CANCELLED once a collector saw it end (LOST once it
            answered 404 past the not-found grace).
        credits: What it cost, once known: the API's final ``cost`` when its answer had one
            (0 for a failed or cancelled task, on the emulator), else its estimate when it
            SUCCEEDED.
    """

    attempt: int
    task_id: str
    settings_hash: str | None = None
    created_at: datetime | None = None
    flow_run_id: str | None = None
    estimated_credits: float | None = None
    possible_duplicate: bool = False
    lost_responses: int = 0
    final_status: str | None = None
    credits: float | None = None


def settings_hash(request: dict[str, Any]) -> str:
    """A short, stable hash of a record's request fields (no secrets in them).

    Example:
        >>> settings_hash({"model": "gen4_turbo", "seed": 1}) == settings_hash(
        ...     {"seed": 1, "model": "gen4_turbo"})
        True
    """
    import hashlib

    raw = json.dumps(request, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class SubmissionRecord(BaseModel):
    """One paid generation's entry in the ledger (no secrets: the key is a hash).

    Attributes:
        key: The submission's cache key (also the record's name).
        state: ``intent``, ``unknown`` or ``submitted`` (see the module docs).
        source: What a person sees, e.g. ``s3://bucket/key``.
        identity: The image's stable identity in the key.
        request: The normalized request fields in the key.
        flow_run_id: The Prefect flow run that wrote it, if any.
        written_at: When this version of the record was written.
        task: The submitted task, in state ``submitted``.
        lost_responses: Answers lost while submitting (>0: a duplicate task may exist).
        error: Why the outcome is unknown (state ``unknown``) or the image was refused
            (state ``rejected``).
        expires_at: When a ``submitted`` record stops counting (None: never).
        possible_duplicate: Another paid task may exist for this key (a lost answer, or a
            resubmission over an unknown outcome); kept so every later run says so.
        answer: A create's answer that could not be read, redacted and truncated, for a
            person (state ``unknown``).
        transport: How the image travelled to Runway for `task` (``data_uri``, ``upload``,
            ``url``), so a rerun reports it too.
        history: Every task ever created for this key, oldest first, the current `task`
            last; appended to, never rewritten (records written before it existed read as
            empty: see `attempts`).
    """

    version: int = 2
    key: str
    state: RecordState
    source: str | None = None
    identity: str | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    flow_run_id: str | None = None
    written_at: datetime = Field(default_factory=_now)
    task: SubmittedTask | None = None
    lost_responses: int = 0
    error: str | None = None
    expires_at: datetime | None = None
    possible_duplicate: bool = False
    answer: str | None = None
    transport: str | None = None
    history: list[TaskAttempt] = Field(default_factory=list)

    _version: bytes | str | None = PrivateAttr(default=None)

    @property
    def version_read(self) -> bytes | str | None:
        """The storage's version of this record when `Ledger.read` returned it (an S3 ETag,
        or a local file's bytes); None for a record built in memory. `Ledger.replace_if`
        compares it, so a record is replaced only if nobody wrote it since it was read."""
        return self._version

    @property
    def attempts(self) -> list[TaskAttempt]:
        """Every task created for this key, oldest first: `history`, plus the current task
        when `history` does not hold it (a record written before history was kept)."""
        attempts = list(self.history)
        if self.task is not None and all(a.task_id != self.task.id for a in attempts):
            attempts.append(
                TaskAttempt(
                    attempt=len(attempts) + 1, task_id=self.task.id,
                    settings_hash=settings_hash(self.request) if self.request else None,
                    created_at=self.written_at, flow_run_id=self.flow_run_id,
                    estimated_credits=self.task.estimated_credits,
                    possible_duplicate=self.possible_duplicate,
                    lost_responses=self.lost_responses,
                )
            )  # fmt: skip
        return attempts

    def with_attempt(self, task: SubmittedTask, **fields: Any) -> list[TaskAttempt]:
        """`attempts` with `task` appended as the next attempt (unless already there).

        Args:
            task: The task just created for this key.
            **fields: More `TaskAttempt` fields (``possible_duplicate``, ...).
        """
        attempts = self.attempts
        if any(a.task_id == task.id for a in attempts):
            return attempts
        return [
            *attempts,
            TaskAttempt(
                attempt=len(attempts) + 1, task_id=task.id,
                settings_hash=settings_hash(self.request) if self.request else None,
                created_at=_now(), flow_run_id=self.flow_run_id,
                estimated_credits=task.estimated_credits, **fields,
            ),
        ]  # fmt: skip

    @property
    def expired(self) -> bool:
        """True for a ``submitted`` record past its expiry."""
        return self.expires_at is not None and self.expires_at < _now()


class Ledger:
    """Records of paid submissions in a folder, on S3 or in a Prefect storage block.

    The protocol (fail closed, create-if-absent, compare-and-swap, retries) is here; the
    bytes go to a `prefect_runway.ledger.stores.RecordStore`, chosen from `storage`.

    Args:
        storage: A folder, a `LocalFileSystem` block, prefect-aws's ``S3Bucket`` block, an
            ``s3://bucket/prefix`` URL, any Prefect `WritableFileSystem` block, or a
            `RecordStore`. Local folders and S3 get atomic writes, create-if-absent intents
            (a hard link; a conditional PUT, see `prefect_runway.ledger.stores`) and
            compare-and-swap replaces (`replace_if`); other blocks get one write per record,
            compared just before it is written.
    """

    def __init__(self, storage: str | Path | Any) -> None:
        self.store: RecordStore = record_store(storage)

    @classmethod
    async def default(cls) -> Ledger:
        """The ledger in the configured record storage (`prefect_runway.settings`): by default
        Prefect's default result storage, shared with v0.1's cache records."""
        from prefect_runway import settings as config

        ledger = cls(await config.record_storage())
        await config.check_shared_ledger(config.lock_manager(), ledger)
        return ledger

    @property
    def location(self) -> str:
        """Where the records live, as one string: the absolute folder, ``s3://bucket/prefix/``
        or the block's type and name (what the shared lock store's marker compares)."""
        return self.store.location

    @property
    def host_local(self) -> bool:
        """True when the records are on this host's own disk (a folder that is not on a
        network file system): other hosts cannot see them."""
        return self.store.host_local

    def where(self, key: str) -> str:
        """Where the record of `key` lives, for messages."""
        return self.store.where(key)

    # -- reading --------------------------------------------------------------------------

    async def read(self, key: str) -> SubmissionRecord | None:
        """The record of `key`, or None when there is none.

        Raises:
            RecordReadError: the storage failed or the record is damaged. Never "no record":
                a paid call must not be repeated because a read failed.
        """
        try:
            found = await self._read_bytes(key)
        except Exception as exc:
            raise RecordReadError(
                f"Cannot read the submission record {self.where(key)} ({type(exc).__name__}: "
                f"{exc}); nothing was submitted for this image. Fix the storage and rerun."
            ) from None
        if found is None:
            return None
        raw, version = found
        record = self._parse(key, raw)
        record._version = version
        return record

    async def keys(self) -> list[str]:
        """The key of every record in the ledger (``runway-i2v-...``, ``runway-task-...``),
        sorted; other files of a shared folder or prefix are not records.

        Raises:
            RecordReadError: the storage cannot be listed (never an empty ledger instead).
            ConfigurationError: the storage has no listing (a storage block).
        """
        try:
            found = await self.store.akeys(RECORD_PREFIX)
        except ConfigurationError:
            raise
        except Exception as exc:
            raise RecordReadError(
                f"Cannot list the submission records in {self.location} ({type(exc).__name__}: "
                f"{exc}). Fix the storage and rerun."
            ) from None
        known = (KEY_PREFIX, GENERATION_KEY_PREFIX)
        return [k for k in found if k.startswith(known) and "." not in k]  # not lock files

    async def records(self, concurrency: int = 16) -> list[SubmissionRecord]:
        """Every record in the ledger, read and checked, in key order.

        Args:
            concurrency: Records read at once.

        Raises:
            RecordReadError: the listing or a record failed to read, or a record is damaged;
                the message names it. Never a shorter list instead.
            ConfigurationError: the storage has no listing (a storage block).

        Example:
            ```python
            records = await (await Ledger.default()).records()
            paid = sum(len(r.attempts) for r in records)
            ```
        """
        gate = asyncio.Semaphore(concurrency)

        async def one(key: str) -> SubmissionRecord | None:
            async with gate:
                return await self.read(key)

        found = await asyncio.gather(*(one(key) for key in await self.keys()))
        return [record for record in found if record is not None]  # None: deleted meanwhile

    async def _read_bytes(self, key: str) -> tuple[bytes, bytes | str] | None:
        """The record's bytes and their version (S3: the ETag; elsewhere: the bytes)."""
        return await self.store.aread(key)

    def _parse(self, key: str, raw: bytes) -> SubmissionRecord:
        try:
            data = json.loads(raw)
            if isinstance(data, dict) and "metadata" in data and "result" in data:
                return _legacy(key, data)  # v0.1: a Prefect result record of a SubmittedTask
            record = SubmissionRecord.model_validate(data)
        except (ValueError, ValidationError, TypeError) as exc:
            raise RecordReadError(
                f"The submission record {self.where(key)} is damaged ({len(raw)} bytes, "
                f"{type(exc).__name__}); nothing was submitted for this image. Open it: if it "
                "names a task ID, that image was submitted; delete the file to submit it again "
                "(this may pay twice)."
            ) from None
        if record.key != key:
            raise RecordReadError(
                f"The submission record {self.where(key)} holds key {record.key!r}; nothing was "
                "submitted for this image. Restore the right file or delete it."
            )
        return record

    # -- writing --------------------------------------------------------------------------

    async def create(self, record: SubmissionRecord) -> None:
        """Write `record` only where no record exists yet.

        Raises:
            RecordConflictError: a record appeared since it was read (another run's).
            RecordWriteError: the storage failed; nothing was written.
        """
        await self._write(record, exclusive=True)

    async def replace(self, record: SubmissionRecord, attempts: int = 3) -> None:
        """Write `record` over whatever is there, atomically, retrying a failing storage.

        Raises:
            RecordWriteError: every attempt failed.
        """
        for attempt in range(1, attempts + 1):
            try:
                await self._write(record, exclusive=False)
                return
            except RecordWriteError:
                if attempt == attempts:
                    raise
                await asyncio.sleep(0.2 * attempt)

    async def replace_if(self, record: SubmissionRecord, expected: SubmissionRecord) -> None:
        """Write `record` over `expected` only if the stored record is still the version
        `expected` was read at (compare-and-swap), in one attempt.

        S3: ``PutObject`` with ``If-Match`` on the ETag read. Local folder: under a kernel
        ``flock`` of the folder's guard file, the file is replaced (rename) only if its bytes
        are those read. Other storage blocks cannot compare and write in one step: their
        record is read again and compared just before the write, which narrows the window
        but cannot close it (see the README, Several machines).

        Raises:
            RecordConflictError: the record changed (or vanished) since `expected` was read:
                another runner wrote it.
            RecordWriteError: the storage failed; nothing was written.
            ValueError: `expected` was not returned by `read` (no version to compare).
        """
        if expected.version_read is None:
            raise ValueError(f"replace_if needs a record read from the ledger ({record.key})")
        data = record.model_dump_json(exclude_none=True).encode()
        version = expected.version_read
        with self._writing(record.key):
            await self.store.areplace_if(record.key, data, version)

    async def note_outcome(
        self, key: str, task_id: str, final_status: str, credits: float | None = None
    ) -> bool:
        """Record a task's final state (and cost) in its attempt of the key's history.

        Only that attempt changes; the write is a compare-and-swap (`replace_if`), redone on
        a record that changed meanwhile. Callers hold the key's lock, as submissions do.

        Returns:
            False when the record or the task is not in the ledger (nothing written).

        Raises:
            RecordReadError, RecordWriteError: the storage failed.
        """
        for _ in range(3):
            record = await self.read(key)
            attempts = record.attempts if record is not None else []
            if record is None or all(a.task_id != task_id for a in attempts):
                return False
            history = [
                a.model_copy(update={"final_status": final_status, "credits": credits})
                if a.task_id == task_id else a
                for a in attempts
            ]  # fmt: skip
            if history == record.history:
                return True
            try:
                await self.replace_if(record.model_copy(update={"history": history}), record)
                return True
            except RecordConflictError:
                continue
        raise RecordWriteError(f"The record {self.where(key)} kept changing; outcome not noted")

    async def delete(self, key: str) -> None:
        """Remove the record of `key` (a POST that certainly created nothing)."""
        with self._writing(key, "Cannot delete {where}: {exc}"):
            await self.store.adelete(key)

    async def _write(self, record: SubmissionRecord, exclusive: bool) -> None:
        data = record.model_dump_json(exclude_none=True).encode()
        with self._writing(record.key):
            if exclusive:
                await self.store.acreate(record.key, data)
            else:
                await self.store.awrite(record.key, data)

    @contextmanager
    def _writing(
        self,
        key: str,
        message: str = "Cannot write the submission record {where} ({kind}: {exc})",
    ) -> Iterator[None]:
        """Any storage failure inside becomes a `RecordWriteError` naming the record;
        `RecordConflictError` and `RecordWriteError` pass as they are."""
        try:
            yield
        except (RecordConflictError, RecordWriteError):
            raise
        except Exception as exc:
            text = message.format(where=self.where(key), kind=type(exc).__name__, exc=exc)
            raise RecordWriteError(text) from None


def _legacy(key: str, data: dict[str, Any]) -> SubmissionRecord:
    result = data["result"]
    if isinstance(result, str):
        result = json.loads(result)
    task = SubmittedTask.model_validate(result)
    return SubmissionRecord(key=key, state="submitted", task=task, version=1)
