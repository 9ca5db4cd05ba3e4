"""The official SDK's own generated tests, fetched from its pinned sdist at test time.

The repository holds only code this project wrote, so the SDK's tests are not copied in: the
runwayml sdist of ``prefect_runway.api.rules.SDK_VERSION`` (the version the rules table was
generated from, and the dev extra pins) is downloaded once with ``pip download``, checked
against the sha256 that ``uv.lock`` records for it, and the files the emulator is tested with
are extracted beside it (``FILES``):

    tests/api_resources/test_<resource>.py   every task resource (``RESOURCES``), every model
    tests/api_resources/generate/test_*.py   the Model Router's three task endpoints
    tests/api_resources/test_tasks.py        polling and deleting a task
    tests/api_resources/test_organization.py the organization endpoints
    tests/utils.py                           their helper (``assert_matches_type``)

The cache lives in the virtualenv (``.venv/.sdk-tests/<version>/``: it goes with the
environment that pins the SDK), or ``~/.cache/prefect-runway/sdk-tests/<version>/`` outside
one, or under ``PREFECT_RUNWAY_SDK_TESTS_CACHE``. A run that finds the files downloads nothing.

How the fetched files are imported: they are laid out as a package, ``runwayml_sdk_tests``
(the sdist's ``tests/`` folder under a name that cannot clash with ours), whose parent folder
goes on ``sys.path``, so pytest's assertion rewriting applies to them as to our own tests. The
generated tests import their helper as ``tests.utils``, a module of *their* tree; ours has no
``tests/utils.py``, so that one name is registered in ``sys.modules`` as the fetched helper.
The test classes are then collected from ``test_generated.py`` beside this module, where the
fixtures of ``conftest.py`` (the emulator playing the SDK's mock server) apply to them.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "runwayml_sdk_tests"
# The sdist's files, relative to its tests/ folder, and the test modules among them.
RESOURCES = (
    "image_to_video", "text_to_video", "video_to_video", "text_to_image", "image_upscale",
    "video_upscale", "video_to_hdr", "video_to_audio", "character_performance",
    "text_to_speech", "sound_effect", "voice_isolation", "voice_dubbing", "speech_to_speech",
    "generate.test_video", "generate.test_image", "generate.test_audio", "recipes",
    "avatar_videos", "tasks", "organization",
)  # every task resource, the tasks resource (poll, delete) and the organization
TEST_MODULES = tuple(
    f"api_resources.{name}" if name.startswith("generate.") else f"api_resources.test_{name}"
    for name in RESOURCES
)
FILES = ("__init__.py", "utils.py", "api_resources/__init__.py",
         "api_resources/generate/__init__.py",
         *(name.removeprefix("api_resources.").replace(".", "/").join(("api_resources/", ".py"))
           for name in TEST_MODULES))  # fmt: skip


class Unavailable(Exception):
    """The sdist could not be had; the message says why and what to do."""


def cache_root() -> Path:
    """Where fetched sdists and their tests are kept (see the module docstring)."""
    configured = os.environ.get("PREFECT_RUNWAY_SDK_TESTS_CACHE")
    if configured:
        return Path(configured)
    if sys.prefix != sys.base_prefix:  # a virtualenv: keep the cache with it
        return Path(sys.prefix) / ".sdk-tests"
    return Path.home() / ".cache" / "prefect-runway" / "sdk-tests"


def locked_sha256(version: str, lock: Path = ROOT / "uv.lock") -> str | None:
    """The sha256 ``uv.lock`` records for the runwayml sdist of `version`, if it has one."""
    try:
        packages = tomllib.loads(lock.read_text()).get("package", [])
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for package in packages:
        if package.get("name") == "runwayml" and package.get("version") == version:
            digest = package.get("sdist", {}).get("hash", "")
            return digest.removeprefix("sha256:") or None
    return None


def _download(version: str, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", f"runwayml=={version}", "--no-deps",
               "--no-binary", ":all:", "--disable-pip-version-check", "--retries", "1",
               "--timeout", "15", "-q", "-d", str(into)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"pip download of runwayml=={version} did not finish: {exc}") from None
    sdists = sorted(into.glob(f"runwayml-{version}.tar.gz"))
    if done.returncode != 0 or not sdists:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        detail = errors[-1] if errors else (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"could not download the runwayml {version} sdist (no network?): "
                          f"{detail}")
    return sdists[0]


def fetch(version: str, root: Path | None = None) -> Path:
    """The folder holding the ``runwayml_sdk_tests`` package of `version`, fetched if needed.

    Raises `Unavailable` when the sdist cannot be downloaded or is not the one ``uv.lock``
    names. What the cache holds is used as it is: extracted files, else the kept sdist;
    only a cache holding neither downloads.
    """
    target = (root or cache_root()) / version
    if all((target / PACKAGE / name).is_file() for name in FILES):
        return target
    target.mkdir(parents=True, exist_ok=True)
    kept = target / f"runwayml-{version}.tar.gz"
    with tempfile.TemporaryDirectory(dir=target, prefix=".fetch-") as tmp:
        if kept.is_file():
            sdist = kept
        else:
            try:
                sdist = _download(version, Path(tmp))
            except Unavailable as exc:
                raise Unavailable(f"{exc}; a run with network caches it in {target}") from None
        expected = locked_sha256(version)
        actual = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if expected and actual != expected:
            raise Unavailable(f"{sdist} has sha256 {actual}, uv.lock records {expected}")
        staged = Path(tmp) / PACKAGE
        with tarfile.open(sdist) as archive:
            for name in FILES:
                try:
                    member = archive.extractfile(f"runwayml-{version}/tests/{name}")
                except KeyError:
                    member = None
                if member is None:
                    raise Unavailable(f"{sdist.name} holds no tests/{name}")
                (staged / name).parent.mkdir(parents=True, exist_ok=True)
                (staged / name).write_bytes(member.read())
        if sdist != kept:
            shutil.move(sdist, kept)
        shutil.rmtree(target / PACKAGE, ignore_errors=True)  # a partial earlier extraction
        staged.rename(target / PACKAGE)  # complete or absent, never half written
    return target


def load(version: str) -> list[ModuleType]:
    """Import the fetched test modules (see the module docstring for how)."""
    folder = str(fetch(version))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    pytest.register_assert_rewrite(f"{PACKAGE}.utils")
    sys.modules.setdefault("tests.utils", importlib.import_module(f"{PACKAGE}.utils"))
    return [importlib.import_module(f"{PACKAGE}.{name}") for name in TEST_MODULES]
