"""Daily generation limits: the emulator's rolling window and clock, the client's error class.

Everything runs over real HTTP on loopback: the emulator, plus a bare stdlib server where a
test needs a 429 the emulator would not send.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from prefect_runway import (
    AsyncRunwayClient,
    ImageToVideoRequest,
    Organization,
    RunwayClient,
    RunwayDailyLimitError,
    RunwayError,
    RunwayRateLimitError,
)
from prefect_runway.errors import is_transient
from prefect_runway.testing.emulator import Emulator, Faults
from tests._support.processes import free_port
from tests.conftest import API_KEY

PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAYAAAAGCAIAAABvrngfAAAAKklEQVR42mP4HxUFRCe4uOCIASKELMoAxGiiDBAKWZQBrh4uyoBsMEQIAPuBLGHw9EwnAAAAAElFTkSuQmCC"  # noqa: E501
DAY = 86400


def request(model: str = "gen4_turbo", seed: int | None = None) -> ImageToVideoRequest:
    return ImageToVideoRequest(prompt_image=PNG, model=model, ratio="1280:720", duration=5,
                               seed=seed)  # fmt: skip


def client_for(base_url: str, dialect: str = "runway", **kwargs) -> RunwayClient:
    return RunwayClient(API_KEY, base_url=base_url, dialect=dialect, poll_interval=0.05,
                        backoff_base=0.01, **kwargs)  # fmt: skip


@pytest.fixture
def tier1(make_emulator) -> Emulator:
    """A tier-1-like emulator: 3 generations a day per model, one at a time."""
    return make_emulator(daily_limit=3, concurrency=1, generation_seconds=0.2)


# -- the emulator ---------------------------------------------------------------------------


def test_daily_limit_answers_429_naming_the_limit_per_model(tier1):
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
    body = request().to_wire()
    answers = [httpx.post(tier1.base_url + "/v1/image_to_video", json=body, headers=headers)
               for _ in range(4)]  # fmt: skip
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    error = answers[-1].json()["error"]
    assert "daily" in error and "gen4_turbo" in error and "3" in error
    # The limit is per model: gen4.5 still has its whole day.
    other = {**body, "model": "gen4.5", "promptText": "a slow pan"}
    assert httpx.post(tier1.base_url + "/v1/image_to_video", json=other,
                      headers=headers).status_code == 200  # fmt: skip
    stats = tier1.stats()
    assert stats["tasks_created"] == 4 and stats["rejected"] == {"daily_limit": 1}


def test_organization_reports_limit_and_usage_in_the_rolling_window(tier1):
    with client_for(tier1.base_url) as client:
        assert client.organization().remaining_daily("gen4_turbo") == 3
        client.image_to_video(request())
        tier1.advance_clock(DAY / 2)
        client.image_to_video(request())
        org = client.organization()
        assert org.max_daily_generations("gen4_turbo") == 3
        assert org.daily_generations("gen4_turbo") == 2
        assert org.remaining_daily("gen4_turbo") == 1
        assert org.remaining_daily("gen4.5") == 3
        # Half a day later the first generation has left the window, the second has not.
        tier1.advance_clock(DAY / 2)
        assert client.organization().daily_generations("gen4_turbo") == 1


def test_clock_endpoint_opens_tomorrows_window(tier1):
    with client_for(tier1.base_url) as client:
        for _ in range(3):
            client.image_to_video(request())
        with pytest.raises(RunwayDailyLimitError):
            client.image_to_video(request())
        answer = httpx.post(tier1.root_url + "/_emulator/clock", json={"advance_seconds": DAY})
        assert answer.status_code == 200 and answer.json()["offset_seconds"] == DAY
        assert client.image_to_video(request()).id
    assert tier1.stats()["clock_offset"] == DAY


@pytest.mark.parametrize(
    "payload", [{"advance_seconds": -1}, {"advance_seconds": "1"}, {"seconds": 1}, [1]]
)
def test_clock_endpoint_refuses_bad_changes(tier1, payload):
    answer = httpx.post(tier1.root_url + "/_emulator/clock", json=payload)
    assert answer.status_code == 400 and "advance_seconds" in answer.json()["error"]
    assert httpx.get(tier1.root_url + "/_emulator/clock").json()["offset_seconds"] == 0


def test_generation_and_url_expiry_follow_the_clock():
    with Emulator(api_key=API_KEY, generation_seconds=3600, output_url_ttl=7200) as emu:
        with client_for(emu.base_url) as client:
            task_id = client.image_to_video(request()).id
            assert client.get_task(task_id).status.value == "RUNNING"
            emu.advance_clock(1800)
            assert client.get_task(task_id).progress == pytest.approx(0.5, abs=0.01)
            emu.advance_clock(1800)
            done = client.get_task(task_id)
            assert done.status.value == "SUCCEEDED"
            assert client.download(done.output[0], io.BytesIO())[0] > 0
            emu.advance_clock(7201)  # the URL handed out above has expired
            with pytest.raises(RunwayError) as info:
                client.download(done.output[0], io.BytesIO())
            assert info.value.status_code == 403 and "exp=" not in str(info.value)
            fresh = client.get_task(task_id)  # fetching the task again gives a fresh URL
            assert client.download(fresh.output[0], io.BytesIO())[0] > 0
    assert emu.stats()["downloads"] == 2


def test_daily_limit_is_off_with_none_and_reported_as_null():
    with Emulator(api_key=API_KEY, daily_limit=None) as emu, client_for(emu.base_url) as client:
        org = client.organization()
    assert org.tier["models"]["gen4_turbo"]["maxDailyGenerations"] is None
    assert org.remaining_daily("gen4_turbo") is None


def test_cli_daily_limit_flag():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect_runway.testing.emulator", "--port", str(port), "--api-key",
         API_KEY, "--daily-limit", "1"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert "listening" in (proc.stdout.readline() if proc.stdout else "")
        with client_for(f"http://127.0.0.1:{port}") as client:
            client.image_to_video(request())
            with pytest.raises(RunwayDailyLimitError):
                client.image_to_video(request())
            assert client.organization().remaining_daily("gen4_turbo") == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the client -----------------------------------------------------------------------------


def test_daily_limit_error_is_never_retried_in_either_dialect(tier1):
    with Emulator(api_key=API_KEY, dialect="proxy", daily_limit=1) as proxy:
        for emu in (tier1, proxy):
            with client_for(emu.base_url, emu.dialect, max_retries=5) as client:
                for _ in range(emu.daily_limit or 0):
                    client.image_to_video(request())
                posts = emu.stats()["posts"]
                with pytest.raises(RunwayDailyLimitError) as info:
                    client.image_to_video(request())
                assert emu.stats()["posts"] == posts + 1  # one request, no backoff retries
                error = info.value
                assert not is_transient(error) and isinstance(error, RunwayRateLimitError)
                assert error.status_code == 429 and "daily" in str(error)


async def test_async_client_maps_the_daily_limit_too(tier1):
    async with AsyncRunwayClient(API_KEY, base_url=tier1.base_url, backoff_base=0.01) as client:
        for _ in range(3):
            await client.image_to_video(request())
        with pytest.raises(RunwayDailyLimitError):
            await client.image_to_video(request())


def test_injected_too_many_requests_stays_transient_on_the_official_dialect():
    faults = Faults(rate_429=1.0, retry_after=0.01)
    with Emulator(api_key=API_KEY, faults=faults) as emu:
        with client_for(emu.base_url, max_retries=2) as client:
            with pytest.raises(RunwayRateLimitError) as info:
                client.image_to_video(request())
        assert type(info.value) is RunwayRateLimitError and is_transient(info.value)
        assert emu.stats()["posts"] == 3  # the first attempt and two retries


class _Bare429(BaseHTTPRequestHandler):
    """Answers every request 429 with an empty JSON body: a 429 nobody explains."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts += 1  # type: ignore[attr-defined]
        self.send_response(429)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def bare_429() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bare429)
    server.posts = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_unexplained_429_on_create_is_the_daily_limit_officially_but_transient_on_proxies(
    bare_429,
):
    url = f"http://127.0.0.1:{bare_429.server_address[1]}"
    with client_for(url, max_retries=2) as client:
        with pytest.raises(RunwayDailyLimitError) as info:
            client.image_to_video(request())
    assert bare_429.posts == 1 and "gen4_turbo" in str(info.value)
    with client_for(url + "/runwayml", "proxy", max_retries=2) as client:
        started = time.monotonic()
        with pytest.raises(RunwayRateLimitError) as proxied:
            client.image_to_video(request())
    assert type(proxied.value) is RunwayRateLimitError and bare_429.posts == 1 + 3
    assert time.monotonic() - started < 5


