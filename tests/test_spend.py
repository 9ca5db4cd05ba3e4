"""What a batch cost: the collector's estimated vs charged credits, per batch and per model,
read back from its artifacts and compared with what the emulator charged (its organization's
credit balance and its usage endpoint), against moto's S3 and Prefect's harness."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from prefect_runway.api.client import RunwayClient
from prefect_runway.flows.collect_videos import (
    COLLECT_SUMMARY_KEY,
    VIDEOS_KEY,
    ModelSpend,
    collect_videos,
)
from prefect_runway.flows.common import batch_key
from prefect_runway.flows.generate_from_table import generate_from_table
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.testing.emulator import Faults
from prefect_runway.testing.emulator.samples import png
from tests._support import API_KEY, BUCKET
from tests._support.prefect_api import read_artifact
from tests._support.s3 import put_csv

pytestmark = pytest.mark.usefixtures("prefect_harness")

MANIFEST = f"s3://{BUCKET}/in/runway-manifest.json"
VIDEOS = f"s3://{BUCKET}/videos/"
START_BALANCE = 100000  # the emulator's default
PER_VIDEO = 25  # gen4_turbo, 5 s at 5 credits a second
MINUTES_10 = 600


def put_images(s3, first: int, count: int) -> None:
    for i in range(first, first + count):
        s3.put_object(Bucket=BUCKET, Key=f"in/img-{i:03d}.png",
                      Body=png(32, 18, (i * 8, 60, 120)))  # fmt: skip


def submit(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "in/", concurrency=4, **kwargs))


def collect(output_prefix: str = VIDEOS, **kwargs):
    kwargs.setdefault("manifest_uri", MANIFEST)
    return asyncio.run(collect_videos(output_prefix=output_prefix, **kwargs))


def charged_by_emulator(emu) -> tuple[float, dict[str, float]]:
    """The organization's credit balance drop, and the usage endpoint's credits per model."""
    today = datetime.now(timezone.utc).date()
    with RunwayClient(API_KEY, base_url=emu.base_url) as client:
        balance = client.organization().credit_balance
        usage = client.organization_usage(today, today + timedelta(days=1))
    used = {model: amount for (_, model), amount in usage.credits().items()}
    assert balance is not None
    return START_BALANCE - balance, used


def spend_table(output_prefix: str = VIDEOS) -> tuple[dict[str, ModelSpend], str]:
    """The summary artifact's Spend table, parsed (the total as ``total``), and its text."""
    summary = asyncio.run(read_artifact(batch_key(COLLECT_SUMMARY_KEY, output_prefix))).data
    section = summary.split("## Spend", 1)[1]
    found = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or not re.fullmatch(r"\d+", cells[1]):
            continue
        assert cells[5] == f"{float(cells[3]) / 100:.2f} USD"  # 1 credit = 0.01 USD
        found[cells[0].strip("*")] = ModelSpend(
            generations=int(cells[1]), estimated=float(cells[2]), charged=float(cells[3]),
            refunded=float(cells[4]))  # fmt: skip
    return found, section


def table_rows(output_prefix: str = VIDEOS) -> dict[str, dict]:
    table = json.loads(asyncio.run(read_artifact(batch_key(VIDEOS_KEY, output_prefix))).data)
    return {row["task_id"]: row for row in table}


def test_failed_generations_are_refunded_and_the_summary_matches_the_emulator(
    s3, runway, run_logs
):
    put_images(s3, 0, 4)
    submit()
    runway.set_faults(Faults(rate_task_failure=1.0))  # every new task ends FAILED
    put_images(s3, 4, 2)
    batch = submit()  # the first four are cache hits: only the two new images are paid
    assert runway.stats()["tasks_created"] == 6 and len(batch.task_ids) == 6

    result = collect(wait_seconds=30)
    assert (result.succeeded, result.failed, result.pending) == (4, 2, 0)
    dropped, used = charged_by_emulator(runway)
    assert dropped == used["gen4_turbo"] == 4 * PER_VIDEO  # the failed two were refunded
    expected = ModelSpend(generations=6, estimated=6 * PER_VIDEO, charged=4 * PER_VIDEO,
                          refunded=2 * PER_VIDEO)  # fmt: skip
    assert result.spend_by_model == {"gen4_turbo": expected}
    assert (result.estimated_credits, result.charged_credits, result.refunded_credits) == (
        150, dropped, 50)  # fmt: skip
    assert (result.not_yet_charged, result.not_yet_charged_estimated_credits) == (0, 0)

    spend, text = spend_table()
    assert spend == {"gen4_turbo": expected, "total": expected}
    assert "Charged 100 credits (1.00 USD, 1 credit = 0.01 USD) of ~150 estimated" in text
    assert "Not yet charged: 0 generations" in text
    rows = table_rows()
    assert sorted((r["state"], r["estimated_credits"], r["charged_credits"])
                  for r in rows.values()) == [("FAILED", 25, 0)] * 2 + [
        ("collected", 25, 25)] * 4  # fmt: skip
    assert any("charged 100 of ~150 estimated credits" in line for line in run_logs)

    again = collect()  # everything finished earlier: the same totals, nothing counted twice
    assert again.already_collected == 6
    assert (again.spend_by_model, again.charged_credits) == (result.spend_by_model, 100)
    assert spend_table()[0] == spend
    assert charged_by_emulator(runway)[0] == dropped


