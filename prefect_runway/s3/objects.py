"""Images from S3: streaming listing, content sniffing, bytes and presigned URLs.

This layer only produces bytes, identities and URLs; it never talks to Runway. Which way an
image travels (data URI, upload, presigned URL) is decided in one place,
`prefect_runway.delivery`, for the flow and the CLI alike.

boto3 is used as it is: the standard credential chain, and ``AWS_ENDPOINT_URL`` for S3-compatible
stores (moto, MinIO). Objects are judged by their bytes, not their names or their S3
Content-Type (objects uploaded without one are served as ``binary/octet-stream``). The image's
identity in the cache key is ``s3://bucket/key#etag``, whatever the transport.

Example:
    ```python
    import boto3
    from prefect_runway.s3.objects import iter_s3_pages

    for page in iter_s3_pages(boto3.client("s3"), "stills", "in/"):
        for obj in page:
            print(obj.uri, obj.size)
    ```
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from prefect_runway.errors import ImageRejectedError, ImageSourceError
from prefect_runway.images import SNIFF_BYTES as SNIFF_BYTES  # re-exported: lives in images
from prefect_runway.images import sniff_image_type as sniff_image_type

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST_NAME = "runway-manifest.json"
MANIFEST_FILES = (MANIFEST_NAME, "runway-manifest.parquet", "runway-manifest.jsonl")
"""The manifest and its table views (`prefect_runway.s3.manifest_table`): never inputs."""
PRESIGNED_URL_CAVEAT = (
    "S3 presigned GET URLs answer HEAD requests with 403, and Runway checks image URLs with "
    "HEAD: the API may refuse them. Prefer images up to 3.7 MB (sent inline) or the official "
    "dialect's uploads."
)
@dataclass(frozen=True)
class S3Image:
    """One listed S3 object (not yet known to be an image).

    Attributes:
        bucket: The bucket.
        key: The object key.
        etag: The object's ETag (changes when the content does).
        size: Size in bytes.
    """

    bucket: str
    key: str
    etag: str
    size: int

    @property
    def uri(self) -> str:
        """``s3://bucket/key``: how a person finds the object."""
        return f"s3://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        """``s3://bucket/key#etag``: the stable identity in the cache key."""
        return f"{self.uri}#{self.etag}"


def iter_s3_pages(
    s3: S3Client, bucket: str, prefix: str = "", page_size: int = 1000
) -> Iterator[list[S3Image]]:
    """List a prefix page by page with boto3's paginator: never the whole listing at once.

    Folder markers (keys ending in ``/``) and this package's manifests are left out.

    Raises:
        ImageSourceError: the bucket does not exist or access is denied.
    """
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    try:
        for page in pages:
            yield [
                S3Image(bucket, item["Key"], item.get("ETag", "").strip('"'), item.get("Size", 0))
                for item in page.get("Contents", [])
                if not item["Key"].endswith(("/", *MANIFEST_FILES))
            ]
    except ClientError as exc:
        raise ImageSourceError(_explain(exc, f"s3://{bucket}/{prefix}")) from None


SIDECAR_SUFFIXES = (".json", ".txt")
"""An image's sidecars: ``cat.json`` and ``cat.txt`` beside ``cat.png`` (see `image_pages`)."""


def stem(key: str) -> str:
    """``in/cat`` for ``in/cat.png``: what an image and its sidecars share."""
    folder, base = posixpath.split(key)
    return posixpath.join(folder, posixpath.splitext(base)[0] or base)


def is_sidecar_name(key: str) -> bool:
    """True for ``.json`` and ``.txt`` keys: sidecars when an image shares their stem."""
    return key.endswith(SIDECAR_SUFFIXES) and stem(key) != key


