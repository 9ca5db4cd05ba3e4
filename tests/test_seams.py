"""The typed seams between layers: a row's outcome, a batch's plan, a stored output."""

from __future__ import annotations

import asyncio
import json

import pytest

from prefect_runway.api.models import GenerationSettings, SubmittedTask
from prefect_runway.errors import RecordConflictError, RunwayError
from prefect_runway.ledger.engine import SubmissionRow
from prefect_runway.tasks import DownloadedOutput
from prefect_runway.testing.emulator.samples import png
from tests.conftest import BUCKET


def test_a_row_raises_its_own_exception_or_returns_its_task():
    bare = SubmissionRow(source="s3://b/a.png", status="failed", error="the API refused it")
    assert bare.task is None and bare.exception is None
    with pytest.raises(RunwayError, match="the API refused it"):
        bare.raise_for_status()

    conflict = RecordConflictError("another run wrote it first")
    failed = SubmissionRow(source="s3://b/a.png", status="failed", error=str(conflict))
    failed._exception = conflict  # as the engine sets it
    assert failed.exception is conflict
    with pytest.raises(RecordConflictError) as caught:
        failed.raise_for_status()
    assert caught.value is conflict

    task = SubmittedTask(id="t1")
    done = SubmissionRow(source="s3://b/a.png", status="submitted", task_id="t1")
    done._task = task
    assert done.task is task and done.raise_for_status() is task
    assert "task" not in done.model_dump() and "exception" not in done.model_dump()


def test_a_stored_output_is_typed_json_and_still_reads_like_the_old_dict():
    output = DownloadedOutput(location="s3://videos/out/cat.mp4", bytes=2200, sha256="ab" * 32)
    old_shape = {"location": "s3://videos/out/cat.mp4", "bytes": 2200, "sha256": "ab" * 32,
                 "content_type": "video/mp4"}  # fmt: skip
    assert output.model_dump(mode="json") == old_shape == dict(output)
    assert json.loads(output.model_dump_json()) == old_shape
    assert DownloadedOutput.model_validate(old_shape) == output
    assert output["location"] == output.location and output["bytes"] == 2200
    with pytest.raises(KeyError):
        output["model_config"]


@pytest.mark.usefixtures("prefect_harness")
def test_plan_batch_returns_a_typed_plan(s3, runway):
    from prefect_runway import RunwayCredentials
    from prefect_runway.flows.common import S3Location
    from prefect_runway.flows.s3_image_to_video import BatchPlan, plan_batch

    for i in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"plan/{i}.png", Body=png(6, 6, (i, 1, 1)))
    settings = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
    plan = asyncio.run(plan_batch.fn(RunwayCredentials(), settings, S3Location(BUCKET, "plan/"),
                                     "auto", remaining_today=2))  # fmt: skip
    assert plan == BatchPlan(listed=3, new=2, deferred=1, estimated_credits=50.0)
