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
import socket  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from prefect_runway.testing.emulator import Emulator  # noqa: E402

API_KEY = "key_emulator_secret_1234567890"
BUCKET = "stills"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


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
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def runway(monkeypatch):
    """An emulator that RunwayCredentials() finds through the environment."""
    with Emulator(api_key=API_KEY, concurrency=4, generation_seconds=0.3) as emu:
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
        yield emu


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


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


def contenders(calls: list[tuple[str, str, bool]]) -> int:
    """The most holders that asked for one key: 2 once a second run reached a held lock."""
    holders: dict[str, set[str]] = {}
    for key, holder, _ in list(calls):
        holders.setdefault(key, set()).add(holder)
    return max((len(h) for h in holders.values()), default=0)


# The slow lane (`make test-all`, which CI runs): whole programs in subprocesses (the demo,
# the docs as pasted, deployments with a worker, two hosts, the built wheel, a first run on a
# busy machine) and the long reliability runs. `make test` is the rest, in a few minutes.
SLOW_FILES = {
    "test_demo.py", "test_docs.py", "test_deployments.py", "test_multihost.py", "test_wheel.py",
    "test_reliability.py",
}
SLOW_TESTS = {"test_a_first_run_on_a_busy_machine_does_not_time_out"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.path.name in SLOW_FILES or item.originalname in SLOW_TESTS:
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
