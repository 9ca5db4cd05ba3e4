"""The submission engine under faults: storage errors, lost answers, crashes (SIGKILL at each
step), lock races. Each case drives the real engine against the emulator over loopback and
asserts on the emulator's counts: 0 silent duplicate tasks, 0 task IDs lost without a trace."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.errors import RecordWriteError
from prefect_runway.ledger.engine import Engine, ImageJob
from prefect_runway.ledger.keys import submission_key
from prefect_runway.ledger.locks import SubmissionLockManager
from prefect_runway.ledger.records import Ledger, SubmissionRecord
from prefect_runway.testing.emulator import Emulator, Faults
from prefect_runway.testing.emulator.samples import png
from tests._support.locks import contenders
from tests._support.processes import wait_until
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
IMAGE = "data:image/png;base64," + __import__("base64").b64encode(png(6, 6)).decode()
JOB = ImageJob(source="s3://stills/cat.png", identity="s3://stills/cat.png#e1", image=IMAGE)


@pytest.fixture
def emu(make_emulator):
    return make_emulator(generation_seconds=0.3)


@pytest.fixture
def places(tmp_path):
    return tmp_path / "records", tmp_path / "locks"


def creds_for(emu: Emulator, **update) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url, **update)


def run_engine(emu, places, ledger=None, job=JOB, creds=None, patch_client=None, **options):
    """One image through a fresh engine; returns its row."""
    records, locks = places
    creds = creds or creds_for(emu, max_retries=2)

    async def go():
        async with creds.get_async_client(backoff_base=0.01) as client:
            if patch_client:
                patch_client(client)
            engine = await Engine.create(creds, client, ledger or Ledger(records),
                                         locks=SubmissionLockManager(locks), **options)  # fmt: skip
            return await engine.submit(job, SETTINGS)

    return asyncio.run(go())


class FaultyLedger(Ledger):
    """A real ledger on disk whose storage fails on purpose at one step."""

    def __init__(self, folder: Path, fail: str) -> None:
        super().__init__(folder)
        self.fail = fail

    async def _read_bytes(self, key):
        if self.fail == "read":
            raise OSError(5, "Input/output error")
        return await super()._read_bytes(key)

    async def _write(self, record, exclusive):
        if self.fail == record.state:  # "intent" or "submitted"
            raise RecordWriteError(f"Cannot write the submission record {self.where(record.key)} "
                                   "(OSError: [Errno 28] No space left on device)")  # fmt: skip
        await super()._write(record, exclusive)


# -- lost answers ---------------------------------------------------------------------------


def lose_first_answer_then_fail(emu: Emulator):
    """The first POST reaches the emulator (a task is created) but its answer is lost; every
    later POST gets 503 from the emulator."""

    def patch(client):
        real = client._http.request
        posts = 0

        async def request(method, path, **kwargs):
            nonlocal posts
            response = await real(method, path, **kwargs)
            if method == "POST" and path.endswith("image_to_video"):
                posts += 1
                if posts == 1:
                    emu.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,)))
                    raise httpx.ReadError("connection reset by peer")
            return response

        client._http.request = request

    return patch


def test_lost_answer_then_errors_is_an_unknown_outcome_never_a_plain_failure(emu, places, caplog):
    row = run_engine(emu, places, patch_client=lose_first_answer_then_fail(emu))
    assert emu.stats()["tasks_created"] == 1 and emu.stats()["posts"] == 3
    assert row.status == "unknown" and row.possible_duplicate and row.lost_responses == 1
    assert "A Runway task may exist for this image: its answer was lost" in row.error
    assert "resubmit_unknown=True" in row.error
    assert any(r.levelno == logging.WARNING and "may exist" in r.getMessage()
               for r in caplog.records)  # fmt: skip

    emu.set_faults(Faults())
    again = run_engine(emu, places)  # the rerun the failure message suggests: held
    assert again.status == "unknown" and emu.stats()["posts"] == 3

    paid = run_engine(emu, places, resubmit_unknown=True)  # the user opts in: flagged
    assert paid.status == "submitted" and paid.possible_duplicate
    assert emu.stats()["tasks_created"] == 2
    assert run_engine(emu, places).status == "cached"  # and recorded from now on


def test_definite_failure_undoes_its_intent_so_a_rerun_submits(emu, places):
    emu.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,)))  # the API's own 503 body
    row = run_engine(emu, places)
    assert row.status == "failed" and "HTTP 503" in row.error and not row.possible_duplicate
    assert not any(places[0].iterdir())  # no intent left behind
    emu.set_faults(Faults())
    assert run_engine(emu, places).status == "submitted"
    assert emu.stats()["tasks_created"] == 1


# -- storage faults -------------------------------------------------------------------------


def test_intent_that_cannot_be_written_means_no_post(emu, places):
    row = run_engine(emu, places, ledger=FaultyLedger(places[0], "intent"))
    assert row.status == "failed" and emu.stats()["posts"] == 0
    assert "No space left on device" in row.error
    assert "the intent was not written, so nothing was submitted" in row.error


def test_outcome_that_cannot_be_written_keeps_the_task_id_and_never_pays_again(
    emu, places, caplog
):
    row = run_engine(emu, places, ledger=FaultyLedger(places[0], "submitted"))
    [task] = emu.tasks()
    assert row.status == "unrecorded" and row.task_id == task["id"]
    assert f"task {task['id']} created; its record was not written" in row.error
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(task["id"] in message for message in errors)

    again = run_engine(emu, places)  # the intent is on disk: held, not paid again
    assert again.status == "unknown" and emu.stats()["posts"] == 1


def test_a_read_error_is_never_no_record(emu, places):
    run_engine(emu, places)
    row = run_engine(emu, places, ledger=FaultyLedger(places[0], "read"))
    assert row.status == "failed" and emu.stats()["posts"] == 1
    assert "Cannot read the submission record" in row.error and "Input/output error" in row.error


@pytest.mark.parametrize("damage", [b"", b'{"version": 2, "key": "runway-i2v-', b"\x00" * 64])
def test_a_damaged_record_fails_closed_and_names_the_file(emu, places, damage):
    first = run_engine(emu, places)
    path = places[0] / first.cache_key
    path.write_bytes(damage)  # e.g. a host crash during a non-atomic write
    row = run_engine(emu, places)
    assert row.status == "failed" and emu.stats()["posts"] == 1
    assert f"The submission record {path} is damaged ({len(damage)} bytes" in row.error


def test_records_written_by_v0_1_are_read_as_submitted(emu, places):
    key = submission_key(creds_for(emu).account_fingerprint, SETTINGS, JOB.identity)
    places[0].mkdir(parents=True)
    legacy = {"metadata": {"storage_key": key, "serializer": {"type": "json"}},
              "result": json.dumps({"id": "old-task-1", "status": "PENDING"})}  # fmt: skip
    (places[0] / key).write_text(json.dumps(legacy))
    row = run_engine(emu, places)
    assert (row.status, row.task_id, emu.stats()["posts"]) == ("cached", "old-task-1", 0)


# -- crashes: SIGKILL at each step ----------------------------------------------------------

CRASH_SCRIPT = """
import asyncio, os, signal, sys
from pydantic import SecretStr
from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.ledger import stores
from prefect_runway.ledger.engine import Engine, ImageJob
from prefect_runway.ledger.locks import SubmissionLockManager
from prefect_runway.ledger.records import Ledger

