"""The built wheel, installed into a fresh venv and run from an empty folder, works as the
README says: ``--version``, the flow modules' ``--help`` and the quickstart, against the
emulator. Nothing of the repository is on the path there, so a file the package reads by a
relative path, or forgets to ship, fails here.

uv builds and installs from its cache (filled by ``make install``), so the test needs no
network; without uv (pip's fallback install) it is skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from prefect_runway import __version__
from prefect_runway.testing.emulator import Emulator
from tests._support.docs import read_blocks
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv") or str(ROOT / ".uv" / "bin" / "uv")

pytestmark = pytest.mark.skipif(not Path(UV).exists(), reason="uv not installed (pip fallback)")


def quickstart() -> str:
    """The README's quickstart flow, as pasted."""
    return next(b.code for b in read_blocks("README.md") if "def animate" in b.code)


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv with only the built wheel (and its dependencies) installed."""
    work = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never"}
    # Built from a clean copy of the tree: setuptools keeps a build/ folder in the source
    # tree, and a stale one would ship modules that no longer exist.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".uv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"))
    for args in (
        [UV, "build", "--wheel", "--quiet", "-o", str(work / "dist"), str(source)],
        [UV, "venv", "--quiet", str(work / "venv")],
    ):
        subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    [wheel] = (work / "dist").glob("prefect_runway-*.whl")
    # The runtime dependencies at uv.lock's versions (all in uv's cache), then the wheel.
    pinned = subprocess.run(
        [UV, "export", "--frozen", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300,
    ).stdout  # fmt: skip
    (work / "requirements.txt").write_text(pinned)
    python = str(work / "venv" / "bin" / "python")
    for what in (["-r", str(work / "requirements.txt")], ["--no-deps", str(wheel)]):
        command = [UV, "pip", "install", "--quiet", "--python", python, *what]
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:  # a venv made before uv (pip) left uv's cache incomplete
            online = {k: v for k, v in env.items() if k != "UV_OFFLINE"}
            run = subprocess.run(command, env=online, capture_output=True, text=True,
                                 timeout=300)  # fmt: skip
        assert run.returncode == 0, run.stderr
    return work / "venv"


def run_in_empty_folder(venv: Path, tmp_path: Path, *args: str, **env: str):
    folder = tmp_path / "empty"
    folder.mkdir(exist_ok=True)
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PREFECT_", "RUNWAYML_", "PYTHON", "VIRTUAL_ENV"))}  # fmt: skip
    clean["PATH"] = f"{venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
    clean.update(env)
    return subprocess.run(args, cwd=folder, env=clean, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_the_wheel_carries_its_license_and_sample_image(wheel_venv, tmp_path):
    code = ("import prefect_runway, importlib.metadata as m; "
            "print(prefect_runway.__file__); print(len(prefect_runway.sample_image())); "
            "print(any(str(f).endswith('LICENSE') for f in m.files('prefect-runway')))")
    run = run_in_empty_folder(wheel_venv, tmp_path, "python", "-c", code)
    assert run.returncode == 0, run.stderr
    where, size, license_ = run.stdout.split()
    assert str(wheel_venv) in where and not where.startswith(str(ROOT))
    assert int(size) > 100 and license_ == "True"


def test_version_and_flow_help_from_an_empty_folder(wheel_venv, tmp_path):
    run = run_in_empty_folder(wheel_venv, tmp_path, "prefect-runway", "--version")
    assert run.returncode == 0 and run.stdout.strip() == f"prefect-runway {__version__}"
    run = run_in_empty_folder(
        wheel_venv, tmp_path, "python", "-m", "prefect_runway.flows.s3_image_to_video", "--help"
    )
    assert run.returncode == 0, run.stderr
    assert "usage: python -m prefect_runway.flows.s3_image_to_video" in run.stdout


def test_the_readme_quickstart_from_an_empty_folder(wheel_venv, tmp_path):
    with Emulator(api_key=API_KEY, generation_seconds=0.5) as emulator:
        run = run_in_empty_folder(
            wheel_venv, tmp_path, "python", "-c", quickstart(),
            RUNWAYML_BASE_URL=emulator.base_url, RUNWAYML_API_SECRET=API_KEY,
            PREFECT_HOME=str(tmp_path / "prefect-home"),
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
            PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
        )  # fmt: skip
        created = emulator.stats()["tasks_created"]
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^[0-9a-f-]{36}$", run.stdout, re.MULTILINE), run.stdout
    assert created == 1
    assert "ERROR" not in run.stdout + run.stderr and "Traceback" not in run.stderr
