"""The tests' own layering: test files share code through tests/_support, never each other."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def module_name(path: Path) -> str:
    """`tests/reliability/test_waiting.py` -> `tests.reliability.test_waiting`."""
    return ".".join(("tests", *path.relative_to(TESTS).with_suffix("").parts))


def test_files() -> list[Path]:
    """Every test module under tests/: test_*.py, in any folder."""
    return sorted(TESTS.rglob("test_*.py"))


test_files.__test__ = False  # a helper, not a test


def imported(source: str, package: str) -> set[str]:
    """Every module `source` (code of a module in `package`) imports, at any depth of its
    code, relative imports resolved; `from a import b` counts as importing `a` and `a.b`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_no_test_file_imports_another_test_file():
    modules = {module_name(path) for path in test_files()}
    assert {"tests.test_support", "tests.reliability.test_waiting"} <= modules
    offenders = sorted(
        f"{path.relative_to(TESTS)} imports {name}"
        for path in test_files()
        for name in imported(path.read_text(), module_name(path).rpartition(".")[0])
        & modules
    )
    assert not offenders, "import shared helpers from tests._support instead:\n" + "\n".join(
        offenders
    )


def test_the_check_sees_every_spelling_of_such_an_import():
    """The negative control: each of these imports a test module, and is found."""
    modules = {module_name(path) for path in test_files()}
    spellings = {
        "from tests.test_flows import fill": "tests",
        "import tests.test_client": "tests",
        "from tests import test_docs": "tests",
        "def f():\n    from tests.test_flows import fill\n": "tests",
        "from . import test_flows": "tests",
        "from ..test_flows import fill": "tests.reliability",
    }
    for code, package in spellings.items():
        assert imported(code, package) & modules, code
    assert not imported("from tests._support.s3 import fill", "tests") & modules
