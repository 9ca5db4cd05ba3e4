"""Delivery under overlap and faults: every paid generation reaches S3 once, and is told once.

Against the emulator over loopback HTTP, moto's S3 server and Prefect's test harness. Runs that
overlap are made to overlap *by construction*: a barrier (or a held event) inside the
collector's manifest read, so both runs see the same unfinished rows before either copies
anything. Every case checks: 0 generations lost, 0 videos copied twice (the emulator's
downloads, the uploads to S3 and the objects in S3), 0 events for unfinished tasks (events
read back from the Prefect API).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import threading
import time

import httpx
import pytest

from prefect_runway.flows.collect_videos import collect_videos
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.ledger.records import Ledger
from prefect_runway.s3.manifest import read_manifest
from prefect_runway.testing.emulator import Emulator, Faults
from prefect_runway.testing.emulator.mp4 import VIDEO_MP4
from tests._support.processes import wait_until
from tests._support.s3 import fill
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")
# The modules, not the flow and task functions of the same names that the packages export.
collector_module = importlib.import_module("prefect_runway.flows.collect_videos")
tasks_module = importlib.import_module("prefect_runway.tasks")

MANIFEST = f"s3://{BUCKET}/in/runway-manifest.json"
VIDEOS = f"s3://{BUCKET}/videos/"
MINUTES_10 = 600


@pytest.fixture
def uploads(monkeypatch):
    """Every video upload to S3 (the collector's store step), by destination."""
    seen: list[str] = []
    real = tasks_module._store

    def spy(spool, target, s3_client, size, digest):
        seen.append(target)
        return real(spool, target, s3_client, size, digest)

    monkeypatch.setattr(tasks_module, "_store", spy)
    return seen


@pytest.fixture
def slow_runway(make_emulator):
    """Ten-minute generations, four at a time: only the emulator's clock makes them end."""
    return make_emulator(env=True, concurrency=4, generation_seconds=MINUTES_10,
                         output_url_ttl=3600)  # fmt: skip


def submit(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "in/", concurrency=4, **kwargs))


def collect(**kwargs):
    kwargs.setdefault("manifest_uri", MANIFEST)
    return asyncio.run(collect_videos(output_prefix=VIDEOS, **kwargs))


def videos_in_s3(s3) -> dict[str, bytes]:
    """The published objects under videos/, by key: not claims, and not the temporary
    ``.partial-*`` object a copy in progress writes first (and deletes once published: it may
    be gone between the listing and its read)."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="videos/"):
        for item in page.get("Contents", []):
            if "/.runway-claims/" not in item["Key"] and ".partial-" not in item["Key"]:
                found[item["Key"]] = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


def partials_in_s3(s3) -> list[str]:
    """Temporary copies left under videos/ (none once every copy has ended)."""
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix="videos/")
    return sorted(item["Key"] for item in found.get("Contents", []) if ".partial-" in item["Key"])


def claims_in_s3(s3) -> list[str]:
    """The collector's claim objects left under videos/."""
    found = s3.list_objects_v2(Bucket=BUCKET, Prefix="videos/.runway-claims/")
    return sorted(item["Key"] for item in found.get("Contents", []))


def events_for(task_ids: set[str], expected: int, settle: float = 1.5) -> list[dict]:
    """The `runway.generation.*` events about `task_ids`, read back from the Prefect API once
    at least `expected` arrived and no new one for `settle` seconds (they are delivered
    asynchronously, so a duplicate would show up within that time too)."""
    from prefect.settings import PREFECT_API_URL

    resources = [f"runway.task.{t}" for t in task_ids]
    seen: list[dict] = []
    quiet_since = time.monotonic()
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=PREFECT_API_URL.value()) as http:
        while time.monotonic() < deadline:
            response = http.post("/events/filter", json={"filter": {
                "event": {"prefix": ["runway.generation."]},
                "resource": {"id": resources}}, "limit": 50})  # fmt: skip
            response.raise_for_status()
            events = response.json()["events"]
            if len(events) != len(seen):
                seen, quiet_since = events, time.monotonic()
            elif len(seen) >= expected and time.monotonic() - quiet_since > settle:
                break
            time.sleep(0.2)
    return seen


