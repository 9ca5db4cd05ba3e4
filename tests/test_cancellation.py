"""Cancelling stops the spend: a cancelled flow run cancels the Runway tasks it waited for,
and Ctrl-C during the CLI's --wait offers the same; the emulator shows none left running and
the ledger records each CANCELLED with its final cost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prefect_runway.testing.emulator.samples import png
from tests._support.processes import ROOT, running, tail
from tests.conftest import API_KEY, BUCKET, wait_until

IMAGE_BODY = {"model": "gen4_image", "promptText": "a kite", "ratio": "1920:1080"}
UNFINISHED = ("PENDING", "THROTTLED", "RUNNING")
GEN = ["--model", "gen4_turbo", "--ratio", "1280:720", "--duration", "5"]


def unfinished(emu) -> int:
    return sum(emu.stats()["by_status"].get(s, 0) for s in UNFINISHED)


def ledger_attempts(records: Path) -> dict[str, dict]:
    """Every attempt in the ledger folder's records, by task ID."""
    found = {}
    for path in records.rglob("*"):
        try:
            record = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        for attempt in record.get("history", []) if isinstance(record, dict) else []:
            found[attempt["task_id"]] = attempt
    return found


def cli_env(emu, records: Path) -> dict[str, str]:
    return {**os.environ, "RUNWAYML_API_SECRET": API_KEY, "RUNWAYML_BASE_URL": emu.base_url,
            "PREFECT_RUNWAY_RECORDS": str(records), "PYTHONUNBUFFERED": "1"}  # fmt: skip


def interrupt_wait(emu, tmp_path: Path, *flags: str, stdin=subprocess.DEVNULL, n: int = 2):
    """`submit N images --wait` in a subprocess, SIGINT once the emulator runs them; its exit
    code, stdout, stderr and the task IDs it printed."""
    images = []
    for i in range(n):
        images.append(tmp_path / f"cat{i}.png")
        images[-1].write_bytes(png(4 + i, 4))
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect_runway.cli", "submit", *map(str, images), *GEN,
             "--wait", "--poll-interval", "0.05", *flags],
            cwd=ROOT, env=cli_env(emu, tmp_path / "records"), stdin=stdin, stdout=stdout,
            stderr=stderr,
        )  # fmt: skip
        try:
            wait_until(lambda: emu.stats()["by_status"].get("RUNNING", 0) == n
                       and len(out.read_text().splitlines()) == n, "the tasks running",
                       timeout=60)  # fmt: skip
            time.sleep(0.3)  # polled at least once
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=30)
        finally:
            proc.kill()
    printed = out.read_text()
    ids = [line.split("\t")[1] for line in printed.splitlines()[:n]]
    return code, printed, err.read_text(), ids


def test_ctrl_c_with_cancel_on_interrupt_cancels_and_notes_the_ledger(make_emulator, tmp_path):
    emu = make_emulator(generation_seconds=60, concurrency=4)
    code, out, err, ids = interrupt_wait(emu, tmp_path, "--cancel-on-interrupt")
    assert code == 130, err
    assert unfinished(emu) == 0 and emu.stats()["by_status"] == {"CANCELLED": 2}
    for task_id in ids:
        assert f"{task_id}\tCANCELLED" in out
    attempts = ledger_attempts(tmp_path / "records")
    assert {t: (attempts[t]["final_status"], attempts[t]["credits"]) for t in ids} == {
        t: ("CANCELLED", 0) for t in ids
    }
    assert "Traceback" not in err and API_KEY not in out + err


def test_ctrl_c_without_a_terminal_leaves_them_running_and_names_them(make_emulator, tmp_path):
    emu = make_emulator(generation_seconds=60, concurrency=4)
    code, out, err, ids = interrupt_wait(emu, tmp_path)
    assert code == 130, err
    assert emu.stats()["by_status"] == {"RUNNING": 2} and emu.stats()["cancels"] == 0
    assert f"2 Runway task(s) left running (and charging): {ids[0]} {ids[1]}" in err
    assert f"cancel them with: prefect-runway cancel {ids[0]} {ids[1]}" in err
    assert "Traceback" not in err


def test_ctrl_c_on_a_terminal_asks_first(make_emulator, tmp_path):
    import pty

    emu = make_emulator(generation_seconds=60, concurrency=4)
    controller, terminal = pty.openpty()
    os.write(controller, b"y\n")  # typed ahead: read once the question is asked
    try:
        code, out, err, ids = interrupt_wait(emu, tmp_path, stdin=terminal, n=1)
    finally:
        os.close(terminal)
        os.close(controller)
    assert code == 130, err
    assert "Cancel 1 running Runway task(s)? [y/N]" in err
    assert emu.stats()["by_status"] == {"CANCELLED": 1} and f"{ids[0]}\tCANCELLED" in out


def test_a_failed_delete_is_reported_and_names_the_task(make_emulator, monkeypatch, capsys):
    """The proxy dialect answers DELETE 405: the task stays running, and says so."""
    from prefect_runway.cli import main

    emu = make_emulator(dialect="proxy", generation_seconds=60, proxy_not_found_seconds=0)
    task_id = emu.add_task("/v1/text_to_image", IMAGE_BODY)
    wait_until(lambda: emu.stats()["by_status"].get("RUNNING") == 1, "the task running", 10)
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
    code = main(["cancel", task_id, "--dialect", "proxy"])
    out, err = capsys.readouterr()
    assert code == 1
    assert emu.stats()["by_status"] == {"RUNNING": 1}
    assert f"WARNING: Could not cancel Runway task {task_id}" in err
    assert f"it may still be generating and charging; cancel it with: prefect-runway cancel " \
           f"{task_id}" in err
    assert f"not cancelled, maybe still running: {task_id}" in err
    assert f"{task_id}\tUNKNOWN" in out


