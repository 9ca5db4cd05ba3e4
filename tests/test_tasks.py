"""Prefect tasks: once-only cached submission, transient-only retries, wait, cancel, download."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from prefect import flow, unmapped
from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL
from pydantic import SecretStr

from prefect_runway import ImageToVideoRequest, RunwayCredentials, RunwayTaskFailedError, TaskStatus
from prefect_runway.tasks import (
    BudgetExceededError,
    asubmit_image_to_video,
    cancel_task,
    check_budget,
    download_task_output,
    estimate_credits,
    submit_image_to_video,
    wait_for_tasks,
)
from prefect_runway.testing.emulator import Emulator, Faults
from tests._support.locks import contenders
from tests._support.processes import wait_until
from tests._support.runway import PNG
from tests.conftest import API_KEY

pytestmark = pytest.mark.usefixtures("prefect_harness")
FAST = {"retry_delay_seconds": 0}


def requests(n: int, presign: str = "") -> list[ImageToVideoRequest]:
    return [
        ImageToVideoRequest(
            prompt_image=f"https://images.example.com/{i}.png{presign}",
            model="gen4_turbo", ratio="1280:720", duration=5,
        )
        for i in range(n)
    ]


@flow
def submit_all(creds: RunwayCredentials, batch: list[ImageToVideoRequest]) -> list[str]:
    futures = submit_image_to_video.with_options(**FAST).map(unmapped(creds), batch)
    return [f.result().id for f in futures]


@pytest.fixture
def url_emulator(make_emulator):
    """Accepts https URLs without fetching them (there is no network in tests)."""
    return make_emulator(fetch_urls=False, generation_seconds=0.3)


def creds_for(emu, key: str = API_KEY) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(key), base_url=emu.base_url, poll_interval=0.05)


def test_rerun_of_twenty_submissions_creates_twenty_tasks(url_emulator):
    creds = creds_for(url_emulator)
    sigv4 = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F{d}&X-Amz-Date={d}"
    first = submit_all(creds, requests(20, sigv4.format(d=1) + "&X-Amz-Signature=aaa"))
    second = submit_all(creds, requests(20, sigv4.format(d=2) + "&X-Amz-Signature=bbb"))
    third = submit_all(creds, requests(20))
    assert first == second == third and len(set(first)) == 20
    assert url_emulator.stats()["tasks_created"] == 20
    assert url_emulator.stats()["posts"] == 20


def test_cache_hit_is_logged_with_the_earlier_task_id(url_emulator, caplog):
    creds = creds_for(url_emulator)
    [task_id] = submit_all(creds, requests(1))
    caplog.clear()
    submit_all(creds, requests(1))
    assert f"Cache hit: this image and request were already submitted as Runway task {task_id}" \
        in caplog.text


def test_two_api_keys_never_share_an_entry():
    with Emulator(api_key=None, fetch_urls=False) as emu:  # accepts any key
        submit_all(creds_for(emu, "key_one_aaaaaaaa"), requests(1))
        submit_all(creds_for(emu, "key_two_bbbbbbbb"), requests(1))
        assert emu.stats()["tasks_created"] == 2


def test_changed_request_field_is_a_new_generation(url_emulator):
    creds = creds_for(url_emulator)
    base = requests(1)[0]
    submit_all(creds, [base, base.model_copy(update={"seed": 5})])
    submit_all(creds, [base.model_copy(update={"duration": 5})])  # same as base
    assert url_emulator.stats()["tasks_created"] == 2


def test_two_concurrent_runs_submit_once(url_emulator, lock_calls):
    """Overlapping by construction: the emulator holds the first run's POSTs until the
    second run has reached the lock of an image the first one is submitting."""
    creds = creds_for(url_emulator)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def one_run():
        try:
            results.append(submit_all(creds, requests(20)))
        except BaseException as exc:  # reported below, with the emulator's counts
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    url_emulator.hold_submits()
    try:
        threads[0].start()
        wait_until(lambda: url_emulator.held_submits >= 1, "the first run's POST")
        threads[1].start()
        wait_until(lambda: contenders(lock_calls) >= 2, "the second run at a held lock")
    finally:
        url_emulator.release_submits()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == 2 and results[0] == results[1], errors
    assert url_emulator.stats()["tasks_created"] == url_emulator.stats()["posts"] == 20


def outcome(state):
    """(completed, message) of a task state, so a flow can return it without failing."""
    return state.is_completed(), state.message


def test_transient_errors_are_retried_by_the_client_only_without_duplicates(url_emulator):
    creds = creds_for(url_emulator).model_copy(update={"max_retries": 2})
    submit = submit_image_to_video.with_options(**FAST)

    @flow
    def run_one():
        return outcome(submit(creds, requests(1)[0], return_state=True))

    url_emulator.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,), retry_after=0))
    completed, message = run_one()
    assert not completed and "(HTTP 503" in message
    assert url_emulator.stats()["posts"] == 3  # 1 + 2 client retries; the task never retries

    url_emulator.set_faults(Faults())  # nothing was created: the intent was undone, no hold
    completed, _ = run_one()
    assert completed and url_emulator.stats()["tasks_created"] == 1


def test_prefect_settings_meant_for_other_tasks_never_pay_again(url_emulator):
    from prefect.settings import (
        PREFECT_TASK_DEFAULT_RETRIES,
        PREFECT_TASKS_REFRESH_CACHE,
        temporary_settings,
    )

    creds = creds_for(url_emulator)
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True, PREFECT_TASK_DEFAULT_RETRIES: 3}):
        first = submit_all(creds, requests(2))
        again = submit_all(creds, requests(2))
        url_emulator.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,)))

        @flow
        def failing():
            creds_no_retry = creds.model_copy(update={"max_retries": 0})
            request = requests(3)[2]
            return outcome(submit_image_to_video(creds_no_retry, request, return_state=True))

        completed, _ = failing()
    assert first == again and not completed
    assert url_emulator.stats()["posts"] == 3  # 2 paid once each + 1 failed: no task retries


# Prefect reads its task defaults when a task is defined, so they are set before the import.
PINS_SCRIPT = """
import sys
import httpx
from prefect import flow
from pydantic import SecretStr
from prefect_runway import ImageToVideoRequest, RunwayCredentials
from prefect_runway.tasks import submit_image_to_video

