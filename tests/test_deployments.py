"""deployments/prefect.yaml end to end: a real `prefect server` process, `prefect deploy --all`,
a real process worker, one run of the nightly deployment against moto's S3 and the emulator.

Every Prefect process is a subprocess with its own PREFECT_HOME and PREFECT_API_URL; each is
started in its own process group and stopped (with its descendants) even when the test fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.flows.common import batch_key
from prefect_runway.flows.drive_batch import PROGRESS_KEY
from prefect_runway.flows.reconcile_spend import RECONCILE_KEY
from prefect_runway.flows.s3_image_to_video import TABLE_KEY
from prefect_runway.s3.objects import MANIFEST_NAME
from prefect_runway.testing.emulator import Emulator
from prefect_runway.testing.emulator.samples import png
from tests._support.processes import (
    PREFECT,
    ROOT,
    TERMINAL,
    free_port,
    prefect,
    running,
    tail,
)
from tests._support.s3 import empty_bucket, s3_client
from tests.conftest import API_KEY

POOL = "runway-pool"
NIGHTLY = "s3-image-to-video/s3-image-to-video-nightly"
HOURLY = "collect-runway-videos/collect-runway-videos-hourly"
DRIVE = "drive-runway-batch/drive-runway-batch-daily"
RECONCILE = "reconcile-runway-spend/reconcile-spend-daily"
BUCKET = "deploy-stills"
PREFIX = "nightly/"
IMAGES = 3


@pytest.fixture
def prefect_server(tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """A `prefect server start` process on a free port; yields its API URL and a client env."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    # Nothing Prefect from the test session leaks in (conftest's home, storage, harness).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AWS_"))}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_CLI_PROMPT": "false",
        }
    )
    log = tmp_path / "server.log"
    # No scheduler: the deployments' cron schedules are checked, not run.
    args = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with running([*args, "--no-scheduler"], env, log) as server:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"prefect server exited:\n{tail(log)}"
            assert time.monotonic() < deadline, f"prefect server not healthy:\n{tail(log)}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url, env


@pytest.fixture
def api(prefect_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=prefect_server[0], timeout=10) as client:
        yield client


@pytest.fixture
def moto_s3(moto_server) -> Iterator[tuple[str, object]]:
    """The session's moto S3 server, a bucket with IMAGES PNGs; yields endpoint, client."""
    s3 = s3_client(moto_server)
    s3.create_bucket(Bucket=BUCKET)
    for i in range(IMAGES):
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}still-{i}.png",
                      Body=png(32, 18, (i * 60, 90, 200)), ContentType="image/png")  # fmt: skip
    yield moto_server, s3
    empty_bucket(s3, BUCKET)


@pytest.fixture
def worker_runway(make_emulator) -> Emulator:
    """An emulator the worker's flow runs reach through the saved credentials block (not
    through RUNWAYML_* variables, unlike conftest's `runway`)."""
    return make_emulator(concurrency=4, generation_seconds=0.3)


