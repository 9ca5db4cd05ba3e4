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
        # Subprocesses of the tests start their own temporary servers on a fresh database:
        # Prefect's 20 s default fails on a busy 2-core machine.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    }
)
os.environ.pop("RUNWAYML_API_SECRET", None)
os.environ.pop("RUNWAYML_BASE_URL", None)

import logging  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import ExitStack  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402

from prefect_runway.testing.emulator import Emulator  # noqa: E402
from tests._support import API_KEY, BUCKET  # noqa: E402
from tests._support import s3 as s3_support  # noqa: E402
from tests._support.locks import contenders  # noqa: E402
from tests._support.processes import free_port, start_redis, wait_until  # noqa: E402

__all__ = ["API_KEY", "BUCKET", "contenders", "free_port", "wait_until"]


@pytest.fixture
def make_emulator(monkeypatch) -> Callable[..., Emulator]:
    """A factory of started emulators, each stopped at teardown:
    `make_emulator(env=False, **options)`, options as for `Emulator` (api_key defaults to
    API_KEY). With env=True, RUNWAYML_API_SECRET / RUNWAYML_BASE_URL point at it for the test
    (what `RunwayCredentials()` finds)."""
    with ExitStack() as stack:

        def make(env: bool = False, **options) -> Emulator:
            options.setdefault("api_key", API_KEY)
            emu = stack.enter_context(Emulator(**options))
            if env:
                if options["api_key"] is not None:
                    monkeypatch.setenv("RUNWAYML_API_SECRET", options["api_key"])
                monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
            return emu

        yield make


@pytest.fixture
def emulator(make_emulator):
    """A fresh official-dialect emulator with fast generations."""
    return make_emulator(generation_seconds=0.3, concurrency=2)


@pytest.fixture
def proxy_emulator(make_emulator):
    """A fresh proxy-dialect emulator (wrapped answers)."""
    return make_emulator(dialect="proxy", generation_seconds=0.3)


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server (temporary SQLite database) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield


@pytest.fixture
def credentials(emulator):
    """A credentials block pointing at the emulator, polling fast."""
    from pydantic import SecretStr

    from prefect_runway import RunwayCredentials

    return RunwayCredentials(
        api_key=SecretStr(API_KEY), base_url=emulator.base_url, poll_interval=0.05
    )


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server for the whole session: its endpoint URL (subprocesses reach it too)."""
    with s3_support.moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto_server, monkeypatch):
    """boto3's standard chain pointed at moto by AWS_ENDPOINT_URL, with a fresh bucket."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    s3_support.empty_bucket(client, BUCKET)


@pytest.fixture
def runway(make_emulator):
    """An emulator that RunwayCredentials() finds through the environment."""
    return make_emulator(env=True, concurrency=4, generation_seconds=0.3)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free port (no persistence), for a module; its URL. Skips
    without Debian's redis-server package."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not found: install Debian's redis-server package to run "
                    "these tests")
    yield from start_redis(tmp_path_factory.mktemp("redis"))


@pytest.fixture
def lock_calls(monkeypatch):
    """Every `SubmissionLockManager.try_acquire` call in this process, as (key, holder,
    taken), in order: lets a test see a second run reach a lock the first one holds."""
    from prefect_runway.ledger.locks import SubmissionLockManager

    calls: list[tuple[str, str, bool]] = []
    real = SubmissionLockManager.try_acquire

    def spy(self, key, holder, hold_timeout=None):
        taken = real(self, key, holder, hold_timeout)
        calls.append((key, holder, taken))
        return taken

    monkeypatch.setattr(SubmissionLockManager, "try_acquire", spy)
    return calls


# The slow lane (`make test-all`, which CI runs): whole programs in subprocesses (the demo,
# the docs as pasted, deployments with a worker, two hosts, the built wheel, every flow module's
# --help, a first run on a busy machine), the fault-injection runs of tests/reliability/, the
# SDK's generated tests, the docstring examples and the multi-day batches. `make test` is the
# rest: every module's own tests, in under five minutes.
SLOW_DIRS = {"reliability", "sdk"}
SLOW_FILES = {
    "test_demo.py", "test_docs.py", "test_deployments.py", "test_multihost.py", "test_wheel.py",
    "test_first_run.py", "test_deferral.py",
}
SLOW_TESTS = {"test_example_runs_as_written"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if (item.path.parent.name in SLOW_DIRS or item.path.name in SLOW_FILES
                or item.originalname in SLOW_TESTS):  # fmt: skip
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line when the multi-machine tests (tests/test_multihost.py) were skipped."""
    import shutil

    if shutil.which("redis-server") is None:
        terminalreporter.write_line(
            "redis-server not found: the multi-machine tests were skipped "
            "(apt-get install redis-server; .ci/run installs it)"
        )


@pytest.fixture
def run_logs():
    """Messages logged by Prefect flow and task runs in this test (their run loggers do not
    always propagate to pytest's caplog)."""
    import prefect.main  # noqa: F401  # sets up Prefect's logging, dropping handlers added before

    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    for logger in loggers:
        logger.addHandler(handler)
    yield messages
    for logger in loggers:
        logger.removeHandler(handler)
