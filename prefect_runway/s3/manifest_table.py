"""The manifest as a table: ``runway-manifest.parquet`` and ``runway-manifest.jsonl`` beside
``runway-manifest.json``, one row per generation, for DuckDB, pandas or Spark.

They are views of the JSON manifest, never a second truth: `merge_manifest` rewrites both from
the manifest it has just written, after every successful merge. A failure writing them is a
WARNING and changes nothing else (the run's task IDs are in the JSON manifest already); without
pyarrow the Parquet file is skipped with one warning and the JSONL is still written. Two writers
finishing at once cannot leave a stale view behind: after writing, a writer checks that the
JSON manifest is still the version it wrote the views from, and writes them again from the
newer one if not (each view's ``manifest-etag`` metadata names its version).

Rows: every generation of every source, oldest first, the current one last (``current``
true), flattened out of the JSON manifest's ``generations``; a source with no task yet
(``deferred``, ``rejected``, ``failed``) is one row with no ``task_id`` and no ``generation``.
Columns are `COLUMNS` (name, Arrow type, meaning), in that order; `SCHEMA` is the same as a
``pyarrow.Schema``. A change to them bumps `SCHEMA_VERSION`, stored in every row. The prompt is
never in the table, only its SHA-256 (``prompt_sha256``): the table is for sharing.

Example:
    ```python
    import io
    import boto3
    import pyarrow.parquet as pq
    from prefect_runway.s3.manifest import ManifestRow, merge_manifest

    s3 = boto3.client("s3")
    merge_manifest(s3, "stills", "in/runway-manifest.json",  # writes the views too
                   [ManifestRow(source="s3://stills/in/a.png", status="submitted", task_id="t1")])
    body = s3.get_object(Bucket="stills", Key="in/runway-manifest.parquet")["Body"]
    table = pq.read_table(io.BytesIO(body.read()))
    print(table.filter(table["current"]).select(["source", "task_id", "outputs"]).to_pylist())
    ```
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prefect_runway.runlog import log

if TYPE_CHECKING:
    import pyarrow as pa
    from mypy_boto3_s3 import S3Client

    from prefect_runway.s3.manifest import Generation, Manifest, ManifestRow

SCHEMA_VERSION = 1
"""The version of `COLUMNS`, in every row's ``schema_version``."""
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("schema_version", "int16", "The version of this schema (`SCHEMA_VERSION`)."),
    ("manifest", "string", "s3:// URI of the JSON manifest the row comes from."),
    ("source", "string", "The input: an S3 image's URI, a table's `<table>:<line> (id ...)`; "
                         "null for a task collected without one."),
    ("generation", "int32", "The source's generation, from 0 (oldest); null with no task."),
    ("current", "bool", "True for the source's current generation (its last)."),
    ("task_id", "string", "The Runway task; null when none was made (deferred, rejected...)."),
    ("endpoint", "string", "The task endpoint (`image_to_video`, `text_to_image`, ...)."),
    ("model", "string", "The model asked for."),
    ("ratio", "string", "The output ratio asked for, if the endpoint has one."),
    ("duration", "int32", "Seconds asked for, if the endpoint has a duration."),
    ("seed", "int64", "The seed sent, if any."),
    ("prompt_sha256", "string", "SHA-256 hex of the request's promptText; never the prompt."),
    ("status", "string", "The submission: submitted, cached, unknown, unrecorded, deferred, "
                         "rejected or failed."),
    ("final_status", "string", "SUCCEEDED, FAILED, CANCELLED or LOST once it ended; null "
                               "while generating or not yet collected."),
    ("possible_duplicate", "bool", "Another paid task may exist beside it (a lost answer)."),
    ("estimated_credits", "float64", "The estimate when it was created."),
    ("charged_credits", "float64", "What the task cost, as the API said once it ended."),
    ("outputs", "list<string>", "s3:// URIs of its copied outputs, in the task's order."),
    ("output_sha256", "list<string>", "SHA-256 hex of each output, as `outputs`."),
    ("output_bytes", "list<int64>", "Size of each output, as `outputs`."),
    ("failure_code", "string", "Runway's failure code, or LOST."),
    ("failure", "string", "Why the generation or the last copy of it failed."),
    ("error", "string", "Why the source's last submission made no task (current row only)."),
    ("created_at", "timestamp[us, UTC]", "When the ledger recorded the task's creation."),
    ("collected_at", "timestamp[us, UTC]", "When a collector last recorded its outcome."),
    ("replaced_at", "timestamp[us, UTC]", "When a later generation replaced it as current."),
)  # fmt: skip
"""The columns: name, Arrow type, meaning (the README's table is this one)."""
_ROUNDS = 5
Reader = Callable[[], "tuple[Manifest | None, str | None]"]
"""Reads the stored manifest and its ETag."""