def test_organization_without_limits_reports_none():
    org = Organization.model_validate({"creditBalance": 10})
    assert org.max_daily_generations("gen4_turbo") is None
    assert org.daily_generations("gen4_turbo") == 0 and org.remaining_daily("gen4_turbo") is None


def test_a_tier1_batch_driven_day_by_day_with_the_clock():
    """The emulator side of benchmark P5: 120 images at 50 a day finish on the third day, with
    no 429 at all when the quota is read first, and at most one per day when it is not."""
    with Emulator(api_key=API_KEY, daily_limit=50, concurrency=1, generation_seconds=0.01,
                  credit_balance=10**6) as emu:  # fmt: skip
        for read_quota in (True, False):
            emu.reset()
            left, days, refusals = 120, 0, []
            with client_for(emu.base_url) as client:
                while left:
                    days += 1
                    before = emu.stats()["rejected"].get("daily_limit", 0)
                    org = client.organization()
                    allowed = org.remaining_daily("gen4_turbo") if read_quota else None
                    for _ in range(min(left, allowed if allowed is not None else left)):
                        try:
                            client.image_to_video(request(seed=left))
                        except RunwayDailyLimitError:
                            break
                        left -= 1
                    refusals.append(emu.stats()["rejected"].get("daily_limit", 0) - before)
                    emu.advance_clock(DAY)
            stats = emu.stats()
            assert days == 3 and stats["tasks_created"] == 120 and stats["duplicates"] == 0
            assert refusals == ([0, 0, 0] if read_quota else [1, 1, 0])


def test_reset_clears_daily_usage_and_keeps_the_clock(tier1):
    with client_for(tier1.base_url) as client:
        for _ in range(3):
            client.image_to_video(request())
        tier1.advance_clock(60)
        httpx.post(tier1.root_url + "/_emulator/reset")
        assert client.organization().remaining_daily("gen4_turbo") == 3
    assert tier1.stats()["clock_offset"] == 60
