"""One budget for the account: runs started together share each model's daily generations and
a monthly credit figure through the lock store (files on one host, Redis for several).

Real parts only: the emulator over HTTP with a daily limit, file locks in a temporary folder,
a real `redis-server`; the daily-limit 429s are counted from ``/_emulator/stats``. Each race
has a negative control (nothing shared), so the tests can fail.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.ledger.engine import Engine, ImageJob, SubmissionRow
from prefect_runway.ledger.locks import SubmissionLockManager
from prefect_runway.ledger.quota import DailyQuota
from prefect_runway.ledger.records import Ledger
from prefect_runway.testing.emulator import Faults
from prefect_runway.testing.emulator.samples import png
from tests.conftest import API_KEY

SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
PRICE = SETTINGS.estimated_credits() or 0.0
STORE_ERROR = "Cannot read or write the account's shared budget at "


def image(run: int, i: int) -> str:
    body = png(16, 9, (i % 256, run * 60 % 256, 9))  # distinct bodies: no emulator duplicates
    return "data:image/png;base64," + base64.b64encode(body).decode()


def stats(emu: Any) -> dict[str, Any]:
    return httpx.get(emu.root_url + "/_emulator/stats").json()


def one_run(creds: RunwayCredentials, run: int, count: int, tmp_path: Any, locks: Any,
            start: threading.Barrier, **options: Any) -> list[SubmissionRow]:  # fmt: skip
    """One flow run's engine: its own ledger, its own reading of the organization endpoint
    (the flows' DailyQuota), `count` images of its own, 3 at a time."""

    async def main() -> list[SubmissionRow]:
        async with creds.get_async_client() as client:
            org = await client.organization()
            quota = DailyQuota({SETTINGS.model: org.remaining_daily(SETTINGS.model) or 0})
            start.wait()  # both runs have read the same remainder
            engine = await Engine.create(
                creds, client, Ledger(str(tmp_path / f"records-{run}")), locks=locks,
                quota=quota, **options,
            )  # fmt: skip
            gate = asyncio.Semaphore(3)

            async def submit(i: int) -> SubmissionRow:
                async with gate:
                    job = ImageJob(f"run{run}/{i}", f"run{run}://{i}", image(run, i))
                    return await engine.submit(job, SETTINGS)

            return await asyncio.gather(*(submit(i) for i in range(count)))

    return asyncio.run(main())


def race(
    creds: RunwayCredentials, tmp_path: Any, locks: Any, **options: Any
) -> list[SubmissionRow]:
    """Two runs started together, 10 images each; every row of both."""
    start = threading.Barrier(2)
    rows: dict[int, list[SubmissionRow]] = {}

    def run(n: int) -> None:
        rows[n] = one_run(creds, n, 10, tmp_path, locks, start, **options)

    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return rows[1] + rows[2]


@pytest.fixture
def limited(make_emulator):
    """An emulator allowing 10 generations a day per model, slow enough for runs to overlap."""
    emu = make_emulator(daily_limit=10, concurrency=20, generation_seconds=5,
                        faults=Faults(latency=0.03))  # fmt: skip
    return emu, RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url)


def assert_ten_in_all(emu: Any, rows: list[SubmissionRow]) -> None:
    statuses = [row.status for row in rows]
    seen = stats(emu)
    assert statuses.count("submitted") == 10 and statuses.count("deferred") == 10, statuses
    assert seen["tasks_created"] == 10 and seen["rejected"].get("daily_limit", 0) == 0, seen
    deferred = [row for row in rows if row.status == "deferred"]
    assert all("reserved in full by this and other runs" in (r.error or "") for r in deferred)


def test_two_runs_started_together_submit_ten_in_all_with_file_locks(limited, tmp_path):
    emu, creds = limited
    rows = race(creds, tmp_path, SubmissionLockManager(tmp_path / "locks"))
    assert_ten_in_all(emu, rows)


