"""Ports and subprocesses: a free port, a process group run and stopped with all it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def descendants(pid: int) -> list[int]:
    """Live descendants of `pid` (from /proc; none where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill(pid: int, sig: int, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `args` from the repository root in a new process group; stop it and all it started."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        stop_tree(proc)


def stop_tree(proc: subprocess.Popen) -> None:
    """Stop `proc`, its process group and every process it started, however they detached."""
    # A worker starts each flow run in a session of its own: collect those first.
    spawned = descendants(proc.pid)
    kill(proc.pid, signal.SIGTERM, group=True)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill(proc.pid, signal.SIGKILL, group=True)
        proc.wait(timeout=10)
    for pid in spawned + descendants(proc.pid):
        kill(pid, signal.SIGKILL)
    kill(proc.pid, signal.SIGKILL, group=True)  # anything left in the group


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start_redis(folder: Path) -> Iterator[str]:
    """A real redis-server on a free port (no persistence) while iterated; yields its URL."""
    import shutil

    import redis

    server: Any = shutil.which("redis-server")
    port = free_port()
    args = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(folder)]  # fmt: skip
    with running(args, dict(os.environ), folder / "redis.log"):
        client = redis.Redis(port=port)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        deadline = time.monotonic() + 20
        while not ready():
            assert time.monotonic() < deadline, "timed out waiting for redis-server"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
        client.close()


PREFECT = [sys.executable, "-m", "prefect"]
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def prefect(env: dict[str, str], *args: str) -> str:
    """One Prefect CLI command from the repository root; its output, or the test fails."""
    done = subprocess.run(
        [*PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout
