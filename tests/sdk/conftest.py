"""Fixtures for the official SDK's generated tests, run against the emulator offline.

The SDK's tests (fetched from its pinned sdist at test time by ``fetch.py``, collected in
``test_generated.py``) call a mock server at ``TEST_API_BASE_URL``; here the emulator plays it,
started without URL fetching (their image URLs point at example.com) and with the key the
tests use. The SDK (pinned to the version the rules table was generated from) is a dev
dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import runwayml

from prefect_runway.testing.emulator import Emulator

SDK_API_KEY = "My API Key"
SDK_TASK_ID = "182bd5e5-6e1a-4fe4-a799-aa6d9a6ab26e"
"""The task ID ``test_tasks.py`` polls and deletes (the SDK's mock server knows every ID)."""


@pytest.fixture(scope="module")
def sdk_emulator() -> Iterator[Emulator]:
    """An official-dialect emulator that never fetches image URLs (``--no-fetch-urls``)."""
    with Emulator(api_key=SDK_API_KEY, fetch_urls=False, generation_seconds=0.1,
                  concurrency=4, credit_balance=10**9) as emu:
        yield emu


@pytest.fixture
def client(request: pytest.FixtureRequest, sdk_emulator: Emulator) -> Iterator[Any]:
    strict = getattr(request, "param", True)
    with runwayml.RunwayML(base_url=sdk_emulator.base_url, api_key=SDK_API_KEY,
                           _strict_response_validation=strict) as sdk:
        yield sdk


@pytest.fixture
async def async_client(request: pytest.FixtureRequest,
                       sdk_emulator: Emulator) -> AsyncIterator[Any]:
    param = getattr(request, "param", True)
    strict, http_client = True, None
    if isinstance(param, bool):
        strict = param
    elif isinstance(param, dict):
        strict = param.get("strict", True)
        if param.get("http_client") == "aiohttp":
            pytest.importorskip("httpx_aiohttp")  # the SDK's optional aiohttp transport
            http_client = runwayml.DefaultAioHttpClient()
    async with runwayml.AsyncRunwayML(base_url=sdk_emulator.base_url, api_key=SDK_API_KEY,
                                      _strict_response_validation=strict,
                                      http_client=http_client) as sdk:
        yield sdk


@pytest.fixture(autouse=True)
def sdk_task(request: pytest.FixtureRequest) -> None:
    """A task of the ID the tasks tests name, created afresh before each of them (the previous
    test may have deleted it); other tests create their own."""
    if request.node.cls is None or request.node.cls.__name__ not in ("TestTasks",
                                                                     "TestAsyncTasks"):
        return
    emulator = request.getfixturevalue("sdk_emulator")
    emulator.add_task("/v1/text_to_video", {"model": "gen4.5", "promptText": "x",
                                            "ratio": "1280:720", "duration": 5},
                      task_id=SDK_TASK_ID)
