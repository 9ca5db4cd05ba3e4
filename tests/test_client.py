"""The client against the emulator over real loopback HTTP, in both dialects."""

from __future__ import annotations

import io

import httpx
import pytest
import respx

from prefect_runway import (
    AsyncRunwayClient,
    ImageToVideoRequest,
    RunwayAuthenticationError,
    RunwayBadRequestError,
    RunwayClient,
    RunwayConnectionError,
    RunwayNotFoundError,
    RunwayProtocolError,
    RunwayRateLimitError,
    RunwayResponseLostError,
    RunwayServerError,
    RunwayTaskFailedError,
    RunwayTaskTimeoutError,
    TaskStatus,
)
from prefect_runway.testing.emulator import Emulator, Faults
from tests._support.runway import PNG, async_client_for, client_for, request
from tests.conftest import API_KEY


def test_submit_poll_to_succeeded_and_download(emulator):
    seen = []
    with client_for(emulator) as client:
        submitted = client.image_to_video(request())
        assert submitted.estimated_credits == 25
        done = client.wait_for_task(submitted.id, timeout=10, on_update=seen.append)
        buffer = io.BytesIO()
        size, digest = client.download(done.output[0], buffer)
    assert done.status is TaskStatus.SUCCEEDED and done.cost.credits == 25
    assert [t.status for t in seen][-1] is TaskStatus.SUCCEEDED
    assert TaskStatus.RUNNING in {t.status for t in seen}
    assert size == len(buffer.getvalue()) > 0 and buffer.getvalue()[4:8] == b"ftyp"
    assert len(digest) == 64
    assert emulator.stats()["tasks_created"] == 1


def test_wire_request_has_headers_and_camel_case_body(emulator):
    with client_for(emulator) as client:
        client.image_to_video(request(seed=9, prompt_text="cat", watermark=False))
    [task] = emulator.tasks()
    assert task["body"] == {"promptImage": PNG, "model": "gen4_turbo", "ratio": "1280:720",
                            "duration": 5, "seed": 9, "promptText": "cat", "watermark": False}


async def test_async_client_submits_waits_and_cancels(emulator):
    async with async_client_for(emulator) as client:
        first = await client.image_to_video(request())
        second = await client.image_to_video(request(seed=1))
        third = await client.image_to_video(request(seed=2))
        await client.cancel_task(third.id)
        results = await client.wait_for_tasks([first.id, second.id, third.id], timeout=10)
    assert results[first.id].status is TaskStatus.SUCCEEDED
    assert results[second.id].status is TaskStatus.SUCCEEDED
    cancelled = results[third.id]
    assert isinstance(cancelled, RunwayTaskFailedError)
    assert cancelled.status == "CANCELLED" and str(cancelled) == f"Task {third.id} was cancelled."


def test_cancelled_task_ends_the_wait_at_once(emulator):
    with client_for(emulator) as client:
        submitted = client.image_to_video(request())
        client.cancel_task(submitted.id)
        with pytest.raises(RunwayTaskFailedError, match="was cancelled"):
            client.wait_for_task(submitted.id, timeout=30)
    assert emulator.stats()["polls"] == 1


def test_throttled_tasks_run_in_order_over_the_concurrency_limit():
    with Emulator(api_key=API_KEY, concurrency=1, generation_seconds=1.5) as emu:
        with client_for(emu) as client:
            ids = [client.image_to_video(request(seed=i)).id for i in range(2)]
            statuses = [client.get_task(i).status for i in ids]
            client.wait_for_task(ids[1], timeout=10)
    assert statuses == [TaskStatus.RUNNING, TaskStatus.THROTTLED]


def test_failed_task_carries_failure_code(emulator):
    with client_for(emulator) as client:
        submitted = client.image_to_video(request(prompt_text="[emulator:fail=SAFETY.INPUT.TEXT]"))
        with pytest.raises(RunwayTaskFailedError) as info:
            client.wait_for_task(submitted.id, timeout=10)
    assert info.value.failure_code == "SAFETY.INPUT.TEXT" and not info.value.retryable
    assert str(info.value).startswith(f"Task {submitted.id} failed (SAFETY.INPUT.TEXT): ")


