"""Every ``python`` and ``bash`` block of README.md and deployments/README.md runs as pasted.

Each document is read like a reader at a terminal would: its blocks run in order, from the
repository root, in one shell session whose exported variables carry over from block to block;
a ``python`` block is piped into that shell's ``python -``. The session starts from a clean
environment (no PREFECT_*, AWS_* or RUNWAYML_* variables of the test run) with a temporary
PREFECT_HOME standing for the reader's ``~/.prefect``, so everything a block needs must be set by
an earlier block, as the text tells the reader to.

Markers, as HTML comments on the lines right before a fence (invisible on GitHub):

- ``<!-- illustrative: why -->``: not run; its test is skipped, with the reason.
- ``<!-- background: URL ... -->``: servers the reader leaves running in another terminal. The
  block is started in the background, awaited until every URL answers, and stopped (with
  everything it started) when the document is done.
- ``<!-- expect: text -->``: the block's output must contain ``text``.

The one rewrite: the local servers' documented ports (Prefect 4200, moto 5000, the emulator
8008) become free ports, so that runs on a shared machine do not collide. Every block must
also look successful: exit code 0, no ERROR line, no traceback.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from prefect_runway.testing.emulator.cli import build_parser
from tests._support.docs import Block, read_blocks
from tests._support.processes import free_port, stop_tree

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("README.md", "deployments/README.md")
PORTS = (4200, 5000, 8008)
_PORT = re.compile(r"(?<=[:\s])(4200|5000|8008)\b")
_BAD_OUTPUT = re.compile(r"^.*(\bERROR\b|Traceback \(most recent call last\)).*$", re.MULTILINE)
BLOCK_TIMEOUT = 240.0
BLOCKS = [block for doc in DOCS for block in read_blocks(doc)]


class Session:
    """One reader's shell for one document: exported variables, background servers, ports."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = {port: free_port() for port in PORTS}
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "AWS_", "RUNWAYML_")) and k != "DO_NOT_TRACK"
        }
        # The venv's tools on PATH (as after `source .venv/bin/activate`); a fresh Prefect home.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PREFECT_HOME"] = str(tmp / "prefect-home")
        self.env = env
        self.background: list[tuple[subprocess.Popen, Path]] = []
        self.failed: str | None = None

    def rewrite(self, text: str) -> str:
        return _PORT.sub(lambda m: str(self.ports[int(m[1])]), text)

    def run(self, block: Block) -> str:
        """Run `block` in this session; its output, or the test fails."""
        code = self.rewrite(block.code)
        if "background" in block.marks:
            return self._start(block, code, self.rewrite(block.marks["background"][0]).split())
        env_file = self.tmp / "env"
        if block.lang == "bash":
            script, stdin = f"set -eo pipefail\n{code}\nenv -0 > {env_file}\n", None
        else:
            script, stdin = "python -", code
        done = subprocess.run(
            ["bash", "-c", script], input=stdin, cwd=ROOT, env=self.env, text=True,
            capture_output=True, timeout=BLOCK_TIMEOUT,
        )  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{block.id} exited {done.returncode}:\n{output}"
        if block.lang == "bash":  # what the block exported stays for the next blocks
            pairs = env_file.read_text().split("\0")
            self.env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
            for name in ("_", "SHLVL", "OLDPWD"):
                self.env.pop(name, None)
        return output

    def _start(self, block: Block, code: str, urls: list[str]) -> str:
        log = self.tmp / f"background-{block.line}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", code], cwd=ROOT, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.background.append((proc, log))
        deadline = time.monotonic() + 120
        waiting = list(urls)
        while True:
            text = log.read_text(errors="replace")
            assert proc.poll() is None, f"{block.id} exited {proc.returncode}:\n{text}"
            assert time.monotonic() < deadline, f"{block.id}: {waiting} never answered:\n{text}"
            try:
                if httpx.get(waiting[0], timeout=2).status_code < 500:
                    waiting.pop(0)
            except httpx.TransportError:
                time.sleep(0.2)
            if not waiting:
                return text

    def close(self) -> str:
        """Stop the background servers, last started first; the whole log of each that
        printed an error while the document ran.

        What a server prints after it was told to stop (Ctrl-C in the document) is shown as
        a warning, not judged: under a loaded CI machine Prefect's server once logged an
        error while shutting down, which no reader's run depends on.
        """
        bad = []
        for proc, log in reversed(self.background):
            running = log.read_text(errors="replace")  # everything before the stop
            stop_tree(proc)
            text = log.read_text(errors="replace")
            if _BAD_OUTPUT.search(running):  # the whole log: the error alone rarely says why
                bad.append(f"--- {log.name} ---\n{text}")
            elif _BAD_OUTPUT.search(text[len(running):]):
                warnings.warn(f"{log.name} printed an error while stopping:\n{text[len(running):]}",
                              stacklevel=1)  # fmt: skip
        self.background.clear()
        return "\n".join(bad)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    opened: dict[str, Session] = {}
    yield lambda doc: opened.setdefault(
        doc, Session(tmp_path_factory.mktemp(Path(doc).stem.lower()))
    )
    for session in opened.values():
        session.close()


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_block_runs_as_pasted(block, sessions):
    if "illustrative" in block.marks:
        pytest.skip(f"illustrative: {block.marks['illustrative'][0]}")
    session = sessions(block.doc)
    if session.failed:
        pytest.skip(f"an earlier block of {block.doc} failed ({session.failed})")
    session.failed = block.id
    output = session.run(block)
    bad = [m.group(0) for m in _BAD_OUTPUT.finditer(output)]
    assert not bad, f"{block.id} printed:\n" + "\n".join(bad) + f"\n\n{output}"
    for text in block.marks.get("expect", []):
        assert session.rewrite(text) in output, f"{block.id}: {text!r} not in:\n{output}"
    session.failed = None
    runnable = [b.id for b in BLOCKS if b.doc == block.doc and "illustrative" not in b.marks]
    if block.id == runnable[-1]:
        # The document is done: its servers stop, and their logs must be clean too.
        failed = session.close()
        assert not failed, f"{block.doc}: a background server printed an error:\n{failed}"


