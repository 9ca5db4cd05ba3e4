"""`make demo` end to end: a successful run looks successful."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_offline_and_cleanly():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    env["RUNWAYML_API_SECRET"] = "key_that_must_not_be_used"  # the demo never uses a real key
    run = subprocess.run([sys.executable, "flows/demo.py"], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Demo finished." in output
    assert "6 cache hits, 0 submitted. POSTs received by the emulator in all: 6." in output
    assert run.stdout.count("  s3://demo-stills/videos/") == 6  # the final listing
    assert "ERROR" not in output and "Traceback" not in output, output
    assert "key_that_must_not_be_used" not in output