def test_wait_times_out(emulator):
    with client_for(emulator) as client:
        submitted = client.image_to_video(request())
        with pytest.raises(RunwayTaskTimeoutError, match="did not finish within 0.1s"):
            client.wait_for_task(submitted.id, timeout=0.1)


def test_api_400_is_not_retried_and_carries_the_api_message(emulator):
    bad = ImageToVideoRequest.model_construct(
        prompt_image=PNG, model="gen4_turbo", ratio="1280:768", duration=5
    )  # skips local validation: the emulator must refuse it on its own
    with client_for(emulator) as client, pytest.raises(RunwayBadRequestError) as info:
        client.image_to_video(bad)
    assert info.value.status_code == 400
    assert "1280:768" in str(info.value) and "ratio" in str(info.value)
    stats = emulator.stats()
    assert stats["posts"] == 1 and stats["tasks_created"] == 0


def test_wrong_key_is_401_and_never_echoed(emulator):
    client = RunwayClient("key_wrong_value", base_url=emulator.base_url)
    with client, pytest.raises(RunwayAuthenticationError) as info:
        client.image_to_video(request())
    assert info.value.status_code == 401 and "key_wrong_value" not in str(info.value)
    assert "key_wrong_value" not in repr(client)
    assert emulator.stats()["posts"] == 1


def test_unknown_task_is_404(emulator):
    with client_for(emulator) as client, pytest.raises(RunwayNotFoundError):
        client.get_task("00000000-0000-0000-0000-000000000000")


def test_503_then_success_creates_one_task(emulator):
    emulator.set_faults(Faults(rate_5xx=0.5, seed=3))
    with client_for(emulator, max_retries=10) as client:
        ids = {client.image_to_video(request(seed=i)).id for i in range(8)}
    stats = emulator.stats()
    assert len(ids) == 8 and stats["tasks_created"] == 8 and stats["duplicates"] == 0
    assert stats["rejected"]["fault_5xx"] > 0
    assert stats["posts"] == 8 + stats["rejected"]["fault_5xx"]


