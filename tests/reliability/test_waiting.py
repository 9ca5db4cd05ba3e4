"""Waiting under GET faults, against the emulator over real HTTP: 404 windows, 5xx bursts,
lost tasks, a bad ID among good ones, and a progress artifact that tells the truth.

Every case counts what the emulator saw (its ``get_faults`` and ``polls``), so a test whose
fault never happened cannot pass.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prefect import flow
from pydantic import SecretStr

from prefect_runway import (
    RunwayCredentials,
    RunwayInvalidTaskIdError,
    RunwayNotFoundError,
    RunwayTaskFailedError,
    RunwayTaskLostError,
    RunwayTaskTimeoutError,
    TaskStatus,
)
from prefect_runway.tasks import wait_for_tasks
from prefect_runway.testing.emulator import Emulator, Faults
from tests._support.prefect_api import read_artifact
from tests._support.runway import async_client_for, client_for, request
from tests.conftest import API_KEY

N = 20


def submit(emu: Emulator, n: int = N, **fields) -> list[str]:
    with client_for(emu) as client:
        return [client.image_to_video(request(seed=i, **fields)).id for i in range(n)]


def wait_all(emu: Emulator, ids: list[str], **options) -> dict:
    async def run() -> dict:
        client_options = {k: options.pop(k) for k in ("backoff_base", "backoff_max",
                                                      "max_retries") if k in options}
        async with async_client_for(emu, **client_options) as client:
            return await client.wait_for_tasks(ids, **options)

    return asyncio.run(run())


def succeeded(results: dict) -> int:
    return sum(1 for r in results.values() if getattr(r, "status", None) is TaskStatus.SUCCEEDED)


def test_404s_early_and_mid_wait_are_no_verdict_every_task_succeeds():
    # Each run of 404s (a proxy's fresh task, then a blip) is shorter than the 2 s grace, but
    # the second starts after the grace from the start of the wait, and the two together
    # last longer than it: only an unbroken run of 404s may make a task lost. Every margin
    # is at least 0.8 s, so a busy machine's stalls between polls cannot decide (with 0.3 s
    # between the second run's end and the grace, one CI run lost a task).
    with Emulator(api_key=API_KEY, concurrency=N, generation_seconds=4.2) as emu:
        ids = submit(emu)
        emu.set_faults(Faults(get_bursts=(("404", 0, 1.2), ("404", 2.4, 1.2))))
        results = wait_all(emu, ids, timeout=30, not_found_grace=2.0)
        stats = emu.stats()
    failed = {i: str(r) for i, r in results.items() if getattr(r, "status", None) is not
              TaskStatus.SUCCEEDED}  # fmt: skip
    assert succeeded(results) == N, failed
    assert stats["get_faults"]["404"] >= 2 * N  # every task saw both windows
    assert stats["polls"] > stats["get_faults"]["404"]


def test_503_and_500_bursts_are_retried_until_the_deadline_zero_errors():
    with Emulator(api_key=API_KEY, concurrency=N, generation_seconds=2.5) as emu:
        ids = submit(emu)
        emu.set_faults(Faults(get_bursts=(("503", 0, 1.0), ("500", 1.1, 1.0))))
        results = wait_all(emu, ids, timeout=30, backoff_base=0.05, backoff_max=0.3,
                           max_retries=1)
        stats = emu.stats()
    assert succeeded(results) == N, {i: str(r) for i, r in results.items()}
    assert stats["get_faults"]["503"] >= N and stats["get_faults"]["500"] >= N


def test_a_single_500_on_a_poll_is_retried_by_the_sync_client_too():
    with Emulator(api_key=API_KEY, generation_seconds=0.3) as emu:
        [task_id] = submit(emu, 1)
        emu.set_faults(Faults(get_script=("500", "404", "503", "500")))
        with client_for(emu) as client:
            done = client.wait_for_task(task_id, timeout=30, not_found_grace=5)
            emu.set_faults(Faults(get_script=("500",)))
            assert client.get_task(task_id).status is TaskStatus.SUCCEEDED  # get_task too
        stats = emu.stats()
    assert done.status is TaskStatus.SUCCEEDED
    assert stats["get_faults"] == {"500": 3, "404": 1, "503": 1}


def test_a_permanent_5xx_ends_at_the_deadline_naming_the_last_failure():
    with Emulator(api_key=API_KEY, generation_seconds=0.3,
                  faults=Faults(rate_get_5xx=1.0, get_statuses_5xx=(500,))) as emu:
        [task_id] = submit(emu, 1)
        started = time.monotonic()
        results = wait_all(emu, [task_id], timeout=2.0, backoff_base=0.3, backoff_max=5.0)
        elapsed = time.monotonic() - started
        polls = emu.stats()["polls"]
    error = results[task_id]
    assert isinstance(error, RunwayTaskTimeoutError)
    assert 1.95 <= elapsed <= 6.0  # a backoff longer than what is left polls on the deadline
    assert 3 <= polls <= 6  # backoff: 0.3, 0.6, 1.2 s... not one poll every 0.05 s
    assert f"Task {task_id} did not finish within 2s" in str(error)
    assert "Its last poll failed" in str(error) and "HTTP 500" in str(error)


def test_a_task_that_stays_404_is_lost_after_the_grace_and_not_before():
    gone = "5b1e0c55-0000-4000-8000-00000000dead"
    with Emulator(api_key=API_KEY, generation_seconds=0.3) as emu:
        ids = submit(emu, 3)
        started = time.monotonic()
        results = wait_all(emu, [*ids, gone], timeout=8, not_found_grace=1.5)
        elapsed = time.monotonic() - started
        polls = emu.stats()["polls"]
    lost = results[gone]
    assert isinstance(lost, RunwayTaskLostError) and isinstance(lost, RunwayNotFoundError)
    assert lost.task_id == gone and 1.5 <= lost.missing_seconds < 5.0
    assert 1.5 <= elapsed < 5.0
    assert f"Task {gone} is lost: it answered 404" in str(lost)
    assert "past the not-found grace of 1.5s" in str(lost)
    assert succeeded(results) == 3
    assert polls > 3 + 5  # the lost one was polled again and again within its grace


@pytest.mark.parametrize("bad", ["bad/id", "", "../v1/organization", "a b"])
def test_a_malformed_id_among_good_ones_is_one_error_row(bad):
    with Emulator(api_key=API_KEY, concurrency=5, generation_seconds=0.3) as emu:
        ids = submit(emu, 5)
        results = wait_all(emu, [ids[0], bad, *ids[1:]], timeout=30)
        polled = emu.stats()["polls"]
    assert succeeded(results) == 5 and len(results) == 6
    error = results[bad]
    assert isinstance(error, RunwayInvalidTaskIdError) and isinstance(error, ValueError)
    assert "is not a valid task ID" in str(error) and "nothing was asked of the API" in str(error)
    assert polled >= 5  # only the good ones reached the emulator


@pytest.mark.usefixtures("prefect_harness")
def test_progress_artifact_counts_each_outcome_read_back_from_prefect(run_logs):
    with Emulator(api_key=API_KEY, concurrency=5, generation_seconds=0.3) as emu:
        good = submit(emu, 3)
        [failing] = submit(emu, 1, prompt_text="[emulator:fail=SAFETY.INPUT.TEXT]")
        emu.set_faults(Faults(get_script=("503",)))  # one retry warning, inside the run
        creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url,
                                  poll_interval=0.05)
        gone, bad = "5b1e0c55-0000-4000-8000-00000000dead", "bad/id"

        @flow
        def run():
            return wait_for_tasks(creds, [*good, failing, gone, bad], timeout=20,
                                  progress_key="waiting-truth", not_found_grace=0.5)

        results = run()
    assert succeeded(results) == 3
    assert isinstance(results[failing], RunwayTaskFailedError)
    assert isinstance(results[gone], RunwayTaskLostError)
    assert isinstance(results[bad], RunwayInvalidTaskIdError)
    artifact = asyncio.run(read_artifact("waiting-truth"))
    assert artifact.data == pytest.approx(50.0)  # 3 of 6 succeeded
    assert artifact.description == "6 Runway tasks: 3 succeeded, 1 failed, 1 lost, 1 error, " \
                                   "0 waiting"
    assert any("Poll 1 of Runway task" in m and "HTTP 503" in m for m in run_logs)
    assert any(f"Runway task {gone}: Task {gone} is lost" in m for m in run_logs)


@pytest.mark.usefixtures("prefect_harness")
def test_client_retry_warnings_reach_the_run_logger_and_a_plain_logger_outside(
    run_logs, caplog
):
    with Emulator(api_key=API_KEY, generation_seconds=0.3) as emu:
        [task_id] = submit(emu, 1)
        emu.set_faults(Faults(get_script=("500", "500")))

        @flow
        def poll_once() -> str:
            with client_for(emu) as client:
                return client.get_task(task_id).id

        assert poll_once() == task_id
        emu.set_faults(Faults(get_script=("502",)))
        with caplog.at_level(logging.WARNING, logger="prefect_runway.api.client"):
            with client_for(emu) as client:
                client.get_task(task_id)
    retries = [m for m in run_logs if "; retry " in m]
    assert len(retries) == 2 and "HTTP 500" in retries[0]
    assert "HTTP 502" in caplog.text and "; retry 1 in" in caplog.text
