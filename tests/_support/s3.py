"""S3 for the tests: moto's server, clients of it, and buckets filled with images."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from prefect_runway.testing.emulator.samples import GIF, png
from tests._support import BUCKET
from tests._support.processes import free_port

BAD = {
    "in/notes.txt": (b"just some text", "text/plain",
                     "s3://stills/in/notes.txt is not a JPEG, PNG or WebP image (its bytes match "
                     "none of them)"),
    "in/empty.png": (b"", "image/png", "s3://stills/in/empty.png is empty (0 bytes)"),
    "in/anim.gif": (GIF, "image/gif",
                    "s3://stills/in/anim.gif is a GIF; Runway accepts JPEG, PNG or WebP"),
    "in/fake.jpg": (b"<html>not a jpeg</html>", "image/jpeg",
                    "s3://stills/in/fake.jpg is not a JPEG, PNG or WebP image (its bytes match "
                    "none of them)"),
}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's S3 server in this process, on a free loopback port; yields its endpoint URL
    (reachable from subprocesses too)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of `endpoint` with moto's test credentials."""
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def empty_bucket(client: Any, bucket: str) -> None:
    """Delete every object of `bucket`, then the bucket."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def fill(s3, count: int = 30, bad: bool = True) -> list[str]:
    keys = []
    for i in range(count):
        key = f"in/img-{i:03d}.png"
        # Every third image is stored without a content type: judged by its bytes, it works.
        extra = {} if i % 3 else {"ContentType": "binary/octet-stream"}
        s3.put_object(Bucket=BUCKET, Key=key, Body=png(32, 18, (i * 8, 60, 120)), **extra)
        keys.append(f"s3://{BUCKET}/{key}")
    for key, (body, content_type, _) in BAD.items() if bad else ():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=content_type)
    return keys


def put_csv(s3, key: str, rows: list[dict]) -> str:
    """Write `rows` as a CSV object in the test bucket; its ``s3://`` URI."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=sorted({k for row in rows for k in row}))
    writer.writeheader()
    writer.writerows(rows)
    s3.put_object(Bucket=BUCKET, Key=key, Body=out.getvalue().encode())
    return f"s3://{BUCKET}/{key}"