def test_docs_mark_only_what_cannot_run_here():
    """The quickstart and the main commands really run: most blocks are not illustrative."""
    for doc in DOCS:
        blocks = [block for block in BLOCKS if block.doc == doc]
        runnable = [block for block in blocks if "illustrative" not in block.marks]
        assert len(runnable) >= len(blocks) / 2, doc
    readme = " ".join(
        b.code for b in BLOCKS if b.doc == "README.md" and "illustrative" not in b.marks
    )
    assert "RunwayCredentials()" in readme and 'RunwayCredentials.load("runway")' in readme


# -- the emulator's command line ---------------------------------------------------------------


def test_emulator_help_describes_every_flag_with_its_default():
    for action in build_parser()._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{action.option_strings} has no help"
        assert "default" in action.help, f"{action.option_strings}: {action.help!r}"


@contextmanager
def emulator_cli(args: list[str], env: dict[str, str]) -> Iterator[list[str]]:
    """`python -m prefect_runway.testing.emulator` on a free port; yields its start-up lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect_runway.testing.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n")]
        while lines[-1] != "Stop with Ctrl-C." and len(lines) < 10:
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield lines
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_emulator_prints_the_export_lines_that_point_clients_at_it():
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWAYML_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with emulator_cli(["--api-key", "key_from_the_flag"], env) as lines:
        base_url = lines[0].rsplit(" ", 1)[1]
        assert base_url.startswith("http://127.0.0.1:")
        exports = [line.strip() for line in lines if line.strip().startswith("export ")]
        assert exports == [
            f"export RUNWAYML_BASE_URL={base_url}",
            "export RUNWAYML_API_SECRET=key_from_the_flag",
        ]
        # Pasted into a shell, they point the client at the emulator, which knows the key.
        script = "\n".join([*exports, "prefect-runway status no-such-task"])
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "not found" in done.stderr.lower(), done.stderr


def test_emulator_never_prints_a_key_taken_from_the_environment():
    secret = "key_real_looking_secret_0123456789"
    with emulator_cli([], {**os.environ, "RUNWAYML_API_SECRET": secret}) as lines:
        assert secret not in "\n".join(lines)
        assert '  export RUNWAYML_API_SECRET="$RUNWAYML_API_SECRET"' in "\n".join(lines)
    without = {k: v for k, v in os.environ.items() if k != "RUNWAYML_API_SECRET"}
    with emulator_cli([], without) as lines:
        assert any("any key is accepted" in line for line in lines)
