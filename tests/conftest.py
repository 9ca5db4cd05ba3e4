"""Shared fixtures: the emulator over loopback, an isolated Prefect test harness."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Isolate Prefect before it is imported anywhere: a private home, results in a temp dir,
# no telemetry, no network.
_HOME = Path(tempfile.mkdtemp(prefix="prefect-runway-tests-"))
os.environ.update(
    {
        "PREFECT_HOME": str(_HOME),
        "PREFECT_LOCAL_STORAGE_PATH": str(_HOME / "storage"),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
)
os.environ.pop("RUNWAYML_API_SECRET", None)
os.environ.pop("RUNWAYML_BASE_URL", None)

import pytest  # noqa: E402

from prefect_runway.emulator import Emulator  # noqa: E402

API_KEY = "key_emulator_secret_1234567890"


@pytest.fixture
def emulator():
    """A fresh official-dialect emulator with fast generations."""
    with Emulator(api_key=API_KEY, generation_seconds=0.3, concurrency=2) as emu:
        yield emu


@pytest.fixture
def proxy_emulator():
    """A fresh proxy-dialect emulator (wrapped answers)."""
    with Emulator(api_key=API_KEY, dialect="proxy", generation_seconds=0.3) as emu:
        yield emu


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server (temporary SQLite database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def credentials(emulator):
    """A credentials block pointing at the emulator, polling fast."""
    from pydantic import SecretStr

    from prefect_runway import RunwayCredentials

    return RunwayCredentials(
        api_key=SecretStr(API_KEY), base_url=emulator.base_url, poll_interval=0.05
    )
