"""Where the ledger's record bytes live: one `RecordStore` per kind of storage.

`prefect_runway.ledger.records.Ledger` keeps the protocol (fail closed, intents before the
POST, compare-and-swap) and delegates every byte to its store, as Prefect's `ResultStore`
delegates to a storage block. Three stores:

- `LocalFolderStore`: a folder. Atomic writes (temporary file, fsync, rename); intents
  created only where no record exists (a hard link of the fsynced file, which fails if a
  record is there, as ``O_EXCL`` would); compare-and-rename under a kernel ``flock``.
- `S3RecordStore`: S3, for workers on several machines (below).
- `BlockStore`: any other Prefect `WritableFileSystem` block: one write per record,
  compared just before it is written (a narrower window, not a closed one).

Each store's reads raise on any storage error and return None only for "no such record"
(the Ledger turns the error into `RecordReadError`: a read error is never "no record").

S3, in detail:

- **Intents are created only where no record exists**: ``PutObject`` with
  ``If-None-Match: *`` (S3's conditional write). A second writer gets ``412 Precondition
  Failed`` (or ``409 ConditionalRequestConflict`` while another conditional write is in
  flight): `RecordConflictError`, and it does not POST. Even a lock that lied cannot make two
  machines pay for one image.
- **Intents over an existing record** (expired, resubmitted) are ``PutObject`` with
  ``If-Match`` on the ETag read: a record changed since is `RecordConflictError`, no POST.
- **Outcomes replace the intent in one PUT**: S3 objects are never seen half-written.
- **Reads fail closed**: only ``NoSuchKey`` (404) is "no record"; any other error (access
  denied, throttling, a network failure) is a `RecordReadError` upstream, and nothing is paid.

It takes prefect-aws's ``S3Bucket`` block (its credentials, endpoint and ``bucket_folder``),
or a plain ``s3://bucket/prefix`` URL with boto3's standard credential chain (environment,
profile, instance role; ``AWS_ENDPOINT_URL`` for an S3-compatible store).

Example:
    ```python
    from prefect_runway.ledger.records import Ledger

    ledger = Ledger("s3://stills/records/")  # or a prefect-aws block: Ledger(S3Bucket.load(...))
    record = await ledger.read("runway-i2v-1f2e")  # None: nothing was ever submitted for it
    ```
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from prefect_runway.errors import ConfigurationError, RecordConflictError, RecordWriteError

# boto3 blocks: its calls run in threads of their own, so a batch's record reads and writes
# never queue behind the event loop's small default executor (cpu count + 4 threads).
_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="runway-s3-records")
_CONNECTIONS = 64
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "lustre", "gpfs",
               "afs", "beegfs", "ocfs2", "gfs2", "fuse.glusterfs", "fuse.sshfs", "fuse.cephfs",
               "fuse.s3fs", "fuse.gcsfuse", "fuse.juicefs", "fuse.mountpoint-s3"}  # fmt: skip

Version = bytes | str
"""A record's version as read: an S3 ETag, or (elsewhere) the record's bytes."""


@runtime_checkable
class RecordStore(Protocol):
    """The storage of the ledger's record bytes, one object per key.

    Every method raises on a storage failure (the Ledger wraps it in `RecordReadError` or
    `RecordWriteError`); conditions that fail raise `RecordConflictError`.
    """

    @property
    def location(self) -> str:
        """Where the records live, as one string (what the shared lock store's marker
        compares): an absolute folder, ``s3://bucket/prefix/``, or a block's type and name."""
        ...

    @property
    def host_local(self) -> bool:
        """True when the records are on this host's own disk: other hosts cannot see them."""
        ...

    def where(self, key: str) -> str:
        """Where the record of `key` lives, for messages."""
        ...

    async def aread(self, key: str) -> tuple[bytes, Version] | None:
        """The record's bytes and their version; None only when there is no record."""
        ...

    async def acreate(self, key: str, data: bytes) -> None:
        """Write `data` only where no record exists (else `RecordConflictError`)."""
        ...

    async def awrite(self, key: str, data: bytes) -> None:
        """Write `data` over whatever is there, atomically where the storage allows."""
        ...

    async def areplace_if(self, key: str, data: bytes, version: Version) -> None:
        """Write `data` only over the record still at `version` (else
        `RecordConflictError`: it changed or vanished since it was read)."""
        ...

    async def adelete(self, key: str) -> None:
        """Remove the record of `key` (absent is fine)."""
        ...

    async def akeys(self, prefix: str = "") -> list[str]:
        """The keys of every record whose key starts with `prefix`, sorted (no temporary
        files); raises when the storage cannot be listed, never answers "none" instead."""
        ...