step, base_url, folder, locks, image = sys.argv[1:6]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
real_write = stores._write_local

def write_local(folder_, key, data, exclusive):
    if step == "before_intent" and b'"intent"' in data:
        die()
    if step == "during_outcome" and b'"submitted"' in data:
        (folder_ / f".{key}.partial.tmp").write_bytes(data[: len(data) // 2])
        die()
    real_write(folder_, key, data, exclusive)

stores._write_local = write_local

async def main():
    creds = RunwayCredentials(api_key=SecretStr(os.environ["KEY"]), base_url=base_url)
    async with creds.get_async_client() as client:
        real_post = client.image_to_video
        async def post(request):
            if step == "after_intent":
                die()
            task = await real_post(request)
            if step == "after_post":
                die()
            return task
        client.image_to_video = post
        engine = await Engine.create(creds, client, Ledger(folder),
                                     locks=SubmissionLockManager(locks))
        job = ImageJob(source="s3://stills/cat.png", identity="s3://stills/cat.png#e1",
                       image=image)
        await engine.submit(job, GenerationSettings(model="gen4_turbo", ratio="1280:720",
                                                    duration=5))
    print("NOT KILLED")

asyncio.run(main())
"""


@pytest.mark.parametrize(
    ("step", "created", "state"),
    [
        ("before_intent", 0, None),  # nothing written, nothing paid: the rerun submits
        ("after_intent", 0, "intent"),  # intent, no POST: held as unknown
        ("after_post", 1, "intent"),  # paid, answer in memory only: held as unknown
        ("during_outcome", 1, "intent"),  # a half-written temporary file, the intent intact
    ],
)
def test_sigkill_at_each_step_never_pays_twice_silently(emu, places, step, created, state):
    records, locks = places
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, step, emu.base_url, str(records), str(locks), IMAGE],
        cwd=ROOT, env={**os.environ, "KEY": API_KEY}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert emu.stats()["tasks_created"] == created
    assert list(locks.glob("*.lock"))  # the dead process's lock is still on disk
    on_disk = [json.loads(p.read_text())["state"] for p in records.glob("runway-i2v-*")]
    assert on_disk == ([state] if state else [])

    started = time.monotonic()
    rerun = run_engine(emu, places)  # the dead holder's lock is broken at once
    assert time.monotonic() - started < 5
    if state is None:
        assert rerun.status == "submitted" and emu.stats()["tasks_created"] == 1
    else:
        assert rerun.status == "unknown" and emu.stats()["tasks_created"] == created
        assert "a run stopped between submitting it and recording the answer" in rerun.error
        resolved = run_engine(emu, places, resubmit_unknown=True)
        assert resolved.status == "submitted" and resolved.possible_duplicate
    assert emu.stats()["duplicates"] == (1 if created else 0)  # only ever flagged ones
    assert not list(locks.glob("*.lock"))


# -- two runs at once -----------------------------------------------------------------------


def in_thread(target, *args, **kwargs):
    """Start `target` in a thread; returns (thread, outcome list: its result or exception)."""
    outcome: list = []

    def run():
        try:
            outcome.append(target(*args, **kwargs))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_runs_reaching_a_held_lock_wait_and_read_the_record(emu, places, lock_calls):
    """Overlapping by construction: the first run's POST is held by the emulator until three
    more runs are waiting on its lock; they then find its record and pay nothing."""
    emu.hold_submits()
    try:
        first = in_thread(run_engine, emu, places)
        wait_until(lambda: emu.held_submits == 1, "the first run's POST")
        others = [in_thread(run_engine, emu, places) for _ in range(3)]
        wait_until(lambda: contenders(lock_calls) == 4, "three runs at the held lock")
        assert emu.held_submits == 1  # nobody else got past the lock
    finally:
        emu.release_submits()
    rows = []
    for thread, outcome in [first, *others]:
        thread.join(timeout=60)
        rows += outcome
    assert [r.status for r in rows] == ["submitted", "cached", "cached", "cached"], rows
    assert len({r.task_id for r in rows}) == 1 and emu.stats()["posts"] == 1


def test_a_run_that_looked_before_the_intent_reads_again_under_the_lock(
    emu, places, lock_calls
):
    """The second run finds no record, prepares its image, and only then reaches the lock
    while the first run's POST is in flight: it must read the record again under the lock."""
    looked, go_on = threading.Event(), threading.Event()

    async def slow_image(client):
        looked.set()  # the record was read (none): the image is being prepared
        await asyncio.to_thread(go_on.wait, 60)
        return IMAGE

    late = ImageJob(source=JOB.source, identity=JOB.identity, image=slow_image)
    emu.hold_submits()
    try:
        second = in_thread(run_engine, emu, places, job=late)
        wait_until(looked.is_set, "the second run to read the ledger")
        first = in_thread(run_engine, emu, places)
        wait_until(lambda: emu.held_submits == 1, "the first run's POST")
        go_on.set()
        wait_until(lambda: contenders(lock_calls) == 2, "the second run at the held lock")
    finally:
        go_on.set()
        emu.release_submits()
    for thread, _ in (first, second):
        thread.join(timeout=60)
    [one], [two] = first[1], second[1]
    assert (one.status, two.status) == ("submitted", "cached"), (one, two)
    assert one.task_id == two.task_id and emu.stats()["posts"] == 1


def test_a_lock_held_through_a_slow_post_is_renewed(emu, places):
    """The lock outlives its hold timeout while the POST is in flight: it is renewed."""
    emu.hold_submits()
    intruder = SubmissionLockManager(places[1])
    key = submission_key(creds_for(emu).account_fingerprint, SETTINGS, JOB.identity)
    try:
        first = in_thread(run_engine, emu, places, hold_timeout=0.6)
        wait_until(lambda: emu.held_submits == 1, "the POST")
        for _ in range(8):  # 2.4 s: four hold timeouts
            time.sleep(0.3)
            assert not intruder.try_acquire(key, "intruder"), "the held lock expired"
    finally:
        emu.release_submits()
    first[0].join(timeout=60)
    assert first[1][0].status == "submitted" and emu.stats()["posts"] == 1
    assert intruder.try_acquire(key, "intruder")  # released at the end


def test_intent_is_created_only_where_no_record_exists(places):
    ledger = Ledger(places[0])
    intent = SubmissionRecord(key="runway-i2v-x", state="intent")

    async def twice():
        await ledger.create(intent)
        await ledger.create(intent)

    from prefect_runway.errors import RecordConflictError

    with pytest.raises(RecordConflictError):
        asyncio.run(twice())


# -- the same guards seen from the flow -----------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_flow_with_an_unwritable_outcome_keeps_the_task_ids_and_fails_loudly(
    s3, runway, monkeypatch, tmp_path
):
    from prefect_runway.flows.common import batch_key
    from prefect_runway.flows.s3_image_to_video import TABLE_KEY, s3_image_to_video
    from prefect_runway.s3.manifest import read_manifest
    from tests._support.prefect_api import read_artifact

    for i in range(3):
        s3.put_object(Bucket="stills", Key=f"u/{i}.png", Body=png(5, 5, (i, 1, 1)))
    folder = tmp_path / "flow-records"

    async def faulty_default():
        return FaultyLedger(folder, "submitted")

    monkeypatch.setattr(Ledger, "default", staticmethod(faulty_default))
    with pytest.raises(Exception, match="3 Runway task\\(s\\) were created but their records"):
        asyncio.run(s3_image_to_video("stills", "u/"))
    created = {t["id"] for t in runway.tasks()}
    assert len(created) == 3
    table = json.loads(asyncio.run(read_artifact(batch_key(TABLE_KEY, "stills/u/"))).data)
    assert {row["task_id"] for row in table} == created
    assert {row["status"] for row in table} == {"unrecorded"}
    manifest = read_manifest(s3, "stills", "u/runway-manifest.json")
    assert {row.task_id for row in manifest.rows} == created

    async def healthy_default():
        return Ledger(folder)

    monkeypatch.setattr(Ledger, "default", staticmethod(healthy_default))
    again = asyncio.run(s3_image_to_video("stills", "u/", fail_on_errors=False))
    assert again.unknown == 3 and runway.stats()["posts"] == 3  # held, never paid again


@pytest.mark.usefixtures("prefect_harness")
def test_resubmissions_count_against_the_budget(s3, runway):
    from prefect_runway.errors import BudgetExceededError
    from prefect_runway.flows.s3_image_to_video import s3_image_to_video

    for i in range(3):
        s3.put_object(Bucket="stills", Key=f"b/{i}.png", Body=png(5, 5, (i, 2, 2)))
    first = asyncio.run(s3_image_to_video("stills", "b/", budget_credits=75))
    assert first.submitted == 3 and runway.stats()["posts"] == 3
    assert asyncio.run(s3_image_to_video("stills", "b/", budget_credits=10)).cached == 3
    with pytest.raises(BudgetExceededError, match="Estimated cost 75 credits"):
        asyncio.run(s3_image_to_video("stills", "b/", budget_credits=50, resubmit=True))
    assert runway.stats()["posts"] == 3