def image_pages(
    pages: Iterator[list[S3Image]],
) -> Iterator[tuple[list[S3Image], dict[str, tuple[str, ...]]]]:
    """Listing pages with sidecars attached: each page's objects (sidecars left out) and,
    per object that has any, the keys of its listed sidecars.

    A ``.json``/``.txt`` key is a sidecar when another, non-sidecar key shares its stem;
    without one it stays an object (a stray file is still reported). Keys come sorted, and an
    image and its sidecars may fall on different pages (``cat.json`` < ``cat.png`` <
    ``cat.txt``), so an object is held back until the listing has passed every key that could
    pair with it: ``<stem>.txt`` for an image, the whole ``<stem>.`` range for a sidecar.
    Pages may therefore be shorter or longer than the listing's.
    """
    held: list[S3Image] = []
    stems: set[str] = set()  # stems of images seen whose ``<stem>.`` range is not passed yet
    for page in chain(pages, [None]):
        last = None if page is None else (page[-1].key if page else None)
        if page is not None:
            if not page:
                continue
            held += page
            stems.update(stem(o.key) for o in page if not is_sidecar_name(o.key))

        def ready(obj: S3Image, last: str | None = last) -> bool:
            if last is None:
                return True
            if is_sidecar_name(obj.key):
                return _passed(stem(obj.key), last)
            return stem(obj.key) + SIDECAR_SUFFIXES[-1] <= last

        cut = 0
        while cut < len(held) and ready(held[cut]):
            cut += 1
        done, held = held[:cut], held[cut:]
        if not done:
            continue
        listed = {o.key for o in done} | {o.key for o in held}
        objects: list[S3Image] = []
        sidecars: dict[str, tuple[str, ...]] = {}
        for obj in done:
            if is_sidecar_name(obj.key):
                if stem(obj.key) not in stems:
                    objects.append(obj)  # no image beside it: reported as what it is
                continue
            objects.append(obj)
            found = tuple(k for k in (stem(obj.key) + s for s in SIDECAR_SUFFIXES) if k in listed)
            if found:
                sidecars[obj.key] = found
        if held:  # forget the images whose stem no held or later key can share
            stems = {s for s in stems if not _passed(s, held[0].key)}
        elif last is not None:
            stems = {s for s in stems if not _passed(s, last)}
        yield objects, sidecars


def _passed(stem: str, key: str) -> bool:
    """True when `key` sorts after every key sharing `stem` (``stem`` and ``stem.*``)."""
    return key > stem + "." and not key.startswith(stem + ".")


def head_object(s3: S3Client, bucket: str, key: str) -> S3Image:
    """One object by HeadObject: its ETag and size, without reading it.

    Raises:
        ImageSourceError: the bucket or object does not exist, access is denied, or S3
            failed (throttling, a network error): a failure of the storage, not of the input.
    """
    try:
        answer = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        raise ImageSourceError(
            f"{_explain(exc, f's3://{bucket}/{key}')}; nothing was submitted for it"
        ) from None
    except BotoCoreError as exc:  # no answer at all (endpoint unreachable, timeout)
        raise ImageSourceError(
            f"s3://{bucket}/{key}: S3 could not be reached ({type(exc).__name__}); nothing "
            "was submitted for it"
        ) from None
    return S3Image(bucket, key, answer.get("ETag", "").strip('"'), answer.get("ContentLength", 0))


def _explain(exc: ClientError, where: str) -> str:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    reasons = {
        "NoSuchBucket": "the bucket does not exist",
        "AccessDenied": "access denied: check the AWS credentials and the bucket policy",
        "403": "access denied: check the AWS credentials and the bucket policy",
        "NoSuchKey": "the object does not exist",
        "404": "the object does not exist",
    }
    return f"{where}: {reasons.get(code, f'S3 error {code}')}"


def sniffed_type(obj: S3Image, head: bytes) -> str:
    """The image type of `obj` from its first bytes.

    Raises:
        ImageRejectedError: not a JPEG, PNG or WebP (a GIF is named as such).
    """
    content_type = sniff_image_type(head[:SNIFF_BYTES])
    if content_type is None:
        raise ImageRejectedError(
            f"{obj.uri} is not a JPEG, PNG or WebP image (its bytes match none of them)"
        )
    if content_type == "image/gif":
        raise ImageRejectedError(f"{obj.uri} is a GIF; Runway accepts JPEG, PNG or WebP")
    return content_type


def presigned_url(s3: S3Client, obj: S3Image, content_type: str, seconds: int = 3600) -> str:
    """A presigned GET URL of `obj` that serves `content_type` (even if it was stored as
    ``binary/octet-stream``)."""
    url: str = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": obj.bucket, "Key": obj.key, "ResponseContentType": content_type},
        ExpiresIn=seconds,
    )
    return url


def read_object(s3: S3Client, obj: S3Image, byte_range: str | None = None) -> bytes:
    """The bytes of `obj` (or a ``bytes=a-b`` range of them), only if its ETag is unchanged.

    Raises:
        ImageSourceError: it changed since it was listed, vanished, or the read failed
            (access denied, throttling, a network error): a failure of this run, not of the
            image, so it is not remembered and the next run tries again. Only an object's
            bytes make a rejection.
    """
    return _read(s3, obj, byte_range)


def _read(s3: S3Client, obj: S3Image, byte_range: str | None) -> bytes:
    match = f'"{obj.etag}"'
    try:
        if byte_range:
            answer = s3.get_object(Bucket=obj.bucket, Key=obj.key, IfMatch=match, Range=byte_range)
        else:
            answer = s3.get_object(Bucket=obj.bucket, Key=obj.key, IfMatch=match)
        return answer["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            raise ImageSourceError(
                f"{obj.uri} changed while the batch ran (ETag no longer {obj.etag}); rerun to "
                "submit the new version"
            ) from None
        raise ImageSourceError(
            f"{_explain(exc, obj.uri)}; nothing was submitted for it, the next run tries again"
        ) from None