def wait_for_run(api: httpx.Client, run_id: str, worker: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + 180
    while True:
        run = api.get(f"/flow_runs/{run_id}").raise_for_status().json()
        if run["state_type"] in TERMINAL:
            return run
        assert worker.poll() is None, f"the worker exited:\n{tail(log)}"
        assert time.monotonic() < deadline, f"flow run still {run['state_type']}:\n{tail(log)}"
        time.sleep(0.5)


def trigger(env: dict[str, str], deployment: str, **parameters: str) -> str:
    """`prefect deployment run` with parameters; the new flow run's ID."""
    args = [arg for key, value in parameters.items() for arg in ("-p", f"{key}={value}")]
    out = prefect(env, "deployment", "run", deployment, *args)
    match = re.search(r"UUID: ([0-9a-f-]{36})", out)
    assert match, out
    return match.group(1)


@pytest.mark.timeout(600)  # five flow runs by a worker on a shared 2-core machine
def test_deploy_all_then_a_process_worker_runs_both_deployments(
    prefect_server, api, moto_s3, worker_runway, tmp_path
):
    url, env = prefect_server
    endpoint, s3 = moto_s3
    prefect(env, "work-pool", "create", POOL, "--type", "process")
    prefect(env, "--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml")

    nightly = api.get(f"/deployments/name/{NIGHTLY}").raise_for_status().json()
    hourly = api.get(f"/deployments/name/{HOURLY}").raise_for_status().json()
    assert nightly["entrypoint"] == "flows/s3_image_to_video.py:s3_image_to_video"
    assert hourly["entrypoint"] == "flows/collect_videos.py:collect_videos"
    for deployment, cron in ((nightly, "0 2 * * *"), (hourly, "0 * * * *")):
        assert deployment["work_pool_name"] == POOL
        schedules = [(s["schedule"].get("cron"), s["active"]) for s in deployment["schedules"]]
        assert schedules == [(cron, False)]  # paused until the placeholders are edited
        assert deployment["schedules"][0]["schedule"]["timezone"]
        [step] = deployment["pull_steps"]
        directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
        assert os.path.samefile(directory, ROOT)  # resolved at deploy time, not a template
    assert nightly["parameters"] == {
        "bucket": "my-stills-bucket", "prefix": "stills/", "model": "gen4_turbo",
        "ratio": "1280:720", "duration": 5, "budget_credits": 2500, "credentials_block": "runway",
    }  # fmt: skip
    assert hourly["parameters"] == {
        "output_prefix": "s3://my-stills-bucket/videos/",
        "manifest_uri": "s3://my-stills-bucket/stills/runway-manifest.json",
        "credentials_block": "runway",
    }

    # The key goes into the block (encrypted by the server), the deployment only names it.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        block = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=worker_runway.base_url)
        block.save("runway")

    # The flow runs in the worker's child process, which inherits the worker's environment.
    worker_env = env | {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }
    log = tmp_path / "worker.log"
    videos = f"s3://{BUCKET}/videos/"
    with running([*PREFECT, "worker", "start", "--pool", POOL], worker_env, log) as worker:
        run_id = trigger(env, NIGHTLY, bucket=BUCKET, prefix=PREFIX)
        run = wait_for_run(api, run_id, worker, log)
        assert run["state_type"] == "COMPLETED", f"{run['state']}\n{tail(log)}"
        # The hourly deployment collects that batch from its manifest.
        manifest_uri = f"s3://{BUCKET}/{PREFIX}{MANIFEST_NAME}"
        collect_id = trigger(env, HOURLY, output_prefix=videos, manifest_uri=manifest_uri)
        collected = wait_for_run(api, collect_id, worker, log)
        assert collected["state_type"] == "COMPLETED", f"{collected['state']}\n{tail(log)}"
        # The daily driver finds the batch done: it says so and submits nothing.
        drive_id = trigger(env, DRIVE, bucket=BUCKET, prefix=PREFIX, output_prefix=videos)
        driven = wait_for_run(api, drive_id, worker, log)
        assert driven["state_type"] == "COMPLETED", f"{driven['state']}\n{tail(log)}"
        # The daily reconciliation finds Runway's usage and the workers' ledger agree.
        reconciled = wait_for_run(api, trigger(env, RECONCILE), worker, log)
        assert reconciled["state_type"] == "COMPLETED", f"{reconciled['state']}\n{tail(log)}"
    assert run["deployment_id"] == nightly["id"] and collected["deployment_id"] == hourly["id"]
    assert run["parameters"]["bucket"] == BUCKET and run["parameters"]["prefix"] == PREFIX
    assert run["parameters"]["credentials_block"] == "runway"

    drive = api.get(f"/deployments/name/{DRIVE}").raise_for_status().json()
    assert drive["entrypoint"] == "prefect_runway/flows/drive_batch.py:drive_batch"
    assert [s["active"] for s in drive["schedules"]] == [False]
    reconcile = api.get(f"/deployments/name/{RECONCILE}").raise_for_status().json()
    assert reconcile["entrypoint"] == "prefect_runway/flows/reconcile_spend.py:reconcile_spend"
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"], s["active"])
            for s in reconcile["schedules"]] == [("0 6 * * *", "UTC", False)]  # fmt: skip
    assert reconcile["parameters"] == {"days": 7, "tolerance_credits": 0,
                                       "credentials_block": "runway"}  # fmt: skip
    only = {"key": {"any_": [RECONCILE_KEY]}, "flow_run_id": {"any_": [reconciled["id"]]}}
    [books] = api.post("/artifacts/filter", json={"artifacts": only}).raise_for_status().json()
    [day] = json.loads(books["data"]) if isinstance(books["data"], str) else books["data"]
    assert (day["usage_credits"], day["ledger_credits"], day["gap"]) == (75, 75, 0)
    progress_key = batch_key(PROGRESS_KEY, f"{BUCKET}/{PREFIX}")
    only = {"key": {"any_": [progress_key]}, "flow_run_id": {"any_": [driven["id"]]}}
    [progress] = api.post("/artifacts/filter", json={"artifacts": only}).raise_for_status().json()
    assert "complete: nothing left to submit or collect" in progress["data"]

    stats = worker_runway.stats()
    assert (stats["posts"], stats["tasks_created"]) == (IMAGES, IMAGES)
    table_key = batch_key(TABLE_KEY, f"{BUCKET}/{PREFIX}")
    only = {"key": {"any_": [table_key]}, "flow_run_id": {"any_": [run["id"]]}}
    artifacts = api.post("/artifacts/filter", json={"artifacts": only}).raise_for_status().json()
    assert len(artifacts) == 1
    table = artifacts[0]["data"]
    table = json.loads(table) if isinstance(table, str) else table
    assert len(table) == IMAGES
    assert {row["status"] for row in table} == {"submitted"}
    assert len({row["task_id"] for row in table if row["task_id"]}) == IMAGES
    assert {row["source"] for row in table} == {
        f"s3://{BUCKET}/{PREFIX}still-{i}.png" for i in range(IMAGES)
    }
    # The worker's flow run wrote the manifest to moto (the S3 endpoint came from the env).
    body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}{MANIFEST_NAME}")["Body"].read()
    manifest = json.loads(body)
    assert manifest["flow_run_id"] == run["id"]
    assert sorted(r["task_id"] for r in manifest["rows"]) == sorted(r["task_id"] for r in table)
    assert len(manifest["rows"]) == IMAGES

    # ... and the hourly run copied every video next to them, recording it in the manifest.
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="videos/").get("Contents", [])
    assert len([obj for obj in listing if obj["Key"].endswith(".mp4")]) == IMAGES
    assert {row.get("final_status") for row in manifest["rows"]} == {"SUCCEEDED"}