def __getattr__(name: str) -> Any:
    if name == "SCHEMA":  # built on first use: pyarrow is optional, and slow to import
        return schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def schema() -> pa.Schema:
    """`COLUMNS` as a ``pyarrow.Schema`` (also importable as ``SCHEMA``).

    Raises:
        ImportError: pyarrow is not installed (``pip install 'prefect-runway[table]'``).
    """
    import pyarrow as pa

    types = {
        "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(), "float64": pa.float64(),
        "bool": pa.bool_(), "string": pa.string(), "timestamp[us, UTC]": pa.timestamp("us", "UTC"),
        # Parquet's own name for a list's items, so a table read back has this very schema
        "list<string>": pa.list_(pa.field("element", pa.string())),
        "list<int64>": pa.list_(pa.field("element", pa.int64())),
    }  # fmt: skip
    return pa.schema([pa.field(name, types[kind]) for name, kind, _ in COLUMNS],
                     metadata={"schema_version": str(SCHEMA_VERSION)})  # fmt: skip


def table_rows(manifest: Manifest, manifest_uri: str | None = None) -> list[dict[str, Any]]:
    """The manifest's rows as table rows: one per generation (`COLUMNS`, in order).

    Example:
        >>> from prefect_runway.s3.manifest import Generation, Manifest, ManifestRow
        >>> m = Manifest(rows=[ManifestRow(source="s3://b/a.png", status="cached", task_id="t2",
        ...                                generations=[Generation(task_id="t1")])])
        >>> [(r["generation"], r["task_id"], r["current"]) for r in table_rows(m)]
        [(0, 't1', False), (1, 't2', True)]
    """
    return [row for source in manifest.rows for row in _rows(source, manifest_uri)]


