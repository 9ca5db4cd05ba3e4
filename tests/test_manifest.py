"""The typed, merge-safe manifest against moto's S3 server (conditional writes over HTTP)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from prefect_runway.ledger.batch import SubmissionRow
from prefect_runway.s3.manifest import (
    Manifest,
    ManifestError,
    ManifestRow,
    merge_manifest,
    read_manifest,
)
from tests.conftest import BUCKET

KEY = "in/runway-manifest.json"


def src(name: str) -> str:
    return f"s3://{BUCKET}/in/{name}.png"


def stored(s3) -> dict:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())


def submitted(name: str, task_id: str | None = "t-" + "0" * 8, status: str = "submitted"):
    fields = dict(source=src(name), status=status, task_id=task_id, model="gen4_turbo",
                  ratio="1280:720", duration=5, estimated_credits=25)  # fmt: skip
    # Statuses the submission engine is gaining ("deferred", "unknown") are accepted as well.
    return SubmissionRow.model_construct(**fields)


def collected(name: str, task_id: str, output: str) -> ManifestRow:
    return ManifestRow(source=src(name), collected_task_id=task_id, final_status="SUCCEEDED",
                       output=output, output_bytes=10, output_sha256="ab")  # fmt: skip


def test_first_write_creates_a_typed_manifest(s3):
    written = merge_manifest(None, BUCKET, KEY, [submitted("a", "t1")],
                             settings={"model": "gen4_turbo"}, flow_run_id="run-1")  # fmt: skip
    raw = stored(s3)
    assert raw["version"] == 3 and raw["source"] == f"s3://{BUCKET}/in/"
    assert raw["settings"] == {"model": "gen4_turbo"} and raw["flow_run_id"] == "run-1"
    [row] = raw["rows"]
    assert row["source"] == src("a") and row["task_id"] == "t1" and row["output"] is None
    again = read_manifest(s3, BUCKET, KEY)
    assert isinstance(again, Manifest) and again.rows == written.rows
    assert read_manifest(s3, BUCKET, "in/none.json") is None


def test_collector_fields_survive_a_submission_rerun_and_vice_versa(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1"), submitted("b", "t2")])
    merge_manifest(s3, BUCKET, KEY, [collected("a", "t1", "s3://v/a.mp4")])
    # A rerun: cache hits for a and b, a new deferred image c; no collector fields in them.
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1", "cached"), submitted("b", "t2", "cached"),
                                     submitted("c", None, "deferred")])  # fmt: skip
    rows = {r["source"]: r for r in stored(s3)["rows"]}
    assert rows[src("a")]["status"] == "cached" and rows[src("a")]["output"] == "s3://v/a.mp4"
    assert rows[src("c")]["status"] == "deferred" and rows[src("c")]["task_id"] is None
    # The collector's later write keeps the submission fields it does not set.
    merge_manifest(s3, BUCKET, KEY, [collected("b", "t2", "s3://v/b.mp4")])
    manifest = read_manifest(s3, BUCKET, KEY)
    assert manifest is not None
    b = manifest.row(src("b"))
    assert b is not None and b.collected and b.status == "cached" and b.estimated_credits == 25


def test_resubmission_reopens_collection_and_stale_collector_writes_are_ignored(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    merge_manifest(s3, BUCKET, KEY, [collected("a", "t1", "s3://v/a-t1.mp4")])
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t9")])  # resubmit=True paid again
    manifest = read_manifest(s3, BUCKET, KEY)
    assert manifest is not None
    row = manifest.row(src("a"))
    assert row is not None and row.task_id == "t9" and not row.collected and row.output is None
    assert row.superseded_outputs == ["s3://v/a-t1.mp4"]
    # A collector that read the row before the resubmission writes t1's result late: ignored.
    merge_manifest(s3, BUCKET, KEY, [collected("a", "t1", "s3://v/a-t1.mp4")])
    manifest = read_manifest(s3, BUCKET, KEY)
    assert manifest is not None and manifest.row(src("a")).output is None  # type: ignore[union-attr]


def test_a_failed_resubmission_keeps_the_known_task(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    failed = submitted("a", None, "failed").model_copy(update={"error": "HTTP 503"})
    merge_manifest(s3, BUCKET, KEY, [failed])
    [row] = stored(s3)["rows"]
    # A run that made no task never overwrites the row's generation: kept beside it.
    assert (row["status"], row["task_id"], row["error"]) == ("submitted", "t1", None)
    assert (row["attempt_status"], row["attempt_error"]) == ("failed", "HTTP 503")


def test_rows_without_source_are_keyed_by_task_and_unknown_fields_are_kept(s3):
    merge_manifest(s3, BUCKET, KEY, [{"task_id": "t5", "note": "by hand"}])
    merge_manifest(s3, BUCKET, KEY, [{"task_id": "t5", "final_status": "FAILED"}])
    [row] = stored(s3)["rows"]
    assert row["note"] == "by hand" and row["final_status"] == "FAILED" and row["source"] is None
    with pytest.raises(ValueError, match="source or a task_id"):
        merge_manifest(s3, BUCKET, KEY, [{"status": "submitted"}])


def test_version_1_manifests_are_read_and_their_outputs_count_as_collected(s3):
    old = {"version": 1, "flow_run_id": "x", "settings": {}, "rows": [
        {"source": src("a"), "status": "submitted", "task_id": "t1", "output": "s3://v/a.mp4",
         "final_status": "SUCCEEDED"}]}  # fmt: skip
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(old).encode())
    merge_manifest(s3, BUCKET, KEY, [submitted("b", "t2")])
    manifest = read_manifest(s3, BUCKET, KEY)
    assert manifest is not None and manifest.version == 3
    assert [r.collected for r in manifest.rows] == [True, False]


def test_an_unreadable_manifest_is_never_overwritten(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"{not json")
    with pytest.raises(ManifestError, match="not a readable manifest") as info:
        merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    assert f"s3://{BUCKET}/{KEY}" in str(info.value)
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == b"{not json"


def _put_counting_client(before_first_put=None, after_put=None):
    """A real boto3 client with hooks around its PutObject calls of the manifest (not of its
    table views); returns it and its put count."""
    client = boto3.client("s3")
    puts: list[int] = []

    def before(params: dict, **_: object) -> None:
        if params.get("Key") != KEY:
            return
        puts.append(1)
        if len(puts) == 1 and before_first_put is not None:
            before_first_put()

    client.meta.events.register("before-parameter-build.s3.PutObject", before)
    if after_put is not None:
        client.meta.events.register("after-call.s3.PutObject", lambda **_: after_put())
    return client, puts


def test_two_interleaved_writers_lose_no_row(s3):
    """Both writers read version 1; A writes, then B writes: B's IfMatch fails, B merges again.

    The order is forced (moto checks a condition and stores the object in two steps, so
    truly simultaneous writes would test moto, not this code)."""
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    both_read, a_written = threading.Barrier(2), threading.Event()
    a_client, a_puts = _put_counting_client(lambda: both_read.wait(30), a_written.set)
    b_client, b_puts = _put_counting_client(lambda: (both_read.wait(30), a_written.wait(30)))
    writers = [(a_client, [collected("a", "t1", "s3://v/a.mp4")]),
               (b_client, [submitted("b", "t2"), submitted("c", None, "deferred")])]  # fmt: skip
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda w: merge_manifest(w[0], BUCKET, KEY, w[1]), writers))
    rows = {r["source"]: r for r in stored(s3)["rows"]}
    assert set(rows) == {src("a"), src("b"), src("c")}
    assert rows[src("a")]["output"] == "s3://v/a.mp4" and rows[src("b")]["task_id"] == "t2"
    assert (len(a_puts), len(b_puts)) == (1, 2)  # B's first write was refused, then merged


def test_a_writer_that_keeps_losing_gives_up_without_overwriting(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1")])
    other = boto3.client("s3")
    # Another writer changes the manifest between every read and write of this one.
    client, puts = _put_counting_client()

    def interfere(**_: object) -> None:
        merge_manifest(other, BUCKET, KEY, [submitted(f"x{len(puts)}", "tx")])

    client.meta.events.register("before-call.s3.PutObject", interfere)
    with pytest.raises(ManifestError, match="kept changing under 3 merge attempts"):
        merge_manifest(client, BUCKET, KEY, [submitted("b", "t2")], max_attempts=3)
    sources = {r["source"] for r in stored(s3)["rows"]}
    assert src("b") not in sources and {src("a"), src("x1"), src("x2"), src("x3")} <= sources


def test_generations_are_kept_restored_and_collected_separately(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1").model_copy(
        update={"seed": 1, "transport": "data_uri"})])  # fmt: skip
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t2").model_copy(update={"seed": 2})])
    # A collector that read the row before seed 2 landed: t1's video goes to t1's generation.
    merge_manifest(s3, BUCKET, KEY, [collected("a", "t1", "s3://v/a-t1.mp4")])
    row = read_manifest(s3, BUCKET, KEY).row(src("a"))  # type: ignore[union-attr]
    assert row is not None and row.task_id == "t2" and row.seed == 2 and row.output is None
    [one] = row.generations
    assert (one.task_id, one.seed, one.transport, one.output) == ("t1", 1, "data_uri",
                                                                  "s3://v/a-t1.mp4")  # fmt: skip
    # A rerun of the same generation leaves no field unset; seed 1 again restores t1, kept.
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t2", "cached").model_copy(
        update={"transport": None, "seed": 2})])  # fmt: skip
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1", "cached").model_copy(
        update={"transport": None, "seed": 1})])  # fmt: skip
    row = read_manifest(s3, BUCKET, KEY).row(src("a"))  # type: ignore[union-attr]
    assert row is not None and row.task_id == "t1" and row.collected
    assert (row.output, row.transport) == ("s3://v/a-t1.mp4", "data_uri")
    assert [g.task_id for g in row.generations] == ["t2"] and row.task_ids == ["t2", "t1"]


def test_a_rerun_keeps_the_transport_of_its_generation(s3):
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1").model_copy(update={"transport": "url"})])
    merge_manifest(s3, BUCKET, KEY, [submitted("a", "t1", "cached")])  # transport None
    [row] = stored(s3)["rows"]
    assert (row["status"], row["transport"]) == ("cached", "url")


def test_the_ledgers_history_becomes_generations_in_order_never_twice(s3):
    from prefect_runway.ledger.records import TaskAttempt

    history = [TaskAttempt(attempt=i, task_id=f"t{i}", estimated_credits=25) for i in (1, 2, 3)]
    first = SubmissionRow(source=src("a"), status="submitted", task_id="t1", cache_key="k",
                          history=history[:1])  # fmt: skip
    merge_manifest(s3, BUCKET, KEY, [first])
    # t2's manifest write was lost; t3's run knows it from the ledger's record.
    third = SubmissionRow(source=src("a"), status="submitted", task_id="t3", cache_key="k",
                          history=history)  # fmt: skip
    merge_manifest(s3, BUCKET, KEY, [third])
    failed = SubmissionRow(source=src("a"), status="failed", error="refused", cache_key="k",
                           history=history)  # a resubmission refused: no task, same history
    manifest = merge_manifest(s3, BUCKET, KEY, [failed])
    [row] = manifest.rows
    assert row.task_id == "t3" and row.attempt_status == "failed"
    assert [g.task_id for g in row.generations] == ["t1", "t2"]  # oldest first, t3 not twice
    assert all(g.cache_key == "k" and g.estimated_credits == 25 for g in row.generations)
    assert row.generations[0].replaced_at is not None
    assert "history" not in stored(s3)["rows"][0]  # the generations are its view of it