def test_two_runs_started_together_submit_ten_in_all_through_redis(limited, tmp_path, redis_url):
    from prefect_runway.ledger.redis_locks import RedisSubmissionLockManager

    emu, creds = limited
    locks = RedisSubmissionLockManager(redis_url)
    try:
        rows = race(creds, tmp_path, locks)
        assert_ten_in_all(emu, rows)
        assert list(locks.client.scan_iter("lock:*")) == []
    finally:
        locks.close()


def test_without_the_shared_budget_both_runs_spend_the_same_remainder(limited, tmp_path):
    """The negative control: each run counting alone is answered 429 for its excess."""
    emu, creds = limited
    rows = race(creds, tmp_path, SubmissionLockManager(tmp_path / "locks"), budget=None)
    assert stats(emu)["rejected"].get("daily_limit", 0) > 0
    assert [row.status for row in rows].count("submitted") == 10


def test_a_failing_shared_store_fails_closed(limited, tmp_path):
    """The budget folder cannot be created (a file is in its place): no POST, a clear error on
    every row of the model, never "plenty left"."""
    emu, creds = limited
    locks = SubmissionLockManager(tmp_path / "locks")
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / "budget").write_text("not a folder")
    start = threading.Barrier(1)
    rows = one_run(creds, 1, 4, tmp_path, locks, start)
    assert [row.status for row in rows] == ["failed"] * 4
    assert all(STORE_ERROR in (row.error or "") for row in rows), rows[0].error
    assert "No more gen4_turbo is submitted by this run" in (rows[-1].error or "")
    assert stats(emu)["posts"] == 0


def test_a_failing_redis_counter_fails_closed(limited, tmp_path, redis_url):
    """Redis answers, but the account's counter is not ours to read (a key of another type):
    every row of the model fails with the error, and nothing is POSTed."""
    from prefect_runway.ledger.redis_locks import RedisSubmissionLockManager

    emu, creds = limited
    locks = RedisSubmissionLockManager(redis_url)
    name = f"prefect-runway:budget:{creds.account_fingerprint}:daily:{SETTINGS.model}"
    try:
        locks.client.hset(name, "someone", "else")
        rows = one_run(creds, 1, 3, tmp_path, locks, threading.Barrier(1))
    finally:
        locks.client.delete(name)
        locks.close()
    assert [row.status for row in rows] == ["failed"] * 3
    assert all(STORE_ERROR in (row.error or "") for row in rows), rows[0].error
    assert "WRONGTYPE" in (rows[0].error or "") and stats(emu)["posts"] == 0


def test_an_unreadable_counter_fails_closed(limited, tmp_path):
    """A counter file that is not JSON (torn by hand, a bad disk) is an error, not zero."""
    emu, creds = limited
    locks = SubmissionLockManager(tmp_path / "locks")
    assert [r.status for r in one_run(creds, 1, 1, tmp_path, locks, threading.Barrier(1))] == [
        "submitted"
    ]
    counters = list((tmp_path / "locks" / "budget").glob("*.json"))
    assert len(counters) == 1
    counters[0].write_text("{torn")
    rows = one_run(creds, 2, 3, tmp_path, locks, threading.Barrier(1))
    assert [row.status for row in rows] == ["failed"] * 3
    assert all(STORE_ERROR in (row.error or "") for row in rows), rows[0].error
    assert stats(emu)["posts"] == 1


def test_a_monthly_budget_shared_by_two_runs_is_not_exceeded(limited, tmp_path, monkeypatch):
    """PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS: room for 3 generations across both runs."""
    emu, creds = limited
    monkeypatch.setenv("PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS", str(PRICE * 3.5))
    rows = race(creds, tmp_path, SubmissionLockManager(tmp_path / "locks"))
    statuses = [row.status for row in rows]
    assert statuses.count("submitted") == 3 and statuses.count("deferred") == 17, statuses
    assert stats(emu)["tasks_created"] == 3
    refused = next(row.error for row in rows if row.status == "deferred")
    assert f"monthly budget of {PRICE * 3.5:g} credits" in (refused or "")


