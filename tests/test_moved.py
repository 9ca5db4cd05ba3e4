"""The modules' old flat paths still import, as the very new modules, with a warning (until 0.4)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MOVED = {
    "prefect_runway.adopt": "prefect_runway.ledger.adopt",
    "prefect_runway.batch": "prefect_runway.ledger.batch",
    "prefect_runway.caching": "prefect_runway.ledger.keys",
    "prefect_runway.client": "prefect_runway.api.client",
    "prefect_runway.config": "prefect_runway.settings",
    "prefect_runway.emulator": "prefect_runway.testing.emulator",
    "prefect_runway.engine": "prefect_runway.ledger.engine",
    "prefect_runway.imagecheck": "prefect_runway.images",
    "prefect_runway.locks": "prefect_runway.ledger.locks",
    "prefect_runway.manifest": "prefect_runway.s3.manifest",
    "prefect_runway.models": "prefect_runway.api.models",
    "prefect_runway.records": "prefect_runway.ledger.records",
    "prefect_runway.redis_locks": "prefect_runway.ledger.redis_locks",
    "prefect_runway.rules": "prefect_runway.api.rules",
    "prefect_runway.s3_records": "prefect_runway.ledger.stores",
    "prefect_runway.sources": "prefect_runway.s3.objects",
    "prefect_runway.transport": "prefect_runway.delivery",
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_is_the_new_module_with_a_deprecation_warning(old):
    # In a fresh interpreter: here the old module may already be imported (no warning again).
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('error')\n"
        f"try:\n    importlib.import_module({old!r})\n"
        "except DeprecationWarning as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == (
        f"{old} moved to {MOVED[old]}; import it from there (the old path goes away in 0.4)"
    ), done.stderr
    with pytest.warns(DeprecationWarning):
        sys.modules.pop(old, None)
        module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])


def test_python_m_of_the_old_emulator_path_still_starts_it():
    done = subprocess.run([sys.executable, "-m", "prefect_runway.emulator", "--help"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and "usage: prefect-runway emulator" in done.stdout
