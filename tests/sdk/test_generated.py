"""The official SDK's own generated tests, run against the emulator.

They are fetched from the pinned runwayml sdist at test time (``fetch.py``: downloaded once,
cached, never committed) and collected here, where ``conftest.py``'s ``client`` and
``async_client`` fixtures point them at the emulator. Without the sdist (no network on a
first run) this module is skipped with the reason.
"""

from __future__ import annotations

import sys

import pytest

from prefect_runway.api.rules import SDK_VERSION
from tests.sdk import fetch

try:
    _MODULES = fetch.load(SDK_VERSION)
except fetch.Unavailable as exc:
    pytest.skip(f"the runwayml {SDK_VERSION} SDK's generated tests are not here: {exc}",
                allow_module_level=True)

# Every test class of the fetched modules, collected as if defined in this module.
for _module in _MODULES:
    globals().update({name: value for name, value in vars(_module).items()
                      if name.startswith("Test") and isinstance(value, type)})


def test_the_fetched_tests_get_pytests_assertion_messages() -> None:
    helper = sys.modules[f"{fetch.PACKAGE}.utils"]

    assert sys.modules["tests.utils"] is helper
    assert [m.__name__ for m in _MODULES] == [f"{fetch.PACKAGE}.{n}" for n in fetch.TEST_MODULES]
    # pytest's rewritten modules import builtins under this name for their assertion messages.
    assert all("@py_builtins" in vars(m) for m in (helper, *_MODULES))