@asynccontextmanager
async def engine_with_a_limit_of_2(emu: Any, tmp_path: Any) -> AsyncIterator[Engine]:
    """One run's engine on `emu`: retries off, file locks, its own ledger, a quota of 2."""
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url, max_retries=0)
    async with creds.get_async_client() as client:
        yield await Engine.create(creds, client, Ledger(str(tmp_path / "records")),
                                  locks=SubmissionLockManager(tmp_path / "locks"),
                                  quota=DailyQuota({SETTINGS.model: 2}))  # fmt: skip


def test_a_post_that_created_nothing_gives_its_generation_back(make_emulator, tmp_path):
    """The API refuses the first POST before creating anything (a 429 "too many requests",
    retries off): its reservation is returned, so a limit of 2 still submits 2 other images."""
    emu = make_emulator(daily_limit=2, faults=Faults(script=("429",)))

    async def main() -> list[SubmissionRow]:
        async with engine_with_a_limit_of_2(emu, tmp_path) as engine:
            return [await engine.submit(ImageJob(f"i{i}", f"i://{i}", image(0, i)), SETTINGS)
                    for i in range(4)]  # fmt: skip

    rows = asyncio.run(main())
    assert [row.status for row in rows] == ["failed", "submitted", "submitted", "deferred"]
    assert stats(emu)["tasks_created"] == 2


def test_a_post_cancelled_in_flight_keeps_its_generation_taken(make_emulator, tmp_path):
    """A run cancelled while its POST is in the air (here the task exists, its answer is
    slow): a task may exist, so neither the run's quota nor the shared reservation is given
    back, and a limit of 2 submits one more image, never a third that Runway would refuse."""
    emu = make_emulator(daily_limit=2, faults=Faults(script=("created:slow",), slow_seconds=3))

    async def main() -> list[SubmissionRow]:
        async with engine_with_a_limit_of_2(emu, tmp_path) as engine:
            with pytest.raises(TimeoutError):  # the POST is cancelled mid-flight
                await asyncio.wait_for(engine.submit(
                    ImageJob("i0", "i://0", image(0, 0)), SETTINGS), timeout=1)  # fmt: skip
            return [await engine.submit(ImageJob(f"i{i}", f"i://{i}", image(0, i)), SETTINGS)
                    for i in (1, 2)]  # fmt: skip

    rows = asyncio.run(main())
    assert [row.status for row in rows] == ["submitted", "deferred"]
    seen = stats(emu)
    assert seen["tasks_created"] == 2 and seen["rejected"].get("daily_limit", 0) == 0, seen


@pytest.mark.slow  # a Prefect server and two flow runs: CI's slow set
@pytest.mark.usefixtures("prefect_harness")
def test_two_s3_prefix_flow_runs_started_together_share_the_daily_limit(s3, make_emulator):
    """The S3 prefix flow, twice at once on two prefixes of 10 images, both having read "10
    left" before any task exists: 10 submitted in all, the rest deferred, no daily-limit 429."""
    from prefect_runway.flows.s3_image_to_video import s3_image_to_video
    from tests.conftest import BUCKET

    emu = make_emulator(env=True, daily_limit=10, concurrency=20, generation_seconds=5,
                        faults=Faults(latency=0.03))  # fmt: skip
    for run in (1, 2):
        for i in range(10):
            s3.put_object(Bucket=BUCKET, Key=f"run{run}/{i:02d}.png", Body=png(6, 6, (i, run, 9)),
                          ContentType="image/png")  # fmt: skip
    results: dict[int, Any] = {}

    def run(n: int) -> None:
        results[n] = asyncio.run(s3_image_to_video(BUCKET, f"run{n}/", concurrency=3))

    emu.hold_submits()  # no task is created until both runs have read the remainder
    threads = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while stats(emu)["organization"] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)  # each run: the flow's reading, then its engine's (before a POST)
    overlapped = stats(emu)["organization"] >= 4
    emu.release_submits()
    for thread in threads:
        thread.join(180)
    assert overlapped, stats(emu)
    rows = results[1].rows + results[2].rows
    assert results[1].submitted + results[2].submitted == 10
    assert results[1].deferred + results[2].deferred == 10
    assert stats(emu)["rejected"].get("daily_limit", 0) == 0
    assert len(rows) == 20
