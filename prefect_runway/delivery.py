"""How an image travels to Runway: one decision for the flow and the CLI alike.

Transports, in the order ``auto`` tries them:

1. ``data_uri``: the image inline, when the whole URI fits Runway's limit of 5,242,880
   characters (about 3.9 MB of image);
2. ``upload``: an ephemeral upload (``runway://``, 24 h, up to 200 MB), official dialect only;
3. ``presigned_url``: an S3 presigned GET URL (up to 16 MB). Last resort: Runway checks image
   URLs with a HEAD request, which a presigned *GET* URL answers with 403 on real S3.

The transport never changes the cache key (the image's identity does not depend on it).

Example:
    ```python
    from prefect_runway.delivery import choose_transport

    choose_transport(2_000_000, "image/png", "auto", "runway")   # 'data_uri'
    choose_transport(9_000_000, "image/png", "auto", "runway")   # 'upload'
    choose_transport(9_000_000, "image/png", "auto", "proxy")    # 'presigned_url'
    ```
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Literal

from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.dialects import Dialect
from prefect_runway.api.limits import MAX_DATA_URI_CHARS, MAX_UPLOAD_BYTES, MAX_URL_IMAGE_BYTES
from prefect_runway.errors import ImageRejectedError
from prefect_runway.images import check_image
from prefect_runway.ledger.engine import ImageJob, log
from prefect_runway.s3.objects import (
    SNIFF_BYTES,
    S3Image,
    presigned_url,
    read_object,
    sniffed_type,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Transport = Literal["auto", "data_uri", "upload", "presigned_url"]


def data_uri_size(raw_bytes: int, content_type: str) -> int:
    """Length of the data URI that carries `raw_bytes` of an image."""
    return len(f"data:{content_type};base64,") + 4 * ((raw_bytes + 2) // 3)


def size_limit(transport: Transport, dialect: Dialect | str) -> int:
    """The largest image, in bytes, `transport` can carry with `dialect`."""
    uploads = Dialect.of(dialect).uploads
    return {
        "data_uri": MAX_DATA_URI_CHARS * 3 // 4,
        "upload": MAX_UPLOAD_BYTES,
        "presigned_url": MAX_URL_IMAGE_BYTES,
        "auto": MAX_UPLOAD_BYTES if uploads else MAX_URL_IMAGE_BYTES,
    }[transport]


def choose_transport(
    size: int, content_type: str, transport: Transport, dialect: Dialect | str
) -> str:
    """The transport `auto` resolves to for an image (the others are returned as given)."""
    if transport != "auto":
        return transport
    if data_uri_size(size, content_type) <= MAX_DATA_URI_CHARS:
        return "data_uri"
    return "upload" if Dialect.of(dialect).uploads else "presigned_url"


def to_data_uri(data: bytes, content_type: str, source: str) -> str:
    """`data` as a data URI.

    Raises:
        ImageRejectedError: the URI would pass Runway's limit (naming it and what to use).
    """
    uri = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
    if len(uri) > MAX_DATA_URI_CHARS:
        raise ImageRejectedError(
            f"{source} is {len(data)} bytes: its data URI would be {len(uri)} characters, over "
            f"Runway's {MAX_DATA_URI_CHARS}; use transport 'auto', 'upload' or 'presigned_url'",
            permanent=False,  # another transport may carry it: not remembered
        )
    return uri


def precheck(obj: S3Image, transport: Transport, dialect: Dialect | str) -> None:
    """Reject what the listing already shows to be unusable, before any download.

    Raises:
        ImageRejectedError: empty, or too large for every transport available.
    """
    if obj.size == 0:
        raise ImageRejectedError(f"{obj.uri} is empty (0 bytes)")
    limit = size_limit(transport, dialect)
    if obj.size > limit:
        raise ImageRejectedError(
            f"{obj.uri} is {obj.size} bytes; transport {transport!r} with the {dialect} dialect "
            f"accepts at most {limit} bytes",
            permanent=False,  # another transport or dialect may carry it: not remembered
        )


def s3_image_job(
    s3: S3Client,
    obj: S3Image,
    transport: Transport = "auto",
    presign_seconds: int = 3600,
    model: str | None = None,
) -> ImageJob:
    """An `ImageJob` that fetches, decodes and ships `obj` only when it is to be submitted.

    The whole object is read and decoded (`prefect_runway.images`: truncated, corrupt,
    CMYK, 16-bit, animated or out-of-bounds images are rejected) whatever the transport, a
    presigned URL included: an image is never paid for on the strength of its first bytes.

    Args:
        s3: A boto3 S3 client.
        obj: The listed object.
        transport: How it travels (`choose_transport`).
        presign_seconds: Lifetime of a presigned URL.
        model: The model it is for (per-model dimension limits); None: general limits.

    Example:
        ```python
        from prefect_runway.ledger.batch import submit_images
        from prefect_runway.s3.objects import iter_s3_pages

        pages = iter_s3_pages(s3, "stills", "in/")
        jobs = [s3_image_job(s3, obj, model="gen4_turbo") for page in pages for obj in page]
        rows = await submit_images(creds, settings, jobs)
        ```
    """

    async def resolve(client: AsyncRunwayClient) -> str:
        precheck(obj, transport, client.dialect)
        data = await asyncio.to_thread(read_object, s3, obj, None)
        sniffed_type(obj, data[:SNIFF_BYTES])  # the historic messages for non-images and GIFs
        info = await asyncio.to_thread(check_image, data, obj.uri, model)
        for warning in info.warnings:
            log(logging.WARNING, "%s", warning)
        content_type = info.content_type
        how = choose_transport(obj.size, content_type, transport, client.dialect)
        if how == "presigned_url":
            return presigned_url(s3, obj, content_type, presign_seconds)
        if how == "upload":
            return await client.upload_image(data, obj.key.rsplit("/", 1)[-1], content_type)
        return to_data_uri(data, content_type, obj.uri)

    return ImageJob(source=obj.uri, identity=obj.identity, image=resolve)
