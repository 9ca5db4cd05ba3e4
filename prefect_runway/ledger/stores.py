"""Submission records on S3, for workers on several machines: create-if-absent intents, one-PUT
outcomes, reads that fail closed.

The `Ledger` (`prefect_runway.ledger.records`) keeps its protocol; this module is its S3 storage:

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
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from prefect_runway.errors import RecordConflictError

# boto3 blocks: its calls run in threads of their own, so a batch's record reads and writes
# never queue behind the event loop's small default executor (cpu count + 4 threads).
_THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="runway-s3-records")
_CONNECTIONS = 64
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


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