def record_store(storage: str | Path | Any) -> RecordStore:
    """The store for `storage`, as `Ledger` takes it.

    Args:
        storage: A `RecordStore`; a folder (``str`` or `Path`, ``~`` expanded); a
            `LocalFileSystem` block (its folder); an ``s3://bucket/prefix`` URL (any scheme
            case) or prefect-aws's ``S3Bucket`` block; else any Prefect storage block.
    """
    from prefect.filesystems import LocalFileSystem

    if isinstance(storage, RecordStore):
        return storage
    if isinstance(storage, LocalFileSystem):
        from prefect.settings import get_current_settings

        storage = Path(storage.basepath or get_current_settings().results.local_storage_path)
    if isinstance(storage, str) and storage[:5].lower() == "s3://":
        return S3RecordStore.from_url(storage)
    if is_s3_bucket_block(storage):
        return S3RecordStore.from_block(storage)  # conditional creates, one-PUT writes
    if isinstance(storage, (str, Path)):
        return LocalFolderStore(storage)
    return BlockStore(storage)


class LocalFolderStore:
    """Record files in one folder: atomic writes, create-if-absent, compare-and-rename.

    Args:
        folder: The folder (``~`` expanded); created at the first write.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()

    @property
    def location(self) -> str:
        """The absolute folder."""
        return str(self.folder.resolve())

    @property
    def host_local(self) -> bool:
        """True unless the folder is on a network file system (`is_host_local`)."""
        return is_host_local(self.folder)

    def where(self, key: str) -> str:
        """The record's file."""
        return str(self.folder / key)

    async def aread(self, key: str) -> tuple[bytes, Version] | None:
        """The file's bytes, which are also its version."""
        try:
            raw = (self.folder / key).read_bytes()
        except FileNotFoundError:
            return None
        return raw, raw

    async def acreate(self, key: str, data: bytes) -> None:
        """A hard link of the fsynced file: fails if a record exists."""
        # In a thread: the fsyncs must not stall the event loop's other submissions.
        await asyncio.to_thread(_write_local, self.folder, key, data, True)

    async def awrite(self, key: str, data: bytes) -> None:
        """Temporary file, fsync, rename."""
        await asyncio.to_thread(_write_local, self.folder, key, data, False)

    async def areplace_if(self, key: str, data: bytes, version: Version) -> None:
        """A compare-and-rename under the folder's ``flock`` (`_swap_local`)."""
        assert isinstance(version, bytes)
        await asyncio.to_thread(_swap_local, self.folder, key, data, version)

    async def adelete(self, key: str) -> None:
        """Unlink the file (absent is fine)."""
        (self.folder / key).unlink(missing_ok=True)

    async def akeys(self, prefix: str = "") -> list[str]:
        """The folder's record files whose names start with `prefix` (none when the folder was
        never written); hidden files (temporary writes, the replace guard) are not records."""

        def names() -> list[str]:
            if not self.folder.exists():
                return []
            return sorted(
                p.name for p in self.folder.iterdir()
                if p.name.startswith(prefix) and not p.name.startswith(".") and p.is_file()
            )  # fmt: skip

        return await asyncio.to_thread(names)


class BlockStore:
    """Records in any Prefect storage block (``read_path``, ``write_path``, and
    ``delete_path`` when it has one), called off the event loop.

    Such a block cannot compare and write in one step: `areplace_if` reads the record again
    and compares it just before the write, which narrows the window but cannot close it, and
    `acreate` is a plain write (see the README, Several machines).

    Args:
        block: The storage block.
    """

    def __init__(self, block: Any) -> None:
        self.block = block

    @property
    def location(self) -> str:
        """The block's type and name."""
        name = getattr(self.block, "_block_document_name", None) or "unnamed"
        return f"{type(self.block).__name__} block {name!r}"

    @property
    def host_local(self) -> bool:
        """False: a block is not a folder of this host (a `LocalFileSystem` block becomes a
        `LocalFolderStore`)."""
        return False

    def where(self, key: str) -> str:
        """The block's type and the record's path in it."""
        return f"{type(self.block).__name__} block, path {key}"

    async def aread(self, key: str) -> tuple[bytes, Version] | None:
        """The path's bytes (also its version); None only for a missing path."""
        try:
            raw = await _call(self.block, "read_path", key)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return raw, raw

    async def acreate(self, key: str, data: bytes) -> None:
        """One write (a block has no create-if-absent)."""
        await _call(self.block, "write_path", key, data)

    async def awrite(self, key: str, data: bytes) -> None:
        """One write."""
        await _call(self.block, "write_path", key, data)

    async def areplace_if(self, key: str, data: bytes, version: Version) -> None:
        """Read again, compare, then write (not atomic: see the class)."""
        current = await self.aread(key)
        if current is None or current[1] != version:
            raise RecordConflictError(f"The record {self.where(key)} changed since it was read")
        await _call(self.block, "write_path", key, data)

    async def adelete(self, key: str) -> None:
        """``delete_path``; a block without one refuses (`RecordWriteError`)."""
        if not hasattr(self.block, "delete_path"):
            raise RecordWriteError(f"{type(self.block).__name__} cannot delete records")
        await _call(self.block, "delete_path", key)

    async def akeys(self, prefix: str = "") -> list[str]:
        """A storage block has no listing this store can rely on: refused.

        Raises:
            ConfigurationError: always, naming the block and what lists.
        """
        raise ConfigurationError(
            f"The ledger in the {self.location} cannot list its records (a storage block "
            "offers no listing): reconciling spend needs the records in a folder or on S3 "
            "(PREFECT_RUNWAY_RECORDS, a LocalFileSystem or an S3Bucket block)."
        )


