"""The first five minutes: the package from anywhere, flows as Prefect users expect, a CLI and
artifacts a person reads, and a first run that does not time out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from prefect import Flow
from pydantic import SecretStr

import prefect_runway
from prefect_runway import RunwayCredentials, sample_image, sample_image_data_uri
from prefect_runway.cli import main
from prefect_runway.errors import RunwayValidationError
from prefect_runway.flows.common import S3Location, batch_key
from prefect_runway.testing.emulator.samples import png
from tests.conftest import API_KEY, BUCKET

ROOT = Path(__file__).resolve().parent.parent
FLOW_MODULES = ("s3_image_to_video", "collect_videos", "drive_batch", "reconcile_spend")


def fill(s3, prefix: str, count: int) -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.png", Body=png(8, 8, (i * 40, 9, 9)))


def test_version_is_the_installed_distributions(capsys):
    assert prefect_runway.__version__ == version("prefect-runway") != "0.0.0+unknown"
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"prefect-runway {prefect_runway.__version__}"


def test_the_sample_image_comes_from_the_package_from_any_folder(tmp_path):
    data = sample_image()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 100
    assert sample_image_data_uri().startswith("data:image/png;base64,iVBOR")
    out = subprocess.run([sys.executable, "-m", "prefect_runway.cli", "sample-image"],
                         cwd=tmp_path, capture_output=True, timeout=60)  # fmt: skip
    assert out.returncode == 0 and out.stdout == data
    assert main(["sample-image", "-o", str(tmp_path / "cat.png")]) == 0
    assert (tmp_path / "cat.png").read_bytes() == data


def test_the_license_ships_in_the_repository_and_the_metadata():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    from importlib.metadata import metadata

    meta = metadata("prefect-runway")
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in (meta.get_all("License-File") or [])


def test_the_flows_package_exports_the_flows_themselves():
    from prefect_runway.flows import (
        collect_videos,
        drive_batch,
        reconcile_spend,
        s3_image_to_video,
    )

    for obj in (collect_videos, drive_batch, reconcile_spend, s3_image_to_video):
        assert isinstance(obj, Flow), obj


@pytest.mark.parametrize("name", FLOW_MODULES)
def test_every_flow_module_runs_with_help(name, tmp_path):
    run = subprocess.run([sys.executable, "-m", f"prefect_runway.flows.{name}", "--help"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: python -m prefect_runway.flows.{name}")
    if name not in ("collect_videos", "reconcile_spend"):
        assert "(default: gen4_turbo)" in run.stdout and "seedance2" in run.stdout
        assert "--duration SECONDS" in run.stdout and "(default: 5)" in run.stdout


def test_submit_help_shows_defaults_ranges_and_the_models(capsys):
    with pytest.raises(SystemExit):
        main(["submit", "--help"])
    out = capsys.readouterr().out
    # The image_to_video defaults, named as such: other endpoints have their own fields.
    text = " ".join(out.split())
    assert "(image_to_video: default gen4_turbo," in text
    assert "(image_to_video: default 1280:720)" in text
    assert "(image_to_video: default 5;" in text and "--seed 0-4294967295" in out
    assert "kling3.0_pro" in out and "(default: None)" not in out


def test_dry_run_prints_the_price_and_pays_nothing_then_knows_what_is_paid(
    emulator, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    image = tmp_path / "cat.png"
    image.write_bytes(png(8, 8, (1, 2, 3)))
    other = tmp_path / "dog.png"
    other.write_bytes(png(8, 8, (3, 2, 1)))

    assert main(["submit", str(image), str(other), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert emulator.stats()["posts"] == 0
    assert [line.split("\t")[1:] for line in out.splitlines()] == [
        ["would submit", "5s", "~25 credits"], ["would submit", "5s", "~25 credits"]]  # fmt: skip
    assert "2 of 2 would be paid, ~50 credits (~0.50 USD); nothing was sent" in err

    assert main(["submit", str(image)]) == 0
    task_id = capsys.readouterr().out.split("\t")[1]
    assert main(["submit", str(image), str(other), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split("\t")[1:] == [f"cached {task_id}", "5s", "0 credits"]
    assert "1 of 2 would be paid, ~25 credits" in err
    assert emulator.stats()["posts"] == 1


def test_dry_run_refuses_bad_settings_like_a_real_submit(emulator, monkeypatch, capsys):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    assert main(["submit", sample_image_data_uri(), "--ratio", "1280:768", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "ratio '1280:768' is not supported by gen4_turbo" in err
    assert "pydantic" not in err and emulator.stats()["posts"] == 0


def test_emulator_help_and_banner_show_how_to_read_its_counts(capsys):
    from prefect_runway.testing.emulator.cli import build_parser, export_lines

    text = build_parser().format_help()
    for endpoint in ("/_emulator/health", "/_emulator/stats", "/_emulator/reset"):
        assert endpoint in text
    assert "tasks_created" in text
    banner = export_lines("http://127.0.0.1:8008", None, "runway")
    assert "curl -s http://127.0.0.1:8008/_emulator/stats" in banner


# -- flows, on the Prefect test harness ------------------------------------------------------


@pytest.fixture
def harness(prefect_harness):
    return None


def test_a_flow_takes_a_credentials_block_instance(s3, emulator, harness):
    from prefect_runway.flows import s3_image_to_video

    fill(s3, "blk/", 2)
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emulator.base_url)
    result = asyncio.run(s3_image_to_video(BUCKET, "blk/", credentials_block=creds))
    assert result.submitted == 2 and emulator.stats()["posts"] == 2


def test_the_source_can_be_an_s3bucket_block(s3, runway, harness, moto_server):
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    from prefect_runway.flows import s3_image_to_video

    fill(s3, "team/a/", 3)
    fill(s3, "team/b/", 2)  # outside the block's folder + prefix: never listed
    block = S3Bucket(
        bucket_name=BUCKET,
        bucket_folder="team",
        credentials=AwsCredentials(
            aws_access_key_id="testing", aws_secret_access_key=SecretStr("testing"),
            region_name="us-east-1",
            aws_client_parameters=AwsClientParameters(endpoint_url=moto_server),
        ),
    )  # fmt: skip
    result = asyncio.run(s3_image_to_video(block, "a/"))
    assert result.submitted == 3 and runway.stats()["posts"] == 3
    assert result.manifest_uri == f"s3://{BUCKET}/team/a/runway-manifest.json"
    expected = {f"s3://{BUCKET}/team/a/{i}.png" for i in range(3)}
    assert {row.source for row in result.rows} == expected


def test_bad_settings_fail_the_flow_with_one_clear_line(s3, runway, harness):
    from prefect_runway.flows import s3_image_to_video

    with pytest.raises(RunwayValidationError) as error:
        asyncio.run(s3_image_to_video(BUCKET, "x/", ratio="1280:768"))
    text = str(error.value)
    assert "ratio '1280:768' is not supported by gen4_turbo" in text
    assert "\n" not in text and "pydantic" not in text and "validation error" not in text
    assert runway.stats()["posts"] == 0


def test_artifacts_name_the_batch_lead_with_what_a_person_reads_and_logs_end_with_counts(
    s3, runway, harness, run_logs
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from prefect_runway.flows import s3_image_to_video
    from prefect_runway.flows.s3_image_to_video import SUMMARY_KEY, TABLE_KEY

    fill(s3, "art/", 3)
    result = asyncio.run(s3_image_to_video(BUCKET, "art/"))
    key = batch_key(TABLE_KEY, S3Location(BUCKET, "art/"))
    assert key == "runway-task-ids-stills-art"

    async def read(keys: list[str]):
        async with get_client() as client:
            return await client.read_latest_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys)))

    [table] = asyncio.run(read([key]))
    assert table.description == f"Runway task IDs for s3://{BUCKET}/art/"  # no "(part 1)"
    rows = json.loads(table.data)
    assert list(rows[0])[:4] == ["source", "status", "task_id", "error"]
    assert {row["task_id"] for row in rows} == set(result.task_ids)
    assert asyncio.run(read([batch_key(SUMMARY_KEY, f"{BUCKET}/art/")]))
    last = [line for line in run_logs if "New task IDs" in line]
    assert len(last) == 1 and "3 submitted (~75 credits), 0 cached" in last[0]
    assert all(task_id in last[0] for task_id in result.task_ids)


def test_a_first_run_on_a_busy_machine_does_not_time_out(tmp_path):
    """A fresh PREFECT_HOME, one core kept busy: the documented setting lets the ephemeral
    server build its database and start (Prefect's 20 s default often does not)."""
    burn = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(tmp_path / "home"), DO_NOT_TRACK="1",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")  # fmt: skip
        code = "from prefect import flow\n@flow\ndef empty():\n    return 7\nprint(empty())\n"
        run = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    finally:
        burn.kill()
        burn.wait()
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("7")
    assert "ERROR" not in run.stdout + run.stderr
