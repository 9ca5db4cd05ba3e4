"""Images from S3: streaming listing, content sniffing, and the safest transport that fits.

boto3 is used as it is: the standard credential chain, and ``AWS_ENDPOINT_URL`` for S3-compatible
stores (moto, MinIO). Objects are judged by their bytes, not their names or their S3
Content-Type (objects uploaded without one are served as ``binary/octet-stream``).

Transports, in the order ``auto`` tries them:

1. ``data_uri``: the image inline, when the whole URI fits Runway's 5 MB limit;
2. ``upload``: an ephemeral upload (``runway://``, 24 h, up to 200 MB), official dialect only;
3. ``presigned_url``: an S3 presigned GET URL (up to 16 MB). Last resort: Runway checks image
   URLs with a HEAD request, which a presigned *GET* URL answers with 403 on real S3.

The transport never changes the cache key: the image's identity is ``s3://bucket/key#etag``.

Example:
    ```python
    import boto3
    from prefect_runway.sources import iter_s3_pages

    for page in iter_s3_pages(boto3.client("s3"), "my-bucket", "stills/"):
        for obj in page:
            print(obj.uri, obj.size)
    ```
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from prefect_runway.client import AsyncRunwayClient
from prefect_runway.engine import ImageJob
from prefect_runway.errors import ImageRejectedError, ImageSourceError
from prefect_runway.models import MAX_DATA_URI_BYTES, MAX_UPLOAD_BYTES, MAX_URL_IMAGE_BYTES

Transport = Literal["auto", "data_uri", "upload", "presigned_url"]
MANIFEST_NAME = "runway-manifest.json"
PRESIGNED_URL_CAVEAT = (
    "S3 presigned GET URLs answer HEAD requests with 403, and Runway checks image URLs with "
    "HEAD: the API may refuse them. Prefer images up to 3.7 MB (sent inline) or the official "
    "dialect's uploads."
)
_SNIFF_BYTES = 16


def sniff_image_type(head: bytes) -> str | None:
    """The image type by magic bytes: ``image/jpeg``, ``image/png``, ``image/webp``, ``image/gif``.

    Example:
        ```python
        sniff_image_type(b"\\x89PNG\\r\\n\\x1a\\n...")  # 'image/png'
        ```
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def data_uri_size(raw_bytes: int, content_type: str) -> int:
    """Length of the data URI that carries `raw_bytes` of an image."""
    return len(f"data:{content_type};base64,") + 4 * ((raw_bytes + 2) // 3)


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
    s3: Any, bucket: str, prefix: str = "", page_size: int = 1000
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
                if not item["Key"].endswith(("/", MANIFEST_NAME))
            ]
    except ClientError as exc:
        raise ImageSourceError(_explain(exc, f"s3://{bucket}/{prefix}")) from None


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


def precheck(obj: S3Image, transport: Transport, dialect: str) -> None:
    """Reject what the listing already shows to be unusable, before any download.

    Raises:
        ImageRejectedError: empty, or too large for every transport available.
    """
    if obj.size == 0:
        raise ImageRejectedError(f"{obj.uri} is empty (0 bytes)")
    limit = {
        "data_uri": MAX_DATA_URI_BYTES,
        "upload": MAX_UPLOAD_BYTES,
        "presigned_url": MAX_URL_IMAGE_BYTES,
        "auto": MAX_UPLOAD_BYTES if dialect == "runway" else MAX_URL_IMAGE_BYTES,
    }[transport]
    if obj.size > limit:
        raise ImageRejectedError(
            f"{obj.uri} is {obj.size} bytes; transport {transport!r} with the {dialect} dialect "
            f"accepts at most {limit} bytes"
        )


def choose_transport(obj: S3Image, content_type: str, transport: Transport, dialect: str) -> str:
    """The transport `auto` resolves to for this object (the others are returned as given)."""
    if transport != "auto":
        return transport
    if data_uri_size(obj.size, content_type) <= MAX_DATA_URI_BYTES:
        return "data_uri"
    return "upload" if dialect == "runway" else "presigned_url"


def s3_image_job(
    s3: Any, obj: S3Image, transport: Transport = "auto", presign_seconds: int = 3600
) -> ImageJob:
    """An `ImageJob` that fetches, sniffs and ships `obj` only on a cache miss.

    Example:
        ```python
        jobs = (s3_image_job(s3, obj) for page in iter_s3_pages(s3, "b") for obj in page)
        rows = await submit_images(creds, settings, jobs)
        ```
    """

    async def resolve(client: AsyncRunwayClient) -> str:
        precheck(obj, transport, client.dialect)
        # Small objects (the common case) are read once; big ones are sniffed with a ranged
        # GET first, so a presigned URL needs no full download.
        small = data_uri_size(obj.size, "image/webp") <= MAX_DATA_URI_BYTES
        data = await asyncio.to_thread(
            _read, s3, obj, None if small else f"bytes=0-{_SNIFF_BYTES - 1}"
        )
        content_type = sniff_image_type(data[:_SNIFF_BYTES])
        if content_type is None:
            raise ImageRejectedError(
                f"{obj.uri} is not a JPEG, PNG or WebP image (its bytes match none of them)"
            )
        if content_type == "image/gif":
            raise ImageRejectedError(f"{obj.uri} is a GIF; Runway accepts JPEG, PNG or WebP")
        how = choose_transport(obj, content_type, transport, client.dialect)
        if how == "presigned_url":
            return s3.generate_presigned_url(
                "get_object",
                # Serve the sniffed type even if the object was stored as binary/octet-stream.
                Params={"Bucket": obj.bucket, "Key": obj.key, "ResponseContentType": content_type},
                ExpiresIn=presign_seconds,
            )
        if not small:
            data = await asyncio.to_thread(_read, s3, obj, None)
        if how == "upload":
            name = obj.key.rsplit("/", 1)[-1]
            return await client.upload_image(data, name, content_type)
        uri = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
        if len(uri) > MAX_DATA_URI_BYTES:
            raise ImageRejectedError(
                f"{obj.uri} is {obj.size} bytes: too large for an inline data URI (5 MB); use "
                "transport 'auto', 'upload' or 'presigned_url'"
            )
        return uri

    return ImageJob(source=obj.uri, identity=obj.identity, image=resolve)


def _read(s3: Any, obj: S3Image, byte_range: str | None) -> bytes:
    kwargs = {"Bucket": obj.bucket, "Key": obj.key, "IfMatch": f'"{obj.etag}"'}
    if byte_range:
        kwargs["Range"] = byte_range
    try:
        return s3.get_object(**kwargs)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            raise ImageRejectedError(
                f"{obj.uri} changed while the batch ran (ETag no longer {obj.etag}); rerun to "
                "submit the new version"
            ) from None
        raise ImageRejectedError(_explain(exc, obj.uri)) from None