def by_task(events: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for event in events:
        out.setdefault(event["payload"]["task_id"], []).append(event["event"])
    return out


def held_after_reading(monkeypatch, gate) -> None:
    """Make every collector call `gate()` right after reading the manifest."""
    real = collector_module.read_manifest

    def read_then_wait(*args, **kwargs):
        found = real(*args, **kwargs)
        gate()
        return found

    monkeypatch.setattr(collector_module, "read_manifest", read_then_wait)


def test_two_collectors_started_at_once_copy_and_tell_each_video_once(s3, runway, uploads,
                                                                     monkeypatch):  # fmt: skip
    fill(s3, 6, bad=False)
    batch = submit()
    barrier = threading.Barrier(2, timeout=60)
    held_after_reading(monkeypatch, barrier.wait)  # both have read the same 6 rows
    results = {}
    threads = [threading.Thread(target=lambda n=n: results.update({n: collect(wait_seconds=30)}))
               for n in ("schedule", "manual")]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert set(results) == {"schedule", "manual"}
    assert sum(r.collected for r in results.values()) == 6  # each video by exactly one run
    assert runway.stats()["downloads"] == 6 and len(uploads) == 6 == len(set(uploads))
    stored = videos_in_s3(s3)
    assert len(stored) == 6 and all(body == VIDEO_MP4 for body in stored.values())
    monkeypatch.setattr(collector_module, "read_manifest", read_manifest)
    again = collect()  # whatever a run left "held" is recorded from the claims' markers
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None and all(r.collected for r in manifest.rows)
    assert again.succeeded == 6 and runway.stats()["downloads"] == 6
    told = by_task(events_for(set(batch.task_ids), len(batch.task_ids)))
    assert told == {t: ["runway.generation.succeeded"] for t in batch.task_ids}
    assert claims_in_s3(s3) == []  # every video is recorded in the manifest: no claim left


def test_a_collector_that_read_the_rows_before_another_finished_them_copies_nothing(
    s3, runway, uploads, monkeypatch
):  # fmt: skip
    """The late run reads the same unfinished rows, then waits until the other run has
    copied every video, written the manifest and deleted its claims: it finds no claim, and
    must still copy and tell nothing."""
    fill(s3, 4, bad=False)
    batch = submit()
    read, go = threading.Event(), threading.Event()
    main = threading.current_thread()

    def late_run_waits() -> None:
        if threading.current_thread() is not main:
            read.set()
            assert go.wait(120)

    held_after_reading(monkeypatch, late_run_waits)
    results = {}
    late = threading.Thread(target=lambda: results.update(late=collect(wait_seconds=30)))
    late.start()
    assert read.wait(120)  # the late run holds the same 4 unfinished rows
    early = collect(wait_seconds=30)
    assert early.collected == 4 and claims_in_s3(s3) == []  # recorded, claims deleted
    go.set()
    late.join(timeout=180)
    assert results["late"].collected == 0 and results["late"].succeeded == 4
    assert runway.stats()["downloads"] == 4 and len(uploads) == 4 == len(videos_in_s3(s3))
    assert claims_in_s3(s3) == []
    told = by_task(events_for(set(batch.task_ids), len(batch.task_ids)))
    assert told == {t: ["runway.generation.succeeded"] for t in batch.task_ids}


def test_a_collector_racing_a_resubmission_keeps_both_generations(s3, slow_runway, uploads,
                                                                  monkeypatch):  # fmt: skip
    fill(s3, 4, bad=False)
    first = submit()
    slow_runway.advance_clock(MINUTES_10)  # the first generation is done
    read, go = threading.Event(), threading.Event()

    def hold() -> None:
        read.set()
        assert go.wait(120)

    held_after_reading(monkeypatch, hold)
    results = {}
    collector = threading.Thread(target=lambda: results.update(run=collect(wait_seconds=5)))
    collector.start()
    assert read.wait(120)  # the collector has read the manifest: the old task IDs
    second = submit(resubmit=True)  # pays again: the new tasks run for ten minutes
    assert set(second.task_ids).isdisjoint(first.task_ids)
    go.set()
    collector.join(timeout=180)
    assert results["run"].collected == 4
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    for row in manifest.rows:  # the new task is current; the old one kept, with its video
        assert row.task_id in second.task_ids and not row.collected
        [old] = row.generations
        assert old.task_id in first.task_ids and old.output and old.final_status == "SUCCEEDED"
    stored = videos_in_s3(s3)  # no orphans: every object is a generation's recorded video
    assert partials_in_s3(s3) == []
    assert {f"s3://{BUCKET}/{k}" for k in stored} == {r.generations[0].output
                                                      for r in manifest.rows}  # fmt: skip
    told = by_task(events_for(set(first.task_ids + second.task_ids), 4, settle=3))
    assert told == {t: ["runway.generation.succeeded"] for t in first.task_ids}  # none running
    # The ledger kept both tasks of each image.
    ledger = asyncio.run(Ledger.default())
    for row in manifest.rows:
        record = asyncio.run(ledger.read(str(row.cache_key)))
        assert record is not None
        assert [a.task_id for a in record.attempts] == [row.generations[0].task_id, row.task_id]
        assert [a.attempt for a in record.attempts] == [1, 2]

    monkeypatch.setattr(collector_module, "read_manifest", read_manifest)
    slow_runway.advance_clock(MINUTES_10)
    later = collect()
    assert later.collected == 4 and slow_runway.stats()["downloads"] == 8 == len(uploads)
    assert len(videos_in_s3(s3)) == 8
    for row in manifest.rows:  # each task's final state and cost, noted in its attempt
        record = asyncio.run(ledger.read(str(row.cache_key)))
        assert record is not None
        assert [(a.final_status, a.credits) for a in record.history] == [("SUCCEEDED", 25)] * 2
    told = by_task(events_for(set(first.task_ids + second.task_ids), 8))
    assert told == {t: ["runway.generation.succeeded"] for t in first.task_ids + second.task_ids}


def test_a_settings_change_keeps_the_first_generation_and_collects_both(s3, runway, uploads):
    fill(s3, 5, bad=False)
    seed_1 = submit(seed=1)
    seed_2 = submit(seed=2)  # other settings on the same prefix: new tasks, paid too
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    assert {r.task_id for r in manifest.rows} == set(seed_2.task_ids)
    assert {g.task_id for r in manifest.rows for g in r.generations} == set(seed_1.task_ids)
    transports = {r.source: r.transport for r in manifest.rows}
    assert all(transports.values())
    submit(seed=2)  # a rerun (cache hits) keeps every field, transport included
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None and {r.source: r.transport for r in manifest.rows} == transports
    assert all(r.status == "cached" and len(r.generations) == 1 for r in manifest.rows)

    current = collect(wait_seconds=30)  # by default: the current generation
    assert current.collected == 5 and runway.stats()["downloads"] == 5
    everything = collect(wait_seconds=30, generations="all")
    assert everything.collected == 5 and everything.succeeded == 10
    assert runway.stats()["downloads"] == 10 == len(uploads) == len(videos_in_s3(s3))
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    assert all(r.collected and r.generations[0].collected for r in manifest.rows)
    assert collect(generations="all").collected == 0 and runway.stats()["downloads"] == 10
    every = seed_1.task_ids + seed_2.task_ids
    told = by_task(events_for(set(every), 10))
    assert told == {t: ["runway.generation.succeeded"] for t in every}


def test_a_failing_run_never_overwrites_a_generation_that_succeeded(s3, runway):
    fill(s3, 2, bad=False)
    submit()
    collect(wait_seconds=30)
    runway.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(400 + 103,)))  # every create refused
    failing = submit(seed=7, fail_on_errors=False)
    assert failing.failed == 2
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    for row in manifest.rows:
        assert row.status == "submitted" and row.error is None and row.collected
        assert row.attempt_status == "failed" and row.attempt_error