def jsonl_bytes(rows: list[dict[str, Any]]) -> bytes:
    """`table_rows` as JSON Lines (timestamps as ISO 8601 text)."""
    return b"".join(json.dumps(row, default=_iso).encode() + b"\n" for row in rows)


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """`table_rows` as a Parquet file with `SCHEMA`.

    Raises:
        ImportError: pyarrow is not installed.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema()), sink)
    return bytes(sink.getvalue().to_pybytes())


def view_keys(key: str) -> tuple[str, str]:
    """The Parquet and JSONL keys beside a manifest's key.

    Example:
        >>> view_keys("in/runway-manifest.json")
        ('in/runway-manifest.parquet', 'in/runway-manifest.jsonl')
    """
    stem = key[: -len(".json")] if key.endswith(".json") else key
    return f"{stem}.parquet", f"{stem}.jsonl"


def write_views(
    s3: S3Client, bucket: str, key: str, manifest: Manifest, etag: str, read: Reader
) -> None:
    """Write the Parquet and JSONL views of `manifest` (the JSON at ``s3://bucket/key`` as of
    `etag`) beside it. Never raises: a failure is a WARNING (the JSON manifest holds it all).

    Args:
        s3: A boto3 S3 client.
        bucket: The manifest's bucket.
        key: The JSON manifest's key.
        manifest: The manifest as written.
        etag: Its ETag as written; when the stored one differs after the views are written,
            they are written again from the stored one (another writer merged meanwhile).
        read: Reads the stored manifest and its ETag
            (`prefect_runway.s3.manifest.read_manifest_version`).
    """
    try:
        _write_views(s3, bucket, key, manifest, etag, read)
    except Exception as exc:  # a bug in a view never fails a run whose IDs are recorded
        log(_logger, logging.WARNING, "The table views of s3://%s/%s were not written (%s: %s)",
            bucket, key, type(exc).__name__, exc)  # fmt: skip


def _write_views(
    s3: S3Client, bucket: str, key: str, manifest: Manifest, etag: str, read: Reader
) -> None:
    uri, parquet_warned = f"s3://{bucket}/{key}", False
    for _ in range(_ROUNDS):
        rows = table_rows(manifest, uri)
        for view, body in _views(key, rows):
            if body is None:
                if not parquet_warned:
                    log(_logger, logging.WARNING, "pyarrow is not installed: s3://%s/%s was not "
                        "written (pip install 'prefect-runway[table]'); the JSONL view was.",
                        bucket, view)  # fmt: skip
                parquet_warned = True
                continue
            try:
                s3.put_object(Bucket=bucket, Key=view, Body=body,
                              Metadata={"manifest-etag": etag.strip('"'),
                                        "schema-version": str(SCHEMA_VERSION)})  # fmt: skip
            except Exception as exc:
                log(_logger, logging.WARNING, "The table view s3://%s/%s was not written (%s: "
                    "%s); %s holds every row, and the next merge writes the view again.",
                    bucket, view, type(exc).__name__, exc, uri)  # fmt: skip
                return
        try:
            if s3.head_object(Bucket=bucket, Key=key)["ETag"] == etag:
                return
            stored, stored_etag = read()
        except Exception as exc:
            log(_logger, logging.WARNING, "Could not check that the table views of %s are of its "
                "latest version (%s: %s); the next merge writes them again.", uri,
                type(exc).__name__, exc)  # fmt: skip
            return
        if stored is None or stored_etag is None:
            return
        manifest, etag = stored, stored_etag  # another writer merged since: its version wins
    log(_logger, logging.WARNING, "%s kept changing while its table views were written; the "
        "next merge writes them again.", uri)  # fmt: skip


_logger = logging.getLogger(__name__)


def _views(key: str, rows: list[dict[str, Any]]) -> Iterator[tuple[str, bytes | None]]:
    parquet, jsonl = view_keys(key)
    try:
        yield parquet, parquet_bytes(rows)
    except ImportError:
        yield parquet, None
    yield jsonl, jsonl_bytes(rows)


def _rows(row: ManifestRow, manifest_uri: str | None) -> Iterator[dict[str, Any]]:
    endpoint = (row.model_extra or {}).get("endpoint") or "image_to_video"
    current = row.current_generation()
    earlier = [g for g in row.generations if current is None or g.task_id != current.task_id]
    for index, generation in enumerate(earlier):
        yield _row(row, generation, index, False, endpoint, manifest_uri, None)
    if current is None:  # no task now (deferred, rejected, unknown...): the source's own row
        yield _row(row, None, None, True, endpoint, manifest_uri, row.error)
    else:
        yield _row(row, current, len(earlier), True, endpoint, manifest_uri, row.error)


def _row(
    row: ManifestRow, generation: Generation | None, index: int | None, current: bool,
    endpoint: str, manifest_uri: str | None, error: str | None,
) -> dict[str, Any]:  # fmt: skip
    described: Any = generation if generation is not None else row
    stored = described.outputs or (
        [{"uri": described.output, "bytes": described.output_bytes,
          "sha256": described.output_sha256}] if described.output else []
    )  # fmt: skip
    outputs = [dict(o) if isinstance(o, dict) else o.model_dump() for o in stored]
    duration = described.duration
    return {
        "schema_version": SCHEMA_VERSION,
        "manifest": manifest_uri,
        "source": row.source,
        "generation": index,
        "current": current,
        "task_id": generation.task_id if generation is not None else None,
        "endpoint": (generation.model_extra or {}).get("endpoint", endpoint)
        if generation is not None else endpoint,
        "model": described.model,
        "ratio": described.ratio,
        "duration": int(duration) if str(duration or "").isdigit() else None,
        "seed": described.seed,
        "prompt_sha256": described.prompt_sha256,
        "status": described.status,
        "final_status": described.final_status,
        "possible_duplicate": described.possible_duplicate,
        "estimated_credits": described.estimated_credits,
        "charged_credits": described.credits,
        "outputs": [o["uri"] for o in outputs],
        "output_sha256": [o["sha256"] for o in outputs],
        "output_bytes": [o["bytes"] for o in outputs],
        "failure_code": described.failure_code,
        "failure": described.failure,
        "error": error,
        "created_at": described.created_at,
        "collected_at": described.collected_at,
        "replaced_at": getattr(described, "replaced_at", None),
    }  # fmt: skip


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
