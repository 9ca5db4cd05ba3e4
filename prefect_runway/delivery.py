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
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.dialects import Dialect
from prefect_runway.api.limits import MAX_DATA_URI_CHARS, MAX_UPLOAD_BYTES, MAX_URL_IMAGE_BYTES
from prefect_runway.api.models import GenerationSettings, check_model
from prefect_runway.errors import ImageRejectedError, ImageSourceError, validation_messages
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


def sidecar_settings(
    s3: S3Client,
    obj: S3Image,
    sidecars: Collection[str],
    settings: GenerationSettings,
    dialect: Dialect | str,
) -> GenerationSettings:
    """`settings` with the fields of `obj`'s listed sidecars over them: ``cat.txt`` is the
    prompt (``promptText``) of ``cat.png``, ``cat.json`` an object of image_to_video fields by
    their API names, camelCase or snake_case (`prefect_runway.table.sidecar_fields`).

    Only the listed `sidecars` are read (an unlisted one is absent, without a request). The
    result is the image's own settings, so its cache key covers what its sidecars say.

    Raises:
        ImageRejectedError: a sidecar is not valid (not JSON, not UTF-8, a field that is no
            image_to_video field, a value the model refuses); the message names the sidecar
            and the field. Not remembered: fixing or removing the sidecar is enough.
        ImageSourceError: a sidecar could not be read (access denied, throttling): not the
            same as no sidecar, so the image is not submitted without it.
    """
    from prefect_runway.table import TableError, sidecar_fields  # the table imports a lot

    read: list[tuple[str, dict[str, Any]]] = []
    for key in sorted(sidecars):  # one at a time: each field's sidecar is known
        try:
            fields = sidecar_fields(cast("S3Client", _Listed(s3, [key])), obj.bucket, obj.key)
        except TableError as exc:
            raise ImageRejectedError(
                f"{exc}; {obj.uri} was not submitted", permanent=False
            ) from None
        except BotoCoreError as exc:  # no answer at all: not "no sidecar" either
            raise ImageSourceError(
                f"s3://{obj.bucket}/{key}: S3 could not be reached ({type(exc).__name__})"
            ) from None
        read.append((f"s3://{obj.bucket}/{key}", fields))
    return merge_sidecars(obj, read, settings, dialect)


def merge_sidecars(
    obj: S3Image,
    sidecars: Sequence[tuple[str, Mapping[str, Any]]],
    settings: GenerationSettings,
    dialect: Dialect | str,
) -> GenerationSettings:
    """`settings` with the fields of `sidecars` (``(uri, fields)`` each) over them; see
    `sidecar_settings`."""
    names = GenerationSettings.python_names()
    accepted = {**names, **{n: n for n in names.values()}}
    del accepted["promptImage"], accepted["prompt_image"]
    given: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for uri, fields in sidecars:
        for name, value in fields.items():
            field = accepted.get(name)
            if field is None:
                raise ImageRejectedError(
                    f"{uri}: field {name!r} is not an image_to_video field (the image is the "
                    "object itself; fields are promptText, seed, duration, ratio, ... in "
                    f"camelCase or snake_case); {obj.uri} was not submitted",
                    permanent=False,
                )
            if field in origin:
                raise ImageRejectedError(
                    f"{origin[field]} and {uri} both give {field}; {obj.uri} was not submitted",
                    permanent=False,
                )
            given[field], origin[field] = value, uri
    if not given:
        return settings
    try:
        if "model" in given:
            check_model(str(given["model"]), dialect)
        return GenerationSettings(**{**settings.model_dump(exclude_none=True), **given})
    except (ValidationError, ValueError) as exc:
        lines = validation_messages(exc) if isinstance(exc, ValidationError) else [str(exc)]
        named = [f for f in given if any(f in line for line in lines)]
        uri = origin[named[0]] if named else ", ".join(dict.fromkeys(origin.values()))
        raise ImageRejectedError(
            f"{uri}: {'; '.join(lines)}; {obj.uri} was not submitted", permanent=False
        ) from None


class _Listed:
    """An S3 client whose GetObject answers NoSuchKey, without a request, for keys the
    listing did not show: sidecars are read only where they are listed."""

    def __init__(self, s3: S3Client, keys: Collection[str]) -> None:
        self._s3, self._keys = s3, set(keys)

    def get_object(self, **params: Any) -> Any:
        if params.get("Key") not in self._keys:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "not listed"}}, "GetObject"
            )
        return self._s3.get_object(**params)