@pytest.mark.parametrize("fault", ["rate_truncated_download", "rate_truncated_download_unsized"])
def test_a_truncated_download_is_never_published(s3, runway, uploads, fault):
    fill(s3, 3, bad=False)
    batch = submit()
    runway.set_faults(Faults(**{fault: 1.0}))
    cut = collect(wait_seconds=30, download_retries=1)
    assert (cut.collected, cut.errors) == (0, 3)
    assert runway.stats()["truncated_downloads"] == 6  # each tried twice, each cut short
    assert uploads == [] and videos_in_s3(s3) == {} and partials_in_s3(s3) == []  # none half-done
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None and not any(r.output for r in manifest.rows)
    assert all("retry" in str(r.failure) for r in manifest.rows)
    assert events_for(set(batch.task_ids), 0, settle=3) == []

    runway.set_faults(Faults(**{fault: 0.5}, seed=11))  # some cut, retried within the run
    mended = collect(download_retries=8)
    assert (mended.collected, mended.errors) == (3, 0)
    stored = videos_in_s3(s3)
    assert len(stored) == 3 and all(body == VIDEO_MP4 for body in stored.values())
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    assert all(r.output_sha256 == hashlib.sha256(VIDEO_MP4).hexdigest()
               and r.output_bytes == len(VIDEO_MP4) for r in manifest.rows)  # fmt: skip
    told = by_task(events_for(set(batch.task_ids), len(batch.task_ids)))
    assert told == {t: ["runway.generation.succeeded"] for t in batch.task_ids}


