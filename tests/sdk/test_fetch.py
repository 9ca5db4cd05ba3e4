"""Fetching the SDK's generated tests: once, the locked sdist only, a clear reason without it."""

from __future__ import annotations

import io
import os
import re
import socket
import tarfile
from pathlib import Path

import pytest

from prefect_runway.api.rules import SDK_VERSION
from tests.sdk import fetch

VERSION = "9.9.9"


def _sdist(into: Path, version: str, files: tuple[str, ...] = fetch.FILES) -> Path:
    """A stand-in sdist holding `files` under its tests/ folder, each naming itself."""
    path = into / f"runwayml-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name in files:
            data = f"# {name}\n".encode()
            member = tarfile.TarInfo(f"runwayml-{version}/tests/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Downloads served by `_sdist` instead of pip, recorded by version; no lock hash."""
    calls: list[str] = []

    def download(version: str, into: Path) -> Path:
        calls.append(version)
        return _sdist(into, version)

    monkeypatch.setattr(fetch, "_download", download)
    monkeypatch.setattr(fetch, "locked_sha256", lambda version: None)
    return calls


def test_a_second_fetch_downloads_nothing(tmp_path: Path, downloads: list[str]) -> None:
    first = fetch.fetch(VERSION, tmp_path)
    second = fetch.fetch(VERSION, tmp_path)

    assert first == second == tmp_path / VERSION
    assert downloads == [VERSION]
    assert (first / fetch.PACKAGE / "utils.py").read_text() == "# utils.py\n"
    assert (first / fetch.PACKAGE / "api_resources" / "test_organization.py").is_file()
    assert (first / f"runwayml-{VERSION}.tar.gz").is_file()
    assert [p.name for p in first.iterdir() if p.name.startswith(".fetch-")] == []


def test_a_kept_sdist_is_extracted_again_without_a_download(
    tmp_path: Path, downloads: list[str]
) -> None:
    fetch.fetch(VERSION, tmp_path)
    (tmp_path / VERSION / fetch.PACKAGE / "utils.py").unlink()

    again = fetch.fetch(VERSION, tmp_path)

    assert downloads == [VERSION]
    assert (again / fetch.PACKAGE / "utils.py").read_text() == "# utils.py\n"


def test_an_sdist_other_than_the_locked_one_is_refused(
    tmp_path: Path, downloads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "locked_sha256", lambda version: "0" * 64)

    with pytest.raises(fetch.Unavailable, match="uv.lock records 0{64}"):
        fetch.fetch(VERSION, tmp_path)
    assert not (tmp_path / VERSION / fetch.PACKAGE).exists()


def test_an_sdist_without_the_tests_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "_download",
                        lambda version, into: _sdist(into, version, fetch.FILES[:-1]))
    monkeypatch.setattr(fetch, "locked_sha256", lambda version: None)

    with pytest.raises(fetch.Unavailable,
                       match=r"holds no tests/api_resources/test_organization\.py"):
        fetch.fetch(VERSION, tmp_path)
    assert not (tmp_path / VERSION / fetch.PACKAGE).exists()


def test_without_network_the_reason_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a port nothing listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(fetch.Unavailable) as refused:
        fetch.fetch(SDK_VERSION, tmp_path)
    assert str(refused.value).startswith(
        f"could not download the runwayml {SDK_VERSION} sdist (no network?): ")
    assert not (tmp_path / SDK_VERSION / fetch.PACKAGE).exists()


def test_the_lock_pins_the_sdist() -> None:
    digest = fetch.locked_sha256(SDK_VERSION)
    assert digest is not None and re.fullmatch(r"[0-9a-f]{64}", digest)

