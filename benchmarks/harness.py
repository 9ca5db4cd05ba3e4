"""Shared parts of the benchmarks: the emulator and moto in their own processes, a warm
Prefect server, timing and the README table."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
API_KEY = "key_benchmark_emulator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextmanager
def _service(args: list[str], health_path: str, port: int) -> Iterator[str]:
    """Run a server in its own process group until the block ends; yields its root URL."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}{health_path}")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def emulator_process(**options: Any) -> Any:
    """The emulator in its own process (so its threads do not share our GIL); yields its URL."""
    port = free_port()
    args = [sys.executable, "-m", "prefect_runway.testing.emulator", "--port", str(port),
            "--api-key", API_KEY]  # fmt: skip
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    return _service(args, "/_emulator/health", port)


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_emulator/stats").json()  # type: ignore[no-any-return]


def reset(url: str) -> None:
    httpx.post(f"{url}/_emulator/reset")


def advance_clock(url: str, seconds: float) -> float:
    """Move the emulator's clock forward (a day: 86400); returns its total offset in seconds."""
    answer = httpx.post(f"{url}/_emulator/clock", json={"advance_seconds": seconds})
    answer.raise_for_status()
    return float(answer.json()["offset_seconds"])


def moto_process() -> Any:
    """moto's S3 server in its own process; yields its endpoint URL."""
    port = free_port()
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return _service(args, "/moto-api/", port)


@contextmanager
def warm_prefect() -> Iterator[float]:
    """A Prefect server with a fresh database, started once; yields its start-up seconds."""
    from prefect.testing.utilities import prefect_test_harness

    start = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        yield time.perf_counter() - start


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"


def save(name: str, data: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")


def update_readme(rows: list[str]) -> None:
    """Replace the table between the benchmark markers in README.md."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    table = "\n".join(rows)
    new = re.sub(
        r"(<!-- bench:start -->\n).*?(\n<!-- bench:end -->)",
        lambda m: m.group(1) + table + m.group(2),
        text,
        flags=re.S,
    )
    readme.write_text(new)