def test_each_video_is_copied_as_soon_as_its_task_finishes(s3, monkeypatch, uploads):
    with Emulator(api_key=API_KEY, concurrency=1, generation_seconds=MINUTES_10,
                  output_url_ttl=3600) as emu:  # fmt: skip
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
        fill(s3, 2, bad=False)
        batch = submit()  # one at a time: the second ends ten minutes after the first
        results = {}
        collector = threading.Thread(target=lambda: results.update(run=collect(wait_seconds=90)))
        collector.start()
        emu.advance_clock(MINUTES_10)
        wait_until(lambda: len(videos_in_s3(s3)) == 1, "the first video, while the second runs")
        assert collector.is_alive() and [t["status"] for t in emu.tasks()] == [
            "SUCCEEDED", "RUNNING"]  # fmt: skip
        told = by_task(events_for(set(batch.task_ids), 1))  # told as it landed, not at the end
        assert list(told.values()) == [["runway.generation.succeeded"]]
        emu.advance_clock(MINUTES_10)
        collector.join(timeout=120)
        assert results["run"].collected == 2 and emu.stats()["downloads"] == 2 == len(uploads)
        assert partials_in_s3(s3) == []


def test_every_paid_task_of_a_source_is_in_the_manifest_and_collected_once(s3, runway, uploads):
    """Seed 1, seed 2 on the same prefix, then a deliberate resubmission: three paid tasks
    per image, all in the manifest, each video copied exactly once."""
    fill(s3, 3, bad=False)
    runs = [submit(seed=1), submit(seed=2), submit(seed=2, resubmit=True)]
    per_source = {row.source: [] for row in runs[0].rows}
    for run in runs:
        for row in run.rows:
            per_source[row.source].append(row.task_id)
    assert all(len(set(ids)) == 3 for ids in per_source.values())
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    assert {r.source: r.task_ids for r in manifest.rows} == per_source  # oldest first
    everything = collect(wait_seconds=30, generations="all")
    assert everything.collected == 9 and everything.succeeded == 9
    assert runway.stats()["downloads"] == 9 == len(uploads) == len(set(uploads))
    assert len(videos_in_s3(s3)) == 9
    assert collect(generations="all").collected == 0 and runway.stats()["downloads"] == 9
    every = [t for ids in per_source.values() for t in ids]
    told = by_task(events_for(set(every), len(every)))
    assert told == {t: ["runway.generation.succeeded"] for t in every}


def test_a_resubmission_whose_manifest_write_was_lost_stays_in_the_manifest(
    s3, runway, monkeypatch
):
    """The manifest is a view of the ledger: a task the ledger holds reappears in the
    manifest with the next run's write, even after a write was lost in between."""
    flow_module = importlib.import_module("prefect_runway.flows.s3_image_to_video")
    fill(s3, 2, bad=False)
    first = submit()
    real = flow_module.merge_manifest

    def lost_write(*args, **kwargs):
        raise RuntimeError("S3 went away")

    monkeypatch.setattr(flow_module, "merge_manifest", lost_write)
    with pytest.raises(Exception, match="could not be written"):
        submit(resubmit=True)  # paid again; the ledger has the tasks, the manifest not
    monkeypatch.setattr(flow_module, "merge_manifest", real)
    third = submit(resubmit=True)
    ledger = asyncio.run(Ledger.default())
    manifest = read_manifest(s3, BUCKET, "in/runway-manifest.json")
    assert manifest is not None
    for row in manifest.rows:
        record = asyncio.run(ledger.read(str(row.cache_key)))
        assert record is not None and len(record.attempts) == 3
        assert row.task_ids == [a.task_id for a in record.attempts]  # the lost one too
        assert row.task_id in third.task_ids and row.task_ids[0] in first.task_ids
    everything = collect(wait_seconds=30, generations="all")
    assert everything.collected == 6 and runway.stats()["downloads"] == 6