def test_429_honours_retry_after_then_gives_up(emulator, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("prefect_runway.api.client.time.sleep", sleeps.append)
    emulator.set_faults(Faults(rate_429=1.0, retry_after=0.2))
    with client_for(emulator, max_retries=2) as client:  # backoff_base=0.01: far from 0.2
        with pytest.raises(RunwayRateLimitError) as info:
            client.image_to_video(request())
    assert info.value.retry_after == pytest.approx(0.2)
    assert sleeps == [pytest.approx(0.2), pytest.approx(0.2)]  # the waits asked for, no jitter
    assert emulator.stats()["posts"] == 3 and emulator.stats()["tasks_created"] == 0


def test_retry_after_is_capped_at_backoff_max(emulator, monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr("prefect_runway.api.client.time.sleep", sleeps.append)
    emulator.set_faults(Faults(rate_429=1.0, retry_after=45))
    with client_for(emulator, max_retries=1, backoff_max=2.5) as client:
        with pytest.raises(RunwayRateLimitError):
            client.image_to_video(request())
    assert sleeps == [2.5]


async def test_async_client_waits_what_retry_after_asks(emulator, monkeypatch):
    sleeps: list[float] = []

    async def sleep(seconds):
        sleeps.append(seconds)

    monkeypatch.setattr("prefect_runway.api.client.asyncio", _AsyncioWithSleep(sleep))
    emulator.set_faults(Faults(rate_429=1.0, retry_after=0.3))
    async with async_client_for(emulator, max_retries=2, backoff_max=0.25) as client:
        with pytest.raises(RunwayRateLimitError):
            await client.image_to_video(request())
    assert sleeps == [0.25, 0.25]  # asked 0.3, capped at backoff_max


class _AsyncioWithSleep:
    """The asyncio module as the client sees it, with a recording sleep."""

    def __init__(self, sleep):
        import asyncio

        self._asyncio = asyncio
        self.sleep = sleep

    def __getattr__(self, name):
        return getattr(self._asyncio, name)


@pytest.mark.parametrize(("retry_after", "expected"), [(0.0, 0.0), (1.5, 1.5), (7, 7.0),
                                                        (600, 30.0)])
def test_delay_is_what_retry_after_asks_capped(retry_after, expected):
    client = RunwayClient(API_KEY, backoff_base=0.5, backoff_max=30.0, max_retries=3)
    error = RunwayRateLimitError("slow down", status_code=429, retry_after=retry_after)
    assert [client._delay(attempt, error) for attempt in (1, 2, 3, 4)] == [expected] * 3 + [None]
    plain = RunwayRateLimitError("slow down", status_code=429)  # no header: backoff + jitter
    assert 0.5 <= client._delay(1, plain) <= 0.75 and 1.0 <= client._delay(2, plain) <= 1.5


def test_resets_are_retried_without_duplicates(emulator):
    emulator.set_faults(Faults(rate_reset=0.25, seed=1))
    with client_for(emulator, max_retries=10) as client:
        for i in range(6):
            client.image_to_video(request(seed=i))
    stats = emulator.stats()
    assert stats["tasks_created"] == 6 and stats["rejected"]["fault_reset"] > 0


def test_lost_response_is_retried_and_reported_as_possible_duplicate(emulator):
    emulator.set_faults(Faults(rate_lost_response=1.0))
    with client_for(emulator, max_retries=1) as client:
        with pytest.raises(RunwayResponseLostError, match="the task may have been created"):
            client.image_to_video(request())
    assert emulator.stats()["tasks_created"] == 2 and emulator.stats()["duplicates"] == 1
    emulator.reset()
    emulator.set_faults(Faults(rate_lost_response=0.5, seed=2))
    with client_for(emulator, max_retries=10) as client:
        results = [client.image_to_video(request(seed=i)) for i in range(6)]
    flagged = sum(r.lost_responses for r in results)
    assert flagged == emulator.stats()["duplicates"] > 0  # every duplicate is visible


def test_lost_response_not_retried_when_disabled(emulator):
    emulator.set_faults(Faults(rate_lost_response=1.0))
    with client_for(emulator, retry_lost_responses=False) as client:
        with pytest.raises(RunwayResponseLostError):
            client.image_to_video(request())
    assert emulator.stats()["posts"] == 1


def test_malformed_json_is_an_unknown_outcome_under_the_lost_answer_policy(emulator):
    emulator.set_faults(Faults(rate_malformed=1.0))
    with client_for(emulator, retry_lost_responses=False) as client:
        with pytest.raises(RunwayProtocolError) as info:
            client.image_to_video(request())
    assert "not JSON: '<html>oops</html>'" in str(info.value)
    assert "A task may have been created; its ID could not be read" in str(info.value)
    assert info.value.answer == "<html>oops</html>" and info.value.lost_responses == 1
    assert emulator.stats()["posts"] == 1
    with client_for(emulator, max_retries=2) as client, pytest.raises(RunwayProtocolError):
        client.image_to_video(request())  # retried as a lost answer: counted, never hidden
    assert emulator.stats()["posts"] == 4


def test_server_error_exhausts_retries(emulator):
    emulator.set_faults(Faults(rate_5xx=1.0))
    with client_for(emulator, max_retries=2) as client, pytest.raises(RunwayServerError) as info:
        client.image_to_video(request())
    assert info.value.status_code in (502, 503, 504) and info.value.transient
    assert emulator.stats()["posts"] == 3


def test_connection_refused_is_a_connection_error():
    client = RunwayClient(API_KEY, base_url="http://127.0.0.1:9", max_retries=1, backoff_base=0.01)
    with client, pytest.raises(RunwayConnectionError, match="could not reach the API"):
        client.get_task("abc")


def test_organization(emulator):
    with client_for(emulator) as client:
        org = client.organization()
    assert org.credit_balance == 100000 and org.max_concurrent_generations("gen4_turbo") == 2


def test_upload_roundtrip_gives_a_usable_runway_uri(emulator):
    import base64

    data = base64.b64decode(PNG.split(",", 1)[1])
    with client_for(emulator) as client:
        uri = client.upload_image(data, "cat.png", "image/png")
        submitted = client.image_to_video(request(prompt_image=uri))
    assert uri.startswith("runway://") and submitted.id
    assert emulator.stats()["uploads"] == 1


@pytest.mark.parametrize("shape", ["wrapped", "state", "plain"])
def test_proxy_dialect_accepts_every_submit_shape(shape):
    with Emulator(api_key=API_KEY, dialect="proxy", proxy_submit_shape=shape,
                  generation_seconds=0.2) as emu:
        assert emu.base_url.endswith("/runwayml")
        with client_for(emu) as client:
            submitted = client.image_to_video(request())
            done = client.wait_for_task(submitted.id, timeout=10)
    assert done.status is TaskStatus.SUCCEEDED
    if shape == "wrapped":
        assert submitted.request_id


def test_proxy_wrapped_error_is_raised_with_message_and_request_id(proxy_emulator):
    proxy_emulator.set_faults(Faults(rate_wrapped_error=1.0))
    with client_for(proxy_emulator, max_retries=0) as client:
        with pytest.raises(RunwayServerError) as info:
            client.image_to_video(request())
    assert "proxy error code 500: upstream channel error" in str(info.value)
    assert info.value.request_id and info.value.request_id in str(info.value)


def test_proxy_validation_error_is_a_bad_request(proxy_emulator):
    bad = ImageToVideoRequest.model_construct(prompt_image=PNG, model="veo3.1", ratio="1280:720",
                                              duration=5)
    with client_for(proxy_emulator) as client, pytest.raises(RunwayBadRequestError) as info:
        client.image_to_video(bad)
    assert "duration" in str(info.value) and info.value.request_id


def test_proxy_fresh_task_404_is_polled_again():
    with Emulator(api_key=API_KEY, dialect="proxy", proxy_not_found_seconds=0.3,
                  generation_seconds=0.2) as emu:
        with client_for(emu) as client:
            submitted = client.image_to_video(request())
            done = client.wait_for_task(submitted.id, timeout=10, not_found_grace=2)
            with pytest.raises(RunwayNotFoundError):
                client.wait_for_task("missing-task", timeout=10, not_found_grace=0.1)
    assert done.status is TaskStatus.SUCCEEDED


def test_proxy_upload_is_refused_locally(proxy_emulator):
    with client_for(proxy_emulator) as client, pytest.raises(Exception, match="official dialect"):
        client.upload_image(b"x", "a.png", "image/png")


def test_key_from_environment_and_missing_key(monkeypatch, emulator):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    with RunwayClient() as client:
        assert client.organization().credit_balance
    monkeypatch.delenv("RUNWAYML_API_SECRET")
    with pytest.raises(RunwayAuthenticationError, match="RUNWAYML_API_SECRET"):
        RunwayClient()


def test_official_host_keeps_the_five_second_poll_floor():
    client = RunwayClient("k", poll_interval=0.1)
    assert client.poll_interval == 5.0 and client.base_url == "https://api.dev.runwayml.com"
    assert client.max_retries == 5


# -- defects found while testing the API contract --------------------------------------------

OFFICIAL = "https://api.dev.runwayml.com"
TASK = {"id": "t-ok", "status": "SUCCEEDED", "output": ["https://cdn.example.com/v.mp4"]}


async def test_one_malformed_poll_answer_fails_only_its_own_task():
    with respx.mock(base_url="https://proxy.example.com") as mock:
        mock.get("/v1/tasks/t-ok").respond(200, json=TASK)
        mock.get("/v1/tasks/t-bad").respond(200, json={"id": "t-bad", "status": 42})
        async with AsyncRunwayClient(API_KEY, base_url="https://proxy.example.com",
                                     poll_interval=0.01) as client:
            results = await client.wait_for_tasks(["t-ok", "t-bad"], timeout=5)
    assert results["t-ok"].status is TaskStatus.SUCCEEDED
    assert isinstance(results["t-bad"], RunwayProtocolError)
    assert str(results["t-bad"]) == "Unreadable task answer (bad fields: status)"


def test_proxy_wrapped_task_answer_is_unwrapped():
    wrapped = {"code": 200, "message": "success", "request_id": "r1",
               "data": {"task_id": "t1", "task_status": "running", "progress": 0.5}}
    with respx.mock(base_url="https://proxy.example.com/runwayml") as mock:
        mock.get("/v1/tasks/t1").respond(200, json=wrapped)
        with RunwayClient(API_KEY, base_url="https://proxy.example.com/runwayml",
                          dialect="proxy") as client:
            task = client.get_task("t1")
    assert (task.id, task.status, task.progress) == ("t1", TaskStatus.RUNNING, 0.5)


@pytest.mark.parametrize(("code", "error"), [("429", RunwayRateLimitError),
                                             ("503", RunwayServerError)])
def test_proxy_string_codes_are_transient_and_retried(code, error):
    wrapped = {"code": code, "message": "busy", "request_id": "r1", "data": None}
    with respx.mock(base_url="https://proxy.example.com/runwayml") as mock:
        route = mock.get("/v1/tasks/t1").respond(200, json=wrapped)
        with RunwayClient(API_KEY, base_url="https://proxy.example.com/runwayml",
                          dialect="proxy", max_retries=2, backoff_base=0.001) as client:
            with pytest.raises(error) as info:
                client.get_task("t1")
    assert info.value.transient and info.value.status_code == int(code)
    assert route.call_count == 3


def test_per_call_poll_interval_keeps_the_five_second_floor(monkeypatch):
    sleeps = []
    monkeypatch.setattr("prefect_runway.api.client.time.sleep", sleeps.append)
    answers = iter([{"id": "t1", "status": "RUNNING"}, TASK | {"id": "t1"}])
    with respx.mock(base_url=OFFICIAL) as mock:
        mock.get("/v1/tasks/t1").mock(side_effect=lambda _: httpx.Response(200, json=next(answers)))
        with RunwayClient(API_KEY) as client:
            client.wait_for_task("t1", poll_interval=0.01, timeout=60)
    assert sleeps == [5.0]


def test_connection_error_names_the_url_without_query():
    client = RunwayClient(API_KEY, base_url="http://127.0.0.1:9", max_retries=0)
    with client, pytest.raises(RunwayConnectionError) as info:
        client.get_task("abc")
    assert "GET http://127.0.0.1:9/v1/tasks/abc could not reach the API" in str(info.value)


def test_retired_model_is_refused_locally_on_the_official_dialect(emulator):
    retired = request(model="veo3", duration=8)
    with client_for(emulator) as client, pytest.raises(ValueError) as info:
        client.image_to_video(retired)
    assert str(info.value) == (
        "model 'veo3' was retired from Runway's official API (SDK 5.14 (2026-08)); use veo3.1 "
        "instead, or a proxy that still serves it (dialect 'proxy')"
    )
    assert emulator.stats()["posts"] == 0


def test_retired_model_still_works_on_the_proxy_dialect(proxy_emulator):
    seed_request = request(model="gen3a_turbo", ratio="1280:768", duration=10,
                           prompt_text="slow dolly zoom")
    with client_for(proxy_emulator) as client:
        submitted = client.image_to_video(seed_request)
    assert submitted.id and proxy_emulator.tasks()[0]["model"] == "gen3a_turbo"


def test_submitted_task_records_the_estimated_cost(emulator):
    with client_for(emulator) as client:
        submitted = client.image_to_video(request(model="veo3.1", duration=6, audio=False))
    assert submitted.estimated_cost_credits == submitted.estimated_credits == 120


SIGNED_OUTPUT = "https://cdn.example.com/out/v.mp4?exp=1700000000&sig=c2VjcmV0LXNpZ25hdHVyZQ"


@pytest.mark.parametrize(("status", "error", "hint"), [
    (403, RunwayAuthenticationError, " (output URLs expire: fetch the task again for fresh ones)"),
    (404, RunwayNotFoundError, ""),
    (503, RunwayServerError, ""),
])  # fmt: skip
def test_download_errors_name_the_url_without_its_signature(status, error, hint):
    with respx.mock() as mock:
        mock.get(SIGNED_OUTPUT).respond(status)
        with RunwayClient(API_KEY) as client, pytest.raises(error) as info:
            client.download(SIGNED_OUTPUT, io.BytesIO())
    assert str(info.value) == (
        f"Download of https://cdn.example.com/out/v.mp4?<redacted> failed with HTTP {status}"
        f"{hint} (HTTP {status})"
    )
    assert "c2VjcmV0" not in repr(info.value.args) and info.value.status_code == status