class S3RecordStore:
    """Record bytes in one S3 bucket under a prefix, with conditional creates.

    Args:
        bucket: The bucket name.
        prefix: A folder in the bucket (``records/``); empty for the bucket's root.
        client: A boto3 S3 client; default: boto3's standard chain.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("s3", config=Config(max_pool_connections=_CONNECTIONS))
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client

    @classmethod
    def from_url(cls, url: str) -> S3RecordStore:
        """A store for ``s3://bucket/prefix`` on boto3's standard credential chain.

        Example:
            >>> S3RecordStore.from_url("s3://my-bucket/runway/records").where("k")  # doctest: +SKIP
            's3://my-bucket/runway/records/k'
        """
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"Not an S3 URL: {url!r}; expected s3://bucket/prefix")
        return cls(parts.netloc, parts.path)

    @classmethod
    def from_block(cls, block: Any) -> S3RecordStore:
        """A store on prefect-aws's ``S3Bucket`` block: its bucket, folder and credentials
        (endpoint and client options included), with enough pooled connections for a batch."""
        from botocore.config import Config

        credentials = block.credentials
        try:
            params = dict(credentials.aws_client_parameters.get_params_override())
            if getattr(credentials, "region_name", None):
                params["region_name"] = credentials.region_name
            pool = Config(max_pool_connections=_CONNECTIONS)
            params["config"] = params["config"].merge(pool) if "config" in params else pool
            client = credentials.get_boto3_session().client("s3", **params)
        except AttributeError:  # credentials of another shape: their own client
            client = credentials.get_s3_client()
        return cls(block.bucket_name, block.bucket_folder or "", client)

    def _key(self, key: str) -> str:
        return self.prefix + key

    @property
    def location(self) -> str:
        """``s3://bucket/prefix/``."""
        return self.where("")

    @property
    def host_local(self) -> bool:
        """False: every host with access sees the bucket."""
        return False

    def where(self, key: str) -> str:
        """``s3://bucket/prefix/key``, for messages."""
        return f"s3://{self.bucket}/{self._key(key)}"

    def get(self, key: str) -> bytes | None:
        """The bytes of `key`, or None when there is no such object; other errors raise."""
        found = self.get_versioned(key)
        return None if found is None else found[0]

    def get_versioned(self, key: str) -> tuple[bytes, str] | None:
        """The bytes of `key` and their ETag, or None when there is no such object."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return bytes(answer["Body"].read()), str(answer.get("ETag", ""))

    def put(
        self, key: str, data: bytes, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        """Write `key` in one PUT; with `if_absent`, only where no object exists; with
        `if_match`, only over the object whose ETag is `if_match` (S3's ``If-Match``).

        Raises:
            RecordConflictError: the condition failed: an object exists (`if_absent`), or
                the object changed or vanished since it was read (`if_match`).
        """
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if if_absent else {}
        if if_match is not None:
            extra["IfMatch"] = if_match
        conditional = bool(extra)
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data,
                ContentType="application/json", **extra,
            )  # fmt: skip
        except Exception as exc:
            code = _code(exc)
            if if_match is not None and code in _CONFLICT | _MISSING:
                message = f"The record {self.where(key)} changed since it was read"
                raise RecordConflictError(message) from None
            if conditional and code in _CONFLICT:
                message = f"A record appeared at {self.where(key)} meanwhile"
                raise RecordConflictError(message) from None
            raise

    def delete(self, key: str) -> None:
        """Remove `key` (absent is fine)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def aget(self, key: str) -> bytes | None:
        """`get` off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(_THREADS, self.get, key)

    async def aget_versioned(self, key: str) -> tuple[bytes, str] | None:
        """`get_versioned` off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(
            _THREADS, self.get_versioned, key
        )

    async def aput(
        self, key: str, data: bytes, if_absent: bool = False, if_match: str | None = None
    ) -> None:
        """`put` off the event loop."""
        await asyncio.get_running_loop().run_in_executor(
            _THREADS, self.put, key, data, if_absent, if_match
        )

    async def adelete(self, key: str) -> None:
        """`delete` off the event loop."""
        await asyncio.get_running_loop().run_in_executor(_THREADS, self.delete, key)

    def keys(self, prefix: str = "") -> list[str]:
        """The keys under the store's prefix that start with `prefix` (``ListObjectsV2``,
        every page), relative to the store's prefix, sorted."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        found = [o["Key"][len(self.prefix) :] for page in pages for o in page.get("Contents", [])]
        return sorted(k for k in found if "/" not in k)  # not the sub-folders' objects

    async def akeys(self, prefix: str = "") -> list[str]:
        """`keys` off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(_THREADS, self.keys, prefix)

    # -- the `RecordStore` protocol (`adelete` above is its own) ------------------------------

    async def aread(self, key: str) -> tuple[bytes, Version] | None:
        """The object's bytes and ETag (`get_versioned`)."""
        return await self.aget_versioned(key)

    async def acreate(self, key: str, data: bytes) -> None:
        """``PutObject`` with ``If-None-Match: *``."""
        await self.aput(key, data, if_absent=True)

    async def awrite(self, key: str, data: bytes) -> None:
        """One unconditional ``PutObject``."""
        await self.aput(key, data)

    async def areplace_if(self, key: str, data: bytes, version: Version) -> None:
        """``PutObject`` with ``If-Match`` on the ETag read."""
        await self.aput(key, data, if_match=str(version))


def is_s3_bucket_block(storage: Any) -> bool:
    """True for prefect-aws's ``S3Bucket`` block (checked without importing prefect-aws)."""
    cls = type(storage)
    return cls.__name__ == "S3Bucket" and cls.__module__.startswith("prefect_aws")


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(code) if code else (str(status) if status else None)


def is_host_local(folder: Path) -> bool:
    """True when `folder` is on this host's own disk (not a network file system such as
    NFS, SMB, CephFS or a FUSE mount of object storage), from ``/proc/self/mountinfo``."""
    path = str(folder.expanduser().resolve())
    best, fstype = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return True  # cannot tell: assume the safer "host-local"
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = path == mount or path.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, fstype = mount, right.split()[0]
    return fstype not in _NETWORK_FS


def _write_local(folder: Path, key: str, data: bytes, exclusive: bool) -> None:
    """Temporary file + fsync + rename (or hard link, to create only where nothing is)."""
    target = folder / key
    temporary = _fsynced_temporary(folder, key, data)
    try:
        if exclusive:
            try:
                os.link(temporary, target)  # fails if a record exists: create-if-absent
            except FileExistsError:
                raise RecordConflictError(f"A record appeared at {target} meanwhile") from None
        else:
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(folder)


def _swap_local(folder: Path, key: str, data: bytes, expected: bytes) -> None:
    """Replace the record of `key` by `data` only if its bytes on disk are `expected`.

    The new bytes are written and fsynced first; then, under an exclusive ``flock`` of the
    folder's guard file (released by the kernel even if this process dies), the record is
    read again, compared, and renamed over. Every conditional replace takes that lock, so
    two of them never both see the same old bytes.
    """
    target = folder / key
    temporary = _fsynced_temporary(folder, key, data)
    try:
        with open(folder / ".replace.guard", "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                current = target.read_bytes()
            except FileNotFoundError:
                current = None
            if current != expected:
                raise RecordConflictError(f"The record {target} changed since it was read")
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_folder(folder)


def _fsynced_temporary(folder: Path, key: str, data: bytes) -> Path:
    """`data` in a new temporary file beside the record of `key`, on disk (fsynced)."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{key}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _fsync_folder(folder: Path) -> None:
    """Make the folder's last rename or link survive a host crash."""
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


async def _call(block: Any, method: str, *args: Any) -> Any:
    """Call a storage block's method off the event loop (blocks do blocking I/O)."""

    def run() -> Any:
        return getattr(block, method)(*args)

    result = await asyncio.to_thread(run)
    return await result if inspect.isawaitable(result) else result


def _is_missing(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError):
        return True
    response = getattr(exc, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("NoSuchKey", "404", "NotFound")