def test_cancel_leaves_a_finished_task_as_it_is(make_emulator, monkeypatch, capsys):
    from prefect_runway.cli import main

    emu = make_emulator(env=True, generation_seconds=0.1)
    task_id = emu.add_task("/v1/text_to_image", IMAGE_BODY)
    wait_until(lambda: emu.stats()["by_status"].get("SUCCEEDED") == 1, "the task done", 10)
    assert main(["cancel", task_id]) == 0
    assert emu.stats()["cancels"] == 0 and emu.stats()["by_status"] == {"SUCCEEDED": 1}
    assert f"{task_id}\tSUCCEEDED (had ended: left as it is)" in capsys.readouterr().out


SERVE = """
from prefect import serve
from prefect.deployments.runner import EntrypointType
from prefect_runway.flows.pipeline import run_pipeline
serve(run_pipeline.to_deployment("cancel-test", entrypoint_type=EntrypointType.MODULE_PATH),
      print_starting_message=False)
"""


@pytest.mark.slow  # a served deployment and its flow run, each a fresh Prefect process
@pytest.mark.timeout(600)
def test_a_cancelled_pipeline_run_cancels_its_tasks(prefect_harness, s3, make_emulator,
                                                     tmp_path):  # fmt: skip
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Cancelling

    emu = make_emulator(generation_seconds=120, concurrency=4)
    records = tmp_path / "records"
    env = {**cli_env(emu, records), "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_RUNNER_POLL_FREQUENCY": "1"}  # fmt: skip
    table = [{"id": f"item{i}", "promptText": f"a lighthouse, take {i}"} for i in range(2)]
    stages = [{"endpoint": "text_to_image", "fields": {"model": "gen4_image",
                                                       "ratio": "1920:1080"}}]  # fmt: skip
    log = tmp_path / "serve.log"
    with running([sys.executable, "-c", SERVE], env, log) as served:

        async def until(condition, what: str) -> None:
            deadline = time.monotonic() + 200  # a busy 2-core machine starts Prefect slowly
            while not await condition():
                assert served.poll() is None, f"the server of the deployment exited:\n{tail(log)}"
                assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{tail(log)}"
                await asyncio.sleep(0.2)

        async def scenario() -> str:
            async with get_client() as client:

                async def deployed() -> bool:
                    try:
                        await client.read_deployment_by_name("runway-pipeline/cancel-test")
                        return True
                    except Exception:
                        return False

                async def both_running() -> bool:
                    return emu.stats()["by_status"].get("RUNNING") == 2

                await until(deployed, "the deployment")
                run = await run_deployment(
                    "runway-pipeline/cancel-test", timeout=0, parameters={
                        "table": table, "stages": stages,
                        "output_prefix": "s3://stills/cancel/"},
                )  # fmt: skip
                await until(both_running, "both tasks running")
                await asyncio.sleep(1.0)  # both waits under way (their artifacts written)
                await client.set_flow_run_state(run.id, Cancelling(), force=True)

                async def ended() -> bool:
                    state = (await client.read_flow_run(run.id)).state
                    return state is not None and state.is_final()

                await until(ended, "the run to end")
                state = (await client.read_flow_run(run.id)).state
                return str(state.type.value) if state else ""

        final = asyncio.run(scenario())
        wait_until(lambda: unfinished(emu) == 0, "the tasks cancelled", timeout=30)
    assert final == "CANCELLED", tail(log)
    assert emu.stats()["by_status"] == {"CANCELLED": 2}
    attempts = ledger_attempts(records)
    assert sorted((a["final_status"], a["credits"]) for a in attempts.values()) == [
        ("CANCELLED", 0), ("CANCELLED", 0)], tail(log)
    text = log.read_text()
    assert "Cancelled 2 Runway tasks" in text, tail(log)


def test_collect_videos_records_what_it_waits_for_and_its_hook_cancels_them(
    prefect_harness, s3, make_emulator
):
    """The hook as a runner runs it: another process would have only the Prefect API, so it
    is handed the flow run as read back from there."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelling

    from prefect_runway.cancellation import cancel_in_flight
    from prefect_runway.flows import collect_videos

    emu = make_emulator(env=True, generation_seconds=60, concurrency=4)
    ids = [emu.add_task("/v1/text_to_image", {**IMAGE_BODY, "seed": i}) for i in range(2)]
    state = asyncio.run(collect_videos(f"s3://{BUCKET}/videos/", task_ids=ids,
                                       wait_seconds=0.5, return_state=True))  # fmt: skip
    assert state.is_completed() and unfinished(emu) == 2

    async def cancel() -> None:
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
        await cancel_in_flight(collect_videos, run, Cancelling())

    asyncio.run(cancel())
    assert emu.stats()["by_status"] == {"CANCELLED": 2} and emu.stats()["cancels"] == 2