def test_pending_generations_are_not_yet_charged(s3, make_emulator):
    emu = make_emulator(env=True, concurrency=2, generation_seconds=MINUTES_10,
                        output_url_ttl=3600)  # fmt: skip
    put_images(s3, 0, 4)
    submit()
    first = collect()  # nothing ended: nothing charged, four estimates outstanding
    assert first.spend_by_model == {} and first.charged_credits == 0
    assert (first.not_yet_charged, first.not_yet_charged_estimated_credits) == (4, 100)
    spend, text = spend_table()
    assert spend == {"total": ModelSpend()}
    assert "Not yet charged: 4 generations still running or pending, ~100 credits" in text
    assert {r["charged_credits"] for r in table_rows().values()} == {""}  # blank, never 0

    emu.advance_clock(MINUTES_10)  # two slots: two generations end
    second = collect()
    assert second.spend_by_model == {
        "gen4_turbo": ModelSpend(generations=2, estimated=50, charged=50, refunded=0)}
    assert (second.not_yet_charged, second.not_yet_charged_estimated_credits) == (2, 50)
    dropped, _ = charged_by_emulator(emu)  # taken at creation: the pending two included
    assert second.charged_credits == dropped - second.not_yet_charged_estimated_credits
    charged = sorted(str(r["charged_credits"]) for r in table_rows().values())
    assert charged == ["", "", "25.0", "25.0"]

    emu.advance_clock(MINUTES_10)
    third = collect()
    assert (third.charged_credits, third.not_yet_charged) == (100, 0)
    assert third.charged_credits == charged_by_emulator(emu)[0]
    fourth = collect()  # nothing new: the same totals
    assert fourth.spend_by_model == third.spend_by_model
    assert spend_table()[0]["total"] == ModelSpend(generations=4, estimated=100, charged=100)


def test_a_table_batch_is_broken_down_by_endpoint_and_model(s3, runway):
    table = put_csv(s3, "jobs/stills.csv", [
        {"id": "kite", "prompt_text": "a red kite", "ratio": "1920:1080"},
        {"id": "sea", "prompt_text": "a calm sea", "ratio": "1920:1080"},
        {"id": "bad", "prompt_text": "a cat [emulator:fail=SAFETY.INPUT.TEXT]",
         "ratio": "1920:1080"},
    ])  # fmt: skip
    batch = asyncio.run(generate_from_table(table, endpoint="text_to_image",
                                            defaults={"model": "gen4_image"}))  # fmt: skip
    assert batch.submitted == 3
    images = f"s3://{BUCKET}/images/"
    result = collect(images, manifest_uri=f"{table}.runway-manifest.json", wait_seconds=30)
    assert (result.succeeded, result.failed) == (2, 1)
    dropped, used = charged_by_emulator(runway)
    [(key, spend)] = result.spend_by_model.items()
    assert key == "text_to_image/gen4_image"
    per_image = spend.estimated / 3
    assert spend == ModelSpend(generations=3, estimated=3 * per_image, charged=2 * per_image,
                               refunded=per_image)  # fmt: skip
    assert spend.charged == dropped == used["gen4_image"]
    assert spend_table(images)[0] == {key: spend, "total": spend}
    failed = [r for r in table_rows(images).values() if r["state"] == "FAILED"]
    assert [(r["estimated_credits"], r["charged_credits"]) for r in failed] == [(per_image, 0)]


def test_earlier_generations_count_with_generations_all_and_each_task_once(s3, runway):
    put_images(s3, 0, 2)
    submit()
    # Other settings on the same images: new tasks, the first ones become earlier generations.
    submit(model="gen4.5", duration=5, prompt_text="a slow pan")
    dropped, used = charged_by_emulator(runway)
    result = collect(wait_seconds=30, generations="all")
    assert result.succeeded == 4
    assert set(result.spend_by_model) == {"gen4_turbo", "gen4.5"}
    assert result.spend_by_model["gen4_turbo"] == ModelSpend(generations=2, estimated=50,
                                                             charged=50)  # fmt: skip
    assert result.spend_by_model["gen4.5"].charged == used["gen4.5"]
    assert result.charged_credits == dropped == sum(used.values())
    current = collect()  # the current generations only: the earlier ones are not counted
    assert set(current.spend_by_model) == {"gen4.5"}
    again = collect(generations="all")
    assert again.spend_by_model == result.spend_by_model


def test_a_task_in_two_rows_is_counted_once_and_a_lost_one_is_not_guessed():
    from prefect_runway.flows.collect_videos import _spend
    from prefect_runway.s3.manifest import ManifestRow

    ended = {"model": "gen4_turbo", "estimated_credits": 25}
    rows = [ManifestRow.model_validate(row) for row in [
        {**ended, "source": "a", "task_id": "t1", "collected_task_id": "t1",
         "final_status": "SUCCEEDED", "credits": 25, "output": "s3://b/v/a.mp4"},
        # Two sources with the same bytes and request share one paid task.
        {**ended, "source": "b", "task_id": "t2", "collected_task_id": "t2",
         "final_status": "FAILED", "credits": 0},
        {**ended, "source": "c", "task_id": "t2", "collected_task_id": "t2",
         "final_status": "FAILED", "credits": 0},
        {**ended, "source": "d", "task_id": "t3", "collected_task_id": "t3",
         "final_status": "LOST"},
        {"source": "e", "task_id": "t4", "model": "gen4_image", "endpoint": "text_to_image",
         "estimated_credits": 8},
        # A collector result for an earlier task is not the current one's.
        {**ended, "source": "f", "task_id": "t6", "collected_task_id": "t5",
         "final_status": "SUCCEEDED", "credits": 25},
    ]]  # fmt: skip
    spend = _spend(rows, [])
    assert spend["spend_by_model"] == {
        "gen4_turbo": ModelSpend(generations=2, estimated=50, charged=25, refunded=25)}
    assert (spend["not_yet_charged"], spend["not_yet_charged_estimated_credits"]) == (2, 33)
    assert spend["cost_unknown"] == 1
