"""Ways out that cost nothing: adopting a known task for an unknown outcome, through the flow
and the CLI; a recorded task is never replaced."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.cli import main
from prefect_runway.errors import RecordConflictError, RunwayNotFoundError
from prefect_runway.testing.emulator import Faults
from prefect_runway.testing.emulator.samples import png
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")


def held(s3, runway, prefix: str):
    """One image whose answer was lost: held as unknown, its task created at the emulator."""
    from prefect_runway.flows import s3_image_to_video

    s3.put_object(Bucket=BUCKET, Key=f"{prefix}cat.png", Body=png(9, 9, (5, 6, 7)))
    strict = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url,
                               retry_lost_responses=False, max_retries=0)  # fmt: skip
    runway.set_faults(Faults(rate_lost_response=1.0))
    result = asyncio.run(s3_image_to_video(BUCKET, prefix, credentials_block=strict,
                                           fail_on_errors=False))  # fmt: skip
    runway.set_faults(Faults())
    [row] = result.rows
    [task] = runway.tasks()
    assert row.status == "unknown" and row.task_id is None
    return strict, row, task["id"]


def test_the_flow_adopts_a_known_task_and_pays_nothing(s3, runway):
    from prefect_runway.flows import s3_image_to_video

    strict, row, task_id = held(s3, runway, "ad/")
    posts = runway.stats()["posts"]
    result = asyncio.run(s3_image_to_video(BUCKET, "ad/", credentials_block=strict,
                                           adopt={row.source: task_id}))  # fmt: skip
    [adopted] = result.rows
    assert (adopted.status, adopted.task_id) == ("cached", task_id)
    assert adopted.possible_duplicate
    again = asyncio.run(s3_image_to_video(BUCKET, "ad/", credentials_block=strict))
    assert again.rows[0].task_id == task_id and again.rows[0].possible_duplicate
    assert runway.stats()["posts"] == posts  # adopting pays nothing
    assert runway.stats()["tasks_created"] == 1


def test_the_cli_adopts_and_never_replaces_a_recorded_task(s3, runway, monkeypatch, capsys):
    strict, row, task_id = held(s3, runway, "cli/")
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", runway.base_url)
    assert row.cache_key
    assert main(["ledger", "adopt", row.cache_key, "no-such-task"]) == 1
    assert "cannot be read on this account" in capsys.readouterr().err
    assert main(["ledger", "adopt", row.cache_key, task_id]) == 0
    assert capsys.readouterr().out.strip().split("\t") == [row.source, task_id, "adopted"]
    assert main(["ledger", "adopt", row.cache_key, "another-task-id"]) == 1
    assert f"already holds Runway task {task_id}" in capsys.readouterr().err
    assert runway.stats()["tasks_created"] == 1


def test_adopt_refuses_a_missing_record(emulator, credentials):
    from prefect_runway.ledger.adopt import adopt

    with pytest.raises(RecordConflictError, match="nothing to adopt"):
        asyncio.run(adopt(credentials, "runway-i2v-0000", "x"))
    assert emulator.stats()["polls"] == 0  # refused before asking Runway


def test_adopt_refuses_a_task_the_account_cannot_read(s3, runway):
    from prefect_runway.ledger.adopt import adopt
    from prefect_runway.ledger.records import Ledger

    strict, row, _ = held(s3, runway, "nf/")
    with pytest.raises(RunwayNotFoundError, match="nothing was adopted"):
        asyncio.run(adopt(strict, row.cache_key, "no-such-task"))

    async def state() -> str:
        record = await (await Ledger.default()).read(str(row.cache_key))
        assert record is not None
        return record.state

    assert asyncio.run(state()) == "unknown"  # still held, nothing recorded in its name
