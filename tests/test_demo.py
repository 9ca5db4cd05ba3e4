"""`make demo` end to end: a successful run looks successful and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def processes_with_env(marker: str) -> list[int]:
    """PIDs of this user's live processes whose environment holds `marker` (from /proc)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except (OSError, ValueError):
            continue
    return found


def test_demo_runs_offline_and_cleanly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    env["RUNWAYML_API_SECRET"] = "key_that_must_not_be_used"  # the demo never uses a real key
    # Its own temporary directory: whatever the demo (or Prefect under it) creates lands here.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    run = subprocess.run([sys.executable, "flows/demo.py"], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=300)  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Demo finished." in output
    assert "6 cache hits, 0 submitted. POSTs received by the emulator in all: 6." in output
    assert run.stdout.count("  s3://demo-stills/videos/") == 6  # the final listing
    assert "ERROR" not in output and "Traceback" not in output, output
    assert "key_that_must_not_be_used" not in output

    # The table's columns line up, however long the names: every row's status starts where
    # the header's does.
    lines = run.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.lstrip().startswith("source "))
    column = lines[header].index("status")
    rows = lines[header + 1 : header + 9]
    assert len(rows) == 8 and all(row.startswith("  s3://demo-stills/") for row in rows), rows
    statuses = [row[column:].split()[0] for row in rows]
    assert set(statuses) == {"submitted", "rejected"}, rows

    # Nothing left behind: no temporary Prefect home, no process (the ephemeral server).
    assert list(scratch.iterdir()) == []
    assert processes_with_env(f"TMPDIR={scratch}") == []
