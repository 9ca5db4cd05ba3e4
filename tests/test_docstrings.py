"""Every example in the package's docstrings runs as written.

Two kinds: ``>>>`` doctests, run by doctest, and fenced ```` ```python ```` blocks, run with
top-level ``await`` allowed. Both run as doctest runs examples, in their module's globals, and a
fenced block also has what a reader of that page already has (`given`): an emulator that
``RunwayCredentials()`` finds through the environment, moto's S3 (a bucket ``stills`` with
``cat.png`` and ``in/cat.png``), a saved ``RunwayCredentials`` block named ``runway``, and
``creds``, ``client``, ``settings``, ``request`` and a ``task_id`` the emulator already
created. An example that must not run here starts with a
``# not run: why`` line (it serves a deployment forever, say); its code is still compiled.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import prefect_runway
from tests.conftest import API_KEY

ROOT = Path(prefect_runway.__file__).parent
_FENCE = re.compile(r"^([ \t]*)```python\n(.*?)^\1```", re.S | re.M)
_NOT_RUN = re.compile(r"^# not run: \S")


def modules() -> list[str]:
    """The package's modules, without the deprecated aliases of moved ones."""
    names = []
    for path in ROOT.rglob("*.py"):
        if "_moved import alias" in path.read_text() or path.name == "__main__.py":
            continue
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


@dataclass
class Example:
    module: str
    owner: str
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.module}:{self.owner}:{self.line}"


def examples() -> list[Example]:
    found = []
    for name in modules():
        source = Path(importlib.util.find_spec(name).origin).read_text()  # type: ignore
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                     ast.AsyncFunctionDef)):  # fmt: skip
                continue
            doc = ast.get_docstring(node)
            for match in _FENCE.finditer(doc or ""):
                line = getattr(node, "lineno", 1) + doc[: match.start()].count("\n")
                found.append(Example(name, getattr(node, "name", "<module>"), line,
                                     textwrap.dedent(match[2])))  # fmt: skip
    return found


EXAMPLES = examples()


@pytest.fixture
def given(runway, s3, prefect_harness):
    """What a reader of the docs has at hand: see the module docstring."""
    from prefect_runway import (
        GenerationSettings,
        ImageToVideoRequest,
        RunwayClient,
        RunwayCredentials,  # fmt: skip
    )
    from prefect_runway.samples import sample_image, sample_image_data_uri

    RunwayCredentials().save("runway", overwrite=True)
    for key in ("cat.png", "in/cat.png"):
        s3.put_object(Bucket="stills", Key=key, Body=sample_image(), ContentType="image/png")
    request = ImageToVideoRequest(model="gen4_turbo", prompt_image=sample_image_data_uri(),
                                  ratio="1280:720", duration=5)  # fmt: skip
    with RunwayClient(API_KEY, base_url=runway.base_url) as client:
        task_id = client.image_to_video(request).id
        yield {"creds": RunwayCredentials(), "client": client, "request": request,
               "task_id": task_id, "emu": runway, "s3": s3,
               "settings": GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)}


def test_every_module_is_searched():
    assert len(EXAMPLES) >= 40 and "prefect_runway.ledger.engine" in modules()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs_as_written(example, given, tmp_path, monkeypatch):
    code = compile(example.code, example.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if _NOT_RUN.match(example.code):
        return
    monkeypatch.chdir(tmp_path)  # what it writes lands here
    namespace = {**vars(importlib.import_module(example.module)), **given}
    result = eval(code, namespace)  # noqa: S307 - our own docstrings
    if inspect.iscoroutine(result):
        asyncio.run(result)


@pytest.mark.parametrize("module", modules())
def test_doctests_pass(module):
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(importlib.import_module(module)):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} doctest failures in {module} (see output)"
