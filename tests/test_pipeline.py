"""Chained stages (`prefect_runway.flows.pipeline`) against the emulator over loopback and moto's
S3 server, on Prefect's harness.

What was paid is read from the emulator's own tasks (one per create it accepted), attributed to
items by their bodies where a body names its item (stage 1's and 2's prompts) and by the chains'
task IDs otherwise; outputs and the manifest are read back from S3.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.errors import BatchFailedError, RunwayValidationError
from prefect_runway.flows.pipeline import (
    MANIFEST_NAME,
    Stage,
    item_folder,
    read_pipeline_manifest,
    run_pipeline,
)
from prefect_runway.flows.pipeline import main as pipeline_main
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROOT = Path(__file__).resolve().parent.parent
PREFIX = f"s3://{BUCKET}/pipeline/"
IMAGE, VIDEO, UPSCALE = "gen4_image", "gen4_turbo", "magnific_video_upscaler_creative"
STAGES = [
    {"endpoint": "text_to_image", "fields": {"model": IMAGE, "ratio": "1920:1080"}},
    {"endpoint": "image_to_video",
     "fields": {"model": VIDEO, "ratio": "1280:720", "duration": 5},
     "inputs": {"promptImage": "output", "promptText": "row.motion"}},
    {"endpoint": "video_upscale", "fields": {"model": UPSCALE}, "inputs": {"videoUri": "output"}},
]  # fmt: skip
MODELS = [IMAGE, VIDEO, UPSCALE]


def rows(n: int = 3, **overrides: str) -> list[dict[str, str]]:
    made = [{"id": f"item{i}", "promptText": f"a lighthouse, take {i}",
             "motion": f"slow pan, take {i}"} for i in range(n)]  # fmt: skip
    for row_id, prompt in overrides.items():
        next(r for r in made if r["id"] == row_id)["promptText"] = prompt
    return made


@pytest.fixture
def emu(make_emulator):
    """Five generations at a time per model, as Runway counts them; 0.5 s each."""
    return make_emulator(concurrency=5, concurrency_per_model=True, generation_seconds=0.5,
                         fetch_urls=False)  # fmt: skip


def creds(emu) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url, poll_interval=0.05)


def run(emu, table, stages=STAGES, **options):
    return asyncio.run(run_pipeline(table, stages, PREFIX, credentials_block=creds(emu), **options))


def tasks_by_model(emu) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for task in emu.tasks():
        found.setdefault(task["model"], []).append(task)
    return found


def chain_ids(result, stage: int) -> list[str]:
    return [link.task_id for item in result.items for link in item.chain
            if link.stage == stage and link.task_id]  # fmt: skip


def key_of(uri: str) -> str:
    return uri.removeprefix(f"s3://{BUCKET}/")


def test_three_stages_pay_once_per_item_put_outputs_in_s3_and_rerun_pays_nothing(s3, emu):
    first = run(emu, rows())
    assert (first.complete, first.stopped, first.paid, first.cached) == (3, 0, 9, 0)
    by_model = tasks_by_model(emu)
    for number, model in enumerate(MODELS, start=1):  # one task per item and stage
        assert sorted(t["id"] for t in by_model[model]) == sorted(chain_ids(first, number))
        assert len(by_model[model]) == 3
    assert Counter(t["body"]["promptText"] for t in by_model[IMAGE]) == Counter(
        r["promptText"] for r in rows())
    assert Counter(t["body"]["promptText"] for t in by_model[VIDEO]) == Counter(
        r["motion"] for r in rows())
    stats = emu.stats()
    assert stats["posts"] == stats["tasks_created"] == 9
    # each stage's input was the copied S3 object, sent inline: never a Runway URL
    assert all(t["body"]["promptImage"].startswith("data:image/png") for t in by_model[VIDEO])
    assert all(t["body"]["videoUri"].startswith("data:video/mp4") for t in by_model[UPSCALE])
    types = {"png": "image/png", "mp4": "video/mp4"}
    for item in first.items:
        assert [link.endpoint for link in item.chain] == [s["endpoint"] for s in STAGES]
        for link in item.chain:
            assert link.status == "succeeded" and link.submission == "submitted"
            (uri,) = link.outputs
            assert uri == (f"{PREFIX}{item.id}/{link.stage}-{link.endpoint}-1."
                           f"{'png' if link.stage == 1 else 'mp4'}")  # fmt: skip
            head = s3.head_object(Bucket=BUCKET, Key=key_of(uri))
            assert head["ContentType"] == types[uri.rsplit(".", 1)[1]]
            assert head["ContentLength"] > 0 and head["Metadata"]["sha256"]
    manifest = read_pipeline_manifest(s3, PREFIX + MANIFEST_NAME)
    assert manifest is not None
    assert {i["id"]: [(c["stage"], c["task_id"], c["status"]) for c in i["chain"]]
            for i in manifest["items"]} == {
        i.id: [(c.stage, c.task_id, "succeeded") for c in i.chain] for i in first.items}

    downloads = stats["downloads"]
    again = run(emu, rows())
    assert (again.complete, again.paid, again.cached) == (3, 0, 9)
    assert emu.stats()["posts"] == 9 and emu.stats()["downloads"] == downloads  # all in S3
    assert [[c.task_id for c in i.chain] for i in again.items] == [
        [c.task_id for c in i.chain] for i in first.items]
    assert all(c.submission == "cached" for i in again.items for c in i.chain)


def test_a_rerun_after_a_crash_re_downloads_only_what_s3_lacks(s3, emu):
    first = run(emu, rows(2))
    lost = first.items[0].chain[1].outputs[0]  # as if a crash came before this copy
    s3.delete_object(Bucket=BUCKET, Key=key_of(lost))
    before = emu.stats()
    again = run(emu, rows(2))
    after = emu.stats()
    assert (after["posts"] - before["posts"], after["downloads"] - before["downloads"]) == (0, 1)
    assert again.complete == 2 and again.cached == 6
    assert s3.head_object(Bucket=BUCKET, Key=key_of(lost))["ContentLength"] > 0


def test_items_stream_through_the_stages_without_a_barrier(s3, make_emulator):
    # One generation at a time per model: the three stage-1 tasks run one after another.
    emu = make_emulator(concurrency=1, concurrency_per_model=True, generation_seconds=2.0,
                        fetch_urls=False)  # fmt: skip
    result = run(emu, rows())
    assert result.complete == 3
    tasks = list(emu._state._tasks.values())  # the emulator's own timeline (monotonic)
    last_stage_1_end = max(t.ends_at for t in tasks if t.model == IMAGE)
    first_stage_2 = min(t.created_at for t in tasks if t.model == VIDEO)
    assert first_stage_2 < last_stage_1_end - 1.0, (first_stage_2, last_stage_1_end)
    first_stage_3 = min(t.created_at for t in tasks if t.model == UPSCALE)
    assert first_stage_3 < max(t.ends_at for t in tasks if t.model == VIDEO)


def test_an_item_whose_stage_fails_stops_alone_with_its_reason(s3, emu):
    result = run(emu, rows(item1="a lighthouse [emulator:fail=SAFETY.INPUT.TEXT]"))
    items = {item.id: item for item in result.items}
    assert (result.complete, result.stopped) == (2, 1)
    failed = items["item1"]
    assert failed.status == "stopped" and len(failed.chain) == 1
    assert failed.chain[0].status == "failed" and failed.chain[0].task_id
    assert "stage 1 (text_to_image)" in failed.error and "SAFETY.INPUT.TEXT" in failed.error
    assert len(tasks_by_model(emu)[VIDEO]) == 2  # nothing paid after the failure
    manifest = read_pipeline_manifest(s3, PREFIX + MANIFEST_NAME)
    shown = {i["id"]: i for i in manifest["items"]}
    assert shown["item1"]["status"] == "stopped" and "SAFETY" in shown["item1"]["error"]
    # The failed generation is a record too: a rerun does not pay for it again.
    posts = emu.stats()["posts"]
    again = run(emu, rows(item1="a lighthouse [emulator:fail=SAFETY.INPUT.TEXT]"))
    assert emu.stats()["posts"] == posts and again.stopped == 1


def test_fail_on_errors_fails_the_run_after_reporting_and_names_the_stopped_tasks(s3, emu):
    table = rows(2, item1="a lighthouse [emulator:fail=SAFETY.INPUT.TEXT]")
    with pytest.raises(BatchFailedError) as caught:
        run(emu, table, STAGES[:2], fail_on_errors=True)
    [task] = [t for t in emu.tasks() if "SAFETY" in t["body"]["promptText"]]
    assert caught.value.task_ids == [task["id"]]
    assert str(caught.value) == (
        "1 of 2 items stopped and 0 rows were refused (first: stage 1 (text_to_image): Task "
        f"{task['id']} failed (SAFETY.INPUT.TEXT): Generation failed (SAFETY.INPUT.TEXT).); "
        f"see the 'runway-pipeline-stills-pipeline' artifact and {PREFIX}{MANIFEST_NAME}. A "
        "rerun pays only for the stages not yet paid."
    )
    # Reported first: the manifest holds both chains, the failed one with its reason.
    shown = {i["id"]: i for i in read_pipeline_manifest(s3, PREFIX + MANIFEST_NAME)["items"]}
    assert (shown["item0"]["status"], shown["item1"]["status"]) == ("complete", "stopped")
    posts = emu.stats()["posts"]
    assert run(emu, table, STAGES[:2]).stopped == 1  # by default: reported, not raised
    assert emu.stats()["posts"] == posts


def test_the_command_line_runs_a_pipeline_and_fails_on_errors(s3, emu, tmp_path, monkeypatch,
                                                             capsys):
    help_text = subprocess.run([sys.executable, "-m", "prefect_runway.flows.pipeline", "--help"],
                               capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert help_text.startswith("usage: python -m prefect_runway.flows.pipeline")
    assert "table stages output_prefix" in help_text and "--fail-on-errors" in help_text
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
    table, stages = tmp_path / "items.csv", tmp_path / "stages.json"
    table.write_text("id,promptText,motion\nk1,a kite,drifting left\n")
    stages.write_text(json.dumps(STAGES[:2]))
    assert pipeline_main([str(table), str(stages), PREFIX, "--concurrency", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["complete"], printed["stopped"], printed["paid"]) == (1, 0, 2)
    assert printed["manifest_uri"] == PREFIX + MANIFEST_NAME
    assert [link["status"] for link in printed["items"][0]["chain"]] == ["succeeded"] * 2
    assert len(emu.tasks()) == 2
    table.write_text("id,promptText,motion\nbad,[emulator:fail=SAFETY.INPUT.TEXT],left\n")
    assert pipeline_main([str(table), str(stages), PREFIX]) == 0  # reported only
    assert pipeline_main([str(table), str(stages), PREFIX, "--fail-on-errors"]) == 1
    assert len(emu.tasks()) == 3  # the failed stage was paid once, never again


def test_several_outputs_by_index_and_refusals_before_paying(s3, emu):
    stages = [
        {"endpoint": "text_to_image", "fields": {"model": "gpt_image_2", "ratio": "1920:1088"}},
        {"endpoint": "image_to_video", "fields": {"model": VIDEO, "ratio": "1280:720"},
         "inputs": {"promptImage": "output[1]"}},
    ]  # fmt: skip
    table = [{"id": "two", "promptText": "two stills", "outputCount": 2},
             {"id": "bad", "promptText": "x", "ratio": "7:3"}]  # fmt: skip
    result = run(emu, table, stages)
    (item,) = result.items
    assert item.status == "complete"
    assert [key_of(u) for u in item.chain[0].outputs] == [
        "pipeline/two/1-text_to_image-1.png", "pipeline/two/1-text_to_image-2.png"]
    assert len(result.rejected) == 1 and "7:3" in result.rejected[0]
    one = [{"id": "one", "promptText": "one still"}]  # a single output has no [1]
    stopped = run(emu, one, stages).items[0]
    assert stopped.status == "stopped" and "made 1 output" in stopped.error
    with pytest.raises(RunwayValidationError, match="stage 2"):
        run(emu, one, [stages[0], {**stages[1], "fields": {"model": VIDEO, "ratio": "3:1"}}])
    with pytest.raises(RunwayValidationError, match="no stage comes before"):
        run(emu, one, [{**stages[1]}])


def test_stage_inputs_are_checked():
    with pytest.raises(ValueError, match="expected 'output'"):
        Stage(endpoint="image_to_video", inputs={"promptImage": "previous"})
    assert Stage(endpoint="video-upscale").endpoint == "video_upscale"
    assert Stage(endpoint="image_to_video", inputs={"promptText": "row.motion"}).row_columns() \
        == {"motion"}
    assert item_folder("cat#2") == "cat_2"


def test_a_csv_table_carries_columns_for_later_stages(s3, emu, tmp_path):
    table = tmp_path / "items.csv"
    table.write_text("id,promptText,motion\nk1,a kite,drifting left\n")
    result = run(emu, str(table))
    assert result.complete == 1 and not result.rejected
    (video,) = tasks_by_model(emu)[VIDEO]
    assert video["body"]["promptText"] == "drifting left"


CHILD = """
import asyncio, sys
from pydantic import SecretStr
from prefect_runway import RunwayCredentials
from prefect_runway.flows.pipeline import run_pipeline
import json
stages, rows, prefix, url, key = json.loads(sys.argv[1])
creds = RunwayCredentials(api_key=SecretStr(key), base_url=url, poll_interval=0.05)
asyncio.run(run_pipeline(rows, stages, prefix, credentials_block=creds))
"""


@pytest.mark.slow  # a fresh interpreter importing Prefect, then two runs: ~20 s each
@pytest.mark.parametrize("delay", [0.0, 0.3], ids=["at-the-first-create", "after-the-answers"])
def test_sigkill_in_stage_2_then_a_rerun_never_pays_a_stage_twice(s3, make_emulator, delay):
    """Killed as soon as the emulator holds a stage-2 task (the others' creates in flight:
    their intents have no answer, so the rerun reports them unknown and pays nothing), or a
    moment later (answers recorded: the rerun waits for those tasks and goes on)."""
    from prefect.settings import PREFECT_API_URL

    emu = make_emulator(concurrency=5, concurrency_per_model=True, generation_seconds=1.0,
                        fetch_urls=False)  # fmt: skip
    table = rows()
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    args = json.dumps([STAGES, table, PREFIX, emu.base_url, API_KEY])
    child = subprocess.Popen([sys.executable, "-c", CHILD, args], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while not any(t["model"] == VIDEO for t in emu.tasks()):
            assert child.poll() is None, child.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no stage-2 task within 240 s"
            time.sleep(0.005)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()  # reaped: its locks are a dead process's, broken by the rerun
    assert child.returncode == -signal.SIGKILL
    time.sleep(0.5)  # a create the emulator was still answering lands before the count
    killed_at = {m: len(ts) for m, ts in tasks_by_model(emu).items()}
    assert killed_at[IMAGE] == 3 and UPSCALE not in killed_at

    result = run(emu, table)
    by_model = tasks_by_model(emu)
    # Never two tasks for one stage of one item (stage 1 and 2 bodies name their item).
    assert Counter(t["body"]["promptText"] for t in by_model[IMAGE]) == Counter(
        r["promptText"] for r in table)
    per_item = Counter(t["body"]["promptText"] for t in by_model[VIDEO])
    assert set(per_item.values()) == {1} and len(by_model[VIDEO]) <= 3
    upscales = by_model.get(UPSCALE, [])
    assert sorted(t["id"] for t in upscales) == sorted(chain_ids(result, 3))
    for item in result.items:
        assert item.chain[0].submission == "cached"  # paid before the kill
        assert all(len(link.task_ids) <= 1 for link in item.chain)
        second = item.chain[1]
        if second.submission == "unknown":  # killed between its intent and its answer
            assert item.status == "stopped" and "may exist" in (second.error or "")
        else:
            assert item.status == "complete" and second.submission in ("cached", "submitted")
    stats = emu.stats()
    assert stats["posts"] == stats["tasks_created"]
    assert result.paid == len(upscales) + (len(by_model[VIDEO]) - killed_at[VIDEO])
    assert result.complete == len(upscales)
    if delay:  # the answers were in the ledger before the kill: every item went on
        assert result.complete == 3 and all(i.chain[1].submission == "cached"
                                            for i in result.items)
