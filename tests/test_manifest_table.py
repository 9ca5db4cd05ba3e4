"""The manifest as a table (`prefect_runway.s3.manifest_table`): Parquet and JSONL beside
runway-manifest.json, read back from moto's S3 with pyarrow, after real table batches against
the emulator and real collector runs."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import sys
from datetime import datetime
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from prefect_runway import collect_videos, s3_image_to_video
from prefect_runway.flows.generate_from_table import generate_from_table
from prefect_runway.s3 import manifest_table
from prefect_runway.s3.manifest import (
    ManifestRow,
    merge_manifest,
    read_manifest,
    read_manifest_version,
)
from prefect_runway.s3.manifest_table import COLUMNS, SCHEMA_VERSION, write_views
from tests._support import BUCKET
from tests._support.s3 import fill

ROOT = Path(__file__).resolve().parent.parent
KEY = "in/runway-manifest.json"
PARQUET, JSONL = "in/runway-manifest.parquet", "in/runway-manifest.jsonl"
PINNED = [  # a change here is a change of the documented schema: bump SCHEMA_VERSION
    ("schema_version", "int16"), ("manifest", "string"), ("source", "string"),
    ("generation", "int32"), ("current", "bool"), ("task_id", "string"),
    ("endpoint", "string"), ("model", "string"), ("ratio", "string"), ("duration", "int32"),
    ("seed", "int64"), ("prompt_sha256", "string"), ("status", "string"),
    ("final_status", "string"), ("possible_duplicate", "bool"),
    ("estimated_credits", "double"), ("charged_credits", "double"),
    ("outputs", "list<element: string>"), ("output_sha256", "list<element: string>"),
    ("output_bytes", "list<element: int64>"), ("failure_code", "string"), ("failure", "string"),
    ("error", "string"), ("created_at", "timestamp[us, tz=UTC]"),
    ("collected_at", "timestamp[us, tz=UTC]"), ("replaced_at", "timestamp[us, tz=UTC]"),
]  # fmt: skip


def body(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def parquet_rows(s3, key: str = PARQUET) -> list[dict]:
    table = pq.read_table(io.BytesIO(body(s3, key)))
    assert [(f.name, str(f.type)) for f in table.schema] == PINNED
    return table.to_pylist()


def jsonl_rows(s3, key: str = JSONL) -> list[dict]:
    return [json.loads(line) for line in body(s3, key).decode().splitlines()]


def as_json(rows: list[dict]) -> list[dict]:
    """Parquet rows as JSONL holds them: timestamps as ISO 8601 text."""
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
            for row in rows]  # fmt: skip


def submitted(name: str, task_id: str | None, status: str = "submitted") -> ManifestRow:
    return ManifestRow(source=f"s3://{BUCKET}/in/{name}.png", status=status, task_id=task_id,
                       model="gen4_turbo", estimated_credits=25)  # fmt: skip


def test_the_schema_is_pinned_and_the_readme_table_is_it():
    assert [(f.name, str(f.type)) for f in manifest_table.SCHEMA] == PINNED
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The manifest as a table", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (.+?) \|$", section, re.MULTILINE)
    assert [(name, kind) for name, kind, _ in documented] == [(n, k) for n, k, _ in COLUMNS]


@pytest.mark.usefixtures("prefect_harness")
def test_a_table_batch_with_history_and_several_outputs_reads_back_as_parquet(runway, s3):
    out = f"s3://{BUCKET}/made/"
    kite = {"id": "kite", "model": "gpt_image_2", "promptText": "a red kite",
            "ratio": "1920:1088", "outputCount": 2}  # two images per task
    sea = {"id": "sea", "model": "gen4_image", "promptText": "a calm sea", "ratio": "1920:1080",
           "seed": 5}  # fmt: skip
    # Then the kite again at another quality: a new generation of the same row.
    first = asyncio.run(generate_from_table([{**kite, "quality": "low"}, sea],
                                            endpoint="text_to_image", output_prefix=out))
    second = asyncio.run(generate_from_table([{**kite, "quality": "high"}, sea],
                                             endpoint="text_to_image", output_prefix=out))
    assert (first.submitted, second.submitted, second.cached) == (2, 1, 1)
    collected = asyncio.run(collect_videos(output_prefix=out, manifest_uri=first.manifest_uri,
                                           generations="all", wait_seconds=30))  # fmt: skip
    assert collected.collected == 3, collected

    rows = parquet_rows(s3, "made/runway-manifest.parquet")
    assert as_json(rows) == jsonl_rows(s3, "made/runway-manifest.jsonl")
    by_task = {row["task_id"]: row for row in rows}
    assert set(by_task) == set(first.task_ids) | set(second.task_ids) and len(rows) == 3
    kites = sorted((r for r in rows if "kite" in r["source"]), key=lambda r: r["generation"])
    assert [(r["generation"], r["current"]) for r in kites] == [(0, False), (1, True)]
    assert {r["model"] for r in kites} == {"gpt_image_2"} and kites[0]["seed"] is None
    assert kites[0]["replaced_at"] is not None and kites[1]["replaced_at"] is None
    for row in rows:
        assert row["schema_version"] == SCHEMA_VERSION and row["endpoint"] == "text_to_image"
        assert row["manifest"] == first.manifest_uri and row["final_status"] == "SUCCEEDED"
        assert row["status"] in ("submitted", "cached")
        assert row["estimated_credits"] is not None and row["charged_credits"] is not None
        assert row["created_at"] is not None and row["collected_at"] is not None
        prompt = "a red kite" if "kite" in row["source"] else "a calm sea"
        assert row["prompt_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
        assert len(row["outputs"]) == (2 if "kite" in row["source"] else 1)
        for uri, digest, size in zip(row["outputs"], row["output_sha256"], row["output_bytes"],
                                     strict=True):  # fmt: skip
            data = body(s3, uri.removeprefix(f"s3://{BUCKET}/"))
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (digest, size)
    assert [o.rsplit("-", 1)[1] for o in kites[1]["outputs"]] == ["1.png", "2.png"]
    for key in ("made/runway-manifest.parquet", "made/runway-manifest.jsonl"):
        assert b"a red kite" not in body(s3, key)  # the prompt's hash only

    # The JSON manifest lists every output too, of the current and the earlier generation.
    manifest = read_manifest(s3, BUCKET, "made/runway-manifest.json")
    assert manifest is not None
    [row] = [r for r in manifest.rows if "kite" in (r.source or "")]
    assert [o.uri for o in row.outputs or []] == kites[1]["outputs"]
    assert [o.uri for o in row.generations[0].outputs or []] == kites[0]["outputs"]


@pytest.mark.usefixtures("prefect_harness")
def test_the_views_beside_the_images_are_never_inputs(runway, s3):
    fill(s3, 2, bad=False)
    first = asyncio.run(s3_image_to_video(BUCKET, "in/"))
    again = asyncio.run(s3_image_to_video(BUCKET, "in/"))
    assert "Contents" in s3.list_objects_v2(Bucket=BUCKET, Prefix=PARQUET)
    assert (first.submitted, again.cached, len(again.rows), again.rejected) == (2, 2, 2, 0)


def test_earlier_generations_and_sources_without_a_task_are_rows(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1"), submitted("b", None, "deferred")])
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t2")])  # a resubmission
    rows = parquet_rows(s3)
    assert [(r["source"].rsplit("/", 1)[1], r["generation"], r["task_id"], r["current"],
             r["status"]) for r in rows] == [("a.png", 0, "t1", False, "submitted"),
                                             ("a.png", 1, "t2", True, "submitted"),
                                             ("b.png", None, None, True, "deferred")]  # fmt: skip
    assert as_json(rows) == jsonl_rows(s3)
    head = s3.head_object(Bucket=BUCKET, Key=PARQUET)
    assert head["Metadata"]["manifest-etag"] == s3.head_object(
        Bucket=BUCKET, Key=KEY)["ETag"].strip('"')  # fmt: skip


def test_views_from_a_stale_version_are_written_again_from_the_latest(s3):
    """Writer 1 merged version 1 and stalled; writer 2 merged version 2 and wrote its views;
    writer 1's views, written last, must not leave version 1's table behind."""
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    stale, etag = read_manifest_version(s3, BUCKET, KEY)
    merge_manifest(s3, BUCKET, KEY, [submitted("b", "t2")])
    assert stale is not None and etag is not None
    write_views(s3, BUCKET, KEY, stale, etag, lambda: read_manifest_version(s3, BUCKET, KEY))
    assert {r["task_id"] for r in jsonl_rows(s3)} == {"t1", "t2"}
    assert {r["task_id"] for r in parquet_rows(s3)} == {"t1", "t2"}


def test_a_failed_view_write_is_a_warning_and_the_merge_stands(s3, caplog):
    client = boto3.client("s3")

    def refuse(params: dict, **_: object) -> None:
        if params["Key"] != KEY:
            raise RuntimeError("S3 said no")

    client.meta.events.register("before-parameter-build.s3.PutObject", refuse)
    with caplog.at_level(logging.WARNING):
        written = merge_manifest(client, BUCKET, KEY, [submitted("a", "t1")])
    assert [r.task_id for r in written.rows] == ["t1"]
    assert read_manifest(s3, BUCKET, KEY) is not None
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == (
        f"The table view s3://{BUCKET}/{PARQUET} was not written (RuntimeError: S3 said no); "
        f"s3://{BUCKET}/{KEY} holds every row, and the next merge writes the view again."
    )


def test_without_pyarrow_one_warning_and_the_jsonl_is_written(s3, caplog, monkeypatch):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")], views=False)
    stale, etag = read_manifest_version(s3, BUCKET, KEY)
    merge_manifest(s3, BUCKET, KEY, [submitted("b", "t2")], views=False)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert stale is not None and etag is not None
    with caplog.at_level(logging.WARNING):
        # A stale version: two rounds of writing, one warning.
        write_views(s3, BUCKET, KEY, stale, etag, lambda: read_manifest_version(s3, BUCKET, KEY))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"pyarrow is not installed: s3://{BUCKET}/{PARQUET} was not written (pip install "
        "'prefect-runway[table]'); the JSONL view was."
    ]
    assert [r["task_id"] for r in jsonl_rows(s3)] == ["t1", "t2"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=PARQUET)