root, base_url, key = sys.argv[1:4]
creds = RunwayCredentials(api_key=SecretStr(key), base_url=base_url, max_retries=0)
request = ImageToVideoRequest(prompt_image="https://images.example.com/pins.png",
                              model="gen4_turbo", ratio="1280:720", duration=5)

@flow
def once():
    return submit_image_to_video(creds, request, return_state=True).is_completed()

print("RUN", once())
httpx.post(root + "/_emulator/faults", json={}).raise_for_status()
print("RUN", once())
print("RUN", once())
"""


def test_prefect_task_defaults_set_before_import_never_pay_again(url_emulator):
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_TASK_DEFAULT_RETRIES": "3", "PREFECT_TASK_DEFAULT_RETRY_DELAY_SECONDS": "0",
           "PREFECT_TASKS_REFRESH_CACHE": "true"}  # fmt: skip
    url_emulator.set_faults(Faults(rate_5xx=1.0, statuses_5xx=(503,)))  # nothing created
    proc = subprocess.run(
        [sys.executable, "-c", PINS_SCRIPT, url_emulator.root_url, url_emulator.base_url,
         API_KEY], env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    runs = [line for line in proc.stdout.splitlines() if line.startswith("RUN ")]
    assert runs == ["RUN False", "RUN True", "RUN True"], proc.stdout + proc.stderr
    stats = url_emulator.stats()
    assert stats["posts"] == 2 and stats["tasks_created"] == 1  # no task retry, then cached


def test_an_explicit_resubmit_pays_each_time_it_is_asked(url_emulator):
    """Within one flow run too: no Prefect cache answers in place of the engine."""
    creds = creds_for(url_emulator)
    request = requests(1)[0]

    @flow
    def resubmit_twice():
        ids = [submit_image_to_video(creds, request).id]
        ids += [submit_image_to_video(creds, request, resubmit=True).id for _ in range(2)]
        return ids + [submit_image_to_video(creds, request).id]

    first, second, third, latest = resubmit_twice()
    assert len({first, second, third}) == 3 and latest == third  # the ledger's latest task
    assert url_emulator.stats()["posts"] == 3


def test_invalid_request_is_refused_before_any_post(url_emulator):
    creds = creds_for(url_emulator)
    bad = ImageToVideoRequest.model_construct(
        prompt_image="https://images.example.com/x.png", model="gen4_turbo", ratio="1280:768")

    @flow
    def run():
        return outcome(submit_image_to_video.with_options(**FAST)(creds, bad, return_state=True))

    completed, message = run()
    assert not completed and "ratio '1280:768' is not supported by gen4_turbo" in message
    assert url_emulator.stats()["posts"] == 0


def test_async_twin_shares_the_cache(url_emulator):
    creds = creds_for(url_emulator)
    [task_id] = submit_all(creds, requests(1))

    @flow
    async def run():
        return await asubmit_image_to_video(creds, requests(1)[0])

    assert asyncio.run(run()).id == task_id
    assert url_emulator.stats()["tasks_created"] == 1


def test_wait_goes_through_throttled_to_succeeded_and_cancel_ends_it(caplog):
    # One at a time, 2 s each: the fifth waits 8 s in THROTTLED, however slowly a busy
    # machine submits, so the cancel finds it queued (a finished task would be deleted).
    with Emulator(api_key=API_KEY, fetch_urls=False, concurrency=1,
                  generation_seconds=2.0) as emu:
        creds = creds_for(emu)

        @flow
        def run():
            ids = submit_all.fn(creds, requests(5))
            cancel_task(creds, ids[-1])
            return ids, wait_for_tasks(creds, ids, timeout=60)

        ids, results = run()
    assert all(results[i].status is TaskStatus.SUCCEEDED for i in ids[:4])
    assert isinstance(results[ids[4]], RunwayTaskFailedError)
    assert str(results[ids[4]]) == f"Task {ids[4]} was cancelled."
    assert "is THROTTLED" in caplog.text and "is RUNNING" in caplog.text
    assert caplog.text.count(f"Runway task {ids[0]} is SUCCEEDED") == 1


def test_download_lands_in_s3_with_content_type_and_size(credentials, emulator, tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="videos")
        with credentials.get_client() as client:
            submitted = client.image_to_video(
                ImageToVideoRequest(prompt_image=PNG, model="gen4_turbo", ratio="1280:720"))
            client.wait_for_task(submitted.id, timeout=10)

        @flow
        def run():
            to_s3 = download_task_output(credentials, submitted.id, "s3://videos/out/cat.mp4",
                                         s3_client=s3)
            local = download_task_output(credentials, submitted.id, str(tmp_path / "cat.mp4"))
            return to_s3, local

        [record], [local] = run()
        head = s3.head_object(Bucket="videos", Key="out/cat.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == record.bytes == Path(local.location).stat().st_size
    assert record.sha256 == local.sha256 and record.location == "s3://videos/out/cat.mp4"


@flow
def submit_within_budget(creds: RunwayCredentials, batch: list[ImageToVideoRequest],
                         budget: float | None) -> list[str]:
    """The documented pattern: estimate, check against budget and balance, then submit."""
    with creds.get_client() as client:
        balance = client.organization().credit_balance
    check_budget(estimate_credits(batch), budget, balance)
    return submit_all.fn(creds, batch)


def test_budget_is_checked_before_any_post(url_emulator):
    creds = creds_for(url_emulator)
    batch = requests(10)
    assert estimate_credits(batch) == 250
    with pytest.raises(BudgetExceededError, match=r"Estimated cost 250 credits \(~2.50 USD\) "
                       "exceeds the budget of 100 credits"):
        submit_within_budget(creds, batch, 100)
    assert url_emulator.stats()["posts"] == 0
    assert len(set(submit_within_budget(creds, batch, 250))) == 10  # the budget allows it
    assert url_emulator.stats()["posts"] == 10


def test_balance_is_checked_before_any_post():
    with Emulator(api_key=API_KEY, fetch_urls=False, credit_balance=200) as emu:
        with pytest.raises(BudgetExceededError, match="Estimated cost 250 credits exceeds the "
                           "organization's balance of 200 credits"):
            submit_within_budget(creds_for(emu), requests(10), None)
        assert emu.stats()["posts"] == 0


def test_api_key_is_nowhere_in_database_results_or_logs(url_emulator, caplog, prefect_home):
    creds = creds_for(url_emulator)
    submit_all(creds, requests(3))
    db_path = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    scanned = 0
    for path in [db_path, *db_path.parent.glob("*"), *prefect_home.rglob("*")]:
        if path.is_file():
            scanned += 1
            assert API_KEY.encode() not in path.read_bytes(), path
    assert scanned > 3
    assert API_KEY not in caplog.text


def test_async_twin_retries_transient_errors_only(url_emulator):
    creds = creds_for(url_emulator).model_copy(update={"max_retries": 2})
    url_emulator.set_faults(Faults(rate_429=1.0, retry_after=0))

    @flow
    async def run():
        state = await asubmit_image_to_video.with_options(**FAST)(
            creds, requests(1)[0], return_state=True)
        return outcome(state)

    completed, message = asyncio.run(run())
    assert not completed and "HTTP 429" in message
    assert url_emulator.stats()["posts"] == 3  # the client's 1 + 2, never the task's


def test_expired_output_url_is_refreshed_by_fetching_the_task_again(tmp_path):
    from prefect_runway.tasks import _download_fresh

    with Emulator(api_key=API_KEY, generation_seconds=0.1, output_url_ttl=1) as emu:
        creds = creds_for(emu)
        with creds.get_client() as client:
            submitted = client.image_to_video(ImageToVideoRequest(
                prompt_image=PNG, model="gen4_turbo", ratio="1280:720"))
            stale = client.wait_for_task(submitted.id, timeout=10)
            time.sleep(1.2)  # the output URL in `stale` has expired now
            with pytest.raises(Exception, match="HTTP 403"):
                client.download(stale.output[0], io.BytesIO())
            with (tmp_path / "v.mp4").open("w+b") as spool:
                size, digest = _download_fresh(client, submitted.id, stale, 0, spool)
        polls = emu.stats()["polls"]
    assert size == (tmp_path / "v.mp4").stat().st_size > 0 and len(digest) == 64
    assert polls >= 2  # the task was fetched again for a fresh URL


def test_fan_out_shares_the_task_cache_and_works_on_remote_storage(url_emulator):
    from prefect.filesystems import RemoteFileSystem

    from prefect_runway.ledger.batch import ImageJob, submit_images
    from prefect_runway.ledger.records import Ledger

    creds = creds_for(url_emulator)
    [single_id] = submit_all(creds, requests(1))  # one image through the task
    settings = requests(1)[0].settings()
    jobs = [ImageJob(r.prompt_image, r.prompt_image, r.prompt_image) for r in requests(3)]
    rows = asyncio.run(submit_images(creds, settings, jobs))
    assert [r.status for r in rows] == ["cached", "submitted", "submitted"]
    assert rows[0].task_id == single_id  # the batch found the task's record

    remote = RemoteFileSystem(basepath="memory://runway-cache")
    remote.save("runway-cache-test", overwrite=True)

    async def on_remote():
        ledger = Ledger(remote)
        first = await submit_images(creds, settings, jobs, ledger=ledger)
        return first, await submit_images(creds, settings, jobs, ledger=ledger)

    first, again = asyncio.run(on_remote())
    assert [r.status for r in first] == ["submitted"] * 3  # a different store: no records yet
    assert [r.status for r in again] == ["cached"] * 3
    assert [r.task_id for r in again] == [r.task_id for r in first]
    assert url_emulator.stats()["tasks_created"] == 1 + 2 + 3
