"""The package's layers, read from its source with `ast` (nothing is imported):

- no import cycle among module-level imports (an import inside a function runs later, when
  every module is loaded, so it cannot close a cycle at import time; one that would close a
  cycle of all imports is reported too, so it stays a deliberate exception);
- ``prefect_runway/api/`` imports nothing of the layers above it (the ledger, S3, flows,
  tasks, credentials) nor Prefect;
- the emulator (``prefect_runway/testing/emulator/``) takes from the package only the API's
  facts: ``prefect_runway.api.rules``, ``.endpoints`` and ``.limits`` (generated or plain data).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "prefect_runway"
EMULATOR_MAY_IMPORT = {
    "prefect_runway.api.rules", "prefect_runway.api.endpoints", "prefect_runway.api.limits",
}  # fmt: skip
API_MAY_NOT_IMPORT = (
    "prefect_runway.ledger", "prefect_runway.s3", "prefect_runway.flows",
    "prefect_runway.tasks", "prefect_runway.credentials", "prefect",
)  # fmt: skip
ALL_IMPORT_CYCLES_ALLOWED: set[frozenset[str]] = set()
"""Cycles closed only by an import inside a function: none today."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve(node: ast.Import | ast.ImportFrom, here: str) -> Iterator[str]:
    """The modules an import statement names (``from a import b``: ``a.b`` when that is a
    module, else ``a``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:  # relative: from the importing module's package
        package = here if _is_package(here) else here.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    for alias in node.names:
        full = f"{base}.{alias.name}"
        yield full if full in MODULES else base


def _imports(name: str, module_level: bool) -> set[str]:
    """What module `name` imports: at module level only (class bodies included, functions
    and ``if TYPE_CHECKING:`` blocks not), or everywhere."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(_resolve(node, name))
            return
        if module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph(module_level: bool) -> dict[str, set[str]]:
    return {
        name: {m for m in _imports(name, module_level) if m in MODULES and m != name}
        for name in MODULES
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _named(imported: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(imported == p or imported.startswith(p + ".") for p in prefixes)


def test_the_source_is_walked():
    assert {"prefect_runway.settings", "prefect_runway.ledger.records",
            "prefect_runway.api.client"} <= set(MODULES)  # fmt: skip
    assert "prefect_runway.settings" in _graph(True)["prefect_runway.ledger.engine"]


def test_no_import_cycle_among_module_level_imports():
    assert _cycles(_graph(module_level=True)) == []


def test_no_import_cycle_even_counting_imports_inside_functions():
    cycles = [c for c in _cycles(_graph(module_level=False))
              if frozenset(c) not in ALL_IMPORT_CYCLES_ALLOWED]  # fmt: skip
    assert cycles == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("prefect_runway.api")))
def test_the_api_layer_imports_nothing_above_it(name):
    wrong = sorted(m for m in _imports(name, module_level=False) if _named(m, API_MAY_NOT_IMPORT))
    assert wrong == [], f"{name} imports {wrong}"


def test_the_api_layer_stays_apart_through_what_it_imports():
    graph = _graph(module_level=True)
    seen, todo = set(), [n for n in MODULES if n.startswith("prefect_runway.api")]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    assert sorted(n for n in seen if _named(n, API_MAY_NOT_IMPORT)) == []


@pytest.mark.parametrize(
    "name", sorted(n for n in MODULES if n.startswith("prefect_runway.testing.emulator"))
)
def test_the_emulator_takes_only_the_api_facts_from_the_package(name):
    own = "prefect_runway.testing.emulator"
    taken = {m for m in _imports(name, module_level=False) if _named(m, {"prefect_runway"})}
    wrong = sorted(m for m in taken if not _named(m, {own}) and m not in EMULATOR_MAY_IMPORT)
    assert wrong == [], f"{name} imports {wrong}"


def test_importing_the_package_loads_none_of_its_layers_until_a_name_is_used():
    code = (
        "import sys, prefect_runway\n"
        "top = ('prefect', 'boto3', 'botocore', 'moto', 'redis', 'httpx')\n"
        "layers = ('prefect_runway.api', 'prefect_runway.ledger', 'prefect_runway.testing')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in top or m.startswith(layers)))\n"
        "prefect_runway.RunwayClient\n"
        "print('prefect' in sys.modules, 'boto3' in sys.modules, 'httpx' in sys.modules)\n"
        "print(set(dir(prefect_runway)) >= set(prefect_runway.__all__))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines() == ["[]", "False False True", "True"], done.stderr
