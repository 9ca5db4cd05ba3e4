"""Spend reconciliation: Runway's usage (the emulator's books, over HTTP) against the ledger
(a folder, or moto's S3), read back from Prefect's API (artifacts, events) and the CLI."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.cli import main
from prefect_runway.errors import ConfigurationError, RecordReadError, RunwayValidationError
from prefect_runway.flows.reconcile_spend import (
    MISMATCH_EVENT,
    RECONCILE_KEY,
    RECONCILE_SUMMARY_KEY,
    reconcile_spend,
)
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
from prefect_runway.ledger.records import Ledger
from prefect_runway.testing.emulator import Faults
from prefect_runway.testing.emulator.samples import png
from tests._support import API_KEY, BUCKET
from tests._support.prefect_api import read_artifact, read_resource_events
from tests._support.runway import client_for, request

PER_VIDEO = 25  # gen4_turbo, 5 s at 5 credits a second
HEADERS = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
USAGE = "/v1/organization/usage"


def today() -> date:
    return datetime.now(timezone.utc).date()


def put_images(s3, prefix: str, count: int) -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.png", Body=png(16, 9, (i * 30, 80, 9)))


@pytest.fixture
def records(tmp_path, monkeypatch):
    """A ledger of this test's own, in a folder (other tests' records are not this account's)."""
    folder = tmp_path / "records"
    monkeypatch.setenv("PREFECT_RUNWAY_RECORDS", str(folder))
    return folder


def creds_for(emu, **fields) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url,
                             poll_interval=0.05, **fields)  # fmt: skip


# -- the emulator's usage endpoint --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"startDate": "2026-3-1"}, ["startDate"], "startDate must be a date as YYYY-MM-DD (UTC)."),
        ({"beforeDate": "2026-02-30"}, ["beforeDate"],
         "beforeDate must be a date as YYYY-MM-DD (UTC)."),
        ({"startDate": 20260301}, ["startDate"], "startDate must be a date as YYYY-MM-DD (UTC)."),
        ({"startDate": "2026-03-02", "beforeDate": "2026-03-01"}, ["beforeDate"],
         "beforeDate must not be before startDate."),
        ({"startDate": "2026-01-01", "beforeDate": "2026-04-02"}, ["beforeDate"],
         "beforeDate must be at most 90 days after startDate."),
        (["2026-03-01"], [], "The body must be a JSON object."),
    ],
)  # fmt: skip
def test_usage_refuses_bad_ranges_like_runway(make_emulator, body, path, message):
    emu = make_emulator()
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as http:
        answer = http.post(USAGE, json=body)
    assert answer.status_code == 400
    assert answer.json() == {"error": "Validation of body failed",
                             "issues": [{"path": path, "message": message}]}  # fmt: skip


def test_usage_counts_every_task_on_its_utc_day_net_of_refunds(make_emulator):
    emu = make_emulator(generation_seconds=0.05)
    first = today()
    with client_for(emu) as client:
        kept = client.image_to_video(request())
        cancelled = client.image_to_video(request(seed=1))
        client.cancel_task(cancelled.id)  # refunded in full: nets 0
        emu.set_faults(Faults(script=("created:drop",)))
        client.image_to_video(request(seed=2))  # its first task's answer dropped: 2 tasks
        emu.set_faults(Faults())
        client.wait_for_task(kept.id)
        client.cancel_task(kept.id)  # deleted once finished: still charged
        emu.advance_clock(86400)
        client.image_to_video(request(seed=3, duration=10))
        usage = client.organization_usage(first, first + timedelta(days=2))
        assert client.organization_usage(first, first).results == []  # an empty range
        with pytest.raises(RunwayValidationError, match="0 to 90 days"):
            client.organization_usage(first, first + timedelta(days=91))
    assert usage.credits() == {(first, "gen4_turbo"): 3 * PER_VIDEO,
                               (first + timedelta(days=1), "gen4_turbo"): 2 * PER_VIDEO}


# -- the flow, the event, the artifacts, the CLI ------------------------------------------------


def test_hidden_tasks_are_exactly_the_gap_with_what_could_explain_them(
    s3, runway, records, prefect_harness, capsys
):
    put_images(s3, "lost/", 4)
    # Two images each get one hidden task: an answer dropped, a gateway's 502 after creation
    # (both retried, so the ledger holds the second task of each, flagged possible_duplicate).
    runway.set_faults(Faults(script=("created:drop", "ok", "created:502", "ok")))
    asyncio.run(s3_image_to_video(BUCKET, "lost/", concurrency=1))
    # One more is held as unknown: a 524 after creation, not retried.
    put_images(s3, "held/", 1)
    runway.set_faults(Faults(script=("created:524",)))
    asyncio.run(s3_image_to_video(BUCKET, "held/", fail_on_errors=False,
                                  credentials_block=creds_for(runway, retry_lost_responses=False)))
    assert runway.stats()["tasks_created"] == 7

    result = asyncio.run(reconcile_spend(days=3, tolerance_credits=10))
    [row] = result.rows
    assert (row.day, row.model) == (today(), "gen4_turbo")
    assert row.usage_credits == 7 * PER_VIDEO and row.ledger_credits == 4 * PER_VIDEO
    assert row.gap == result.gap_credits == 3 * PER_VIDEO  # exactly the hidden tasks
    assert (row.tasks, row.estimated, row.possible_duplicates, row.unknown) == (4, 4, 2, 1)
    assert row.mismatch and result.mismatches == [row]
    assert result.records == 5 and result.start_date == today() - timedelta(days=2)

    account = creds_for(runway).account_fingerprint
    [event] = asyncio.run(read_resource_events(MISMATCH_EVENT, {f"runway.account.{account}"}, 1))
    assert event["payload"]["gap"] == 75 and event["payload"]["possible_duplicates"] == 2
    assert event["payload"]["unknown"] == 1 and event["payload"]["day"] == today().isoformat()
    assert "2 possible duplicate(s) and 1 unknown outcome(s)" in event["payload"]["explanation"]
    assert API_KEY not in json.dumps(event)
    [table_row] = json.loads(asyncio.run(read_artifact(RECONCILE_KEY)).data)
    assert table_row["gap"] == 75 and table_row["mismatch"] is True
    summary = asyncio.run(read_artifact(RECONCILE_SUMMARY_KEY)).data
    assert "| **gap** | 75 | 0.75 |" in summary and "## Mismatches" in summary

    capsys.readouterr()
    assert main(["reconcile", "--days", "1"]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split("\t") == [
        today().isoformat(), "gen4_turbo", "175", "100", "75", "4", "4", "2", "1", "MISMATCH"]
    assert err.startswith("error: 1 day/model mismatch(es) above 0 credits") and "\n" == err[-1]
    assert len(err.splitlines()) == 1
    assert main(["reconcile", "--tolerance", "75", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gap_credits"] == 75


def test_a_clean_batch_reconciles_to_zero_before_and_after_collection(
    s3, runway, moto_server, prefect_harness, monkeypatch, capsys
):
    from prefect_runway.flows.collect_videos import collect_videos

    monkeypatch.setenv("PREFECT_RUNWAY_RECORDS", f"s3://{BUCKET}/records/")  # listed on S3
    put_images(s3, "ok/", 3)
    asyncio.run(s3_image_to_video(BUCKET, "ok/"))
    result = asyncio.run(reconcile_spend())
    [row] = result.rows
    assert (row.usage_credits, row.ledger_credits, row.gap, row.estimated) == (75, 75, 0, 3)
    assert not result.mismatches and result.ledger == f"s3://{BUCKET}/records/"
    asyncio.run(collect_videos(f"s3://{BUCKET}/videos/", wait_seconds=30,
                               manifest_uri=f"s3://{BUCKET}/ok/runway-manifest.json"))
    [row] = asyncio.run(reconcile_spend()).rows
    assert (row.ledger_credits, row.gap, row.estimated) == (75, 0, 0)  # final costs now
    assert main(["reconcile"]) == 0
    assert "No day and model is off" in asyncio.run(read_artifact(RECONCILE_SUMMARY_KEY)).data


# -- failing closed -------------------------------------------------------------------------------


def test_an_unreadable_record_fails_the_reconciliation_naming_it(
    records, runway, prefect_harness, capsys
):
    records.mkdir()
    damaged = records / ("runway-i2v-" + "0" * 48)
    damaged.write_text('{"key": "runway-i2v-')
    (records / "runway-i2v-notes.txt").write_text("not a record")  # not a key: skipped
    with pytest.raises(RecordReadError, match="Spend not reconciled") as error:
        asyncio.run(reconcile_spend())
    assert str(damaged) in str(error.value) and "damaged" in str(error.value)
    assert main(["reconcile"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: The submission record") and str(damaged) in line
    assert main(["reconcile", "--days", "91"]) == 1
    assert capsys.readouterr().err == "error: days must be 1 to 90, got 91\n"


def test_a_storage_block_that_cannot_list_is_refused_clearly(tmp_path):
    from prefect.filesystems import RemoteFileSystem

    ledger = Ledger(RemoteFileSystem(basepath="memory://records"))
    with pytest.raises(ConfigurationError, match="cannot list its records"):
        asyncio.run(ledger.records())


def test_a_failing_listing_is_a_read_error_not_an_empty_ledger(tmp_path):
    ledger = Ledger(tmp_path)

    async def broken(prefix: str = "") -> list[str]:
        raise PermissionError("listing denied")

    ledger.store.akeys = broken  # type: ignore[method-assign]
    with pytest.raises(RecordReadError, match="Cannot list the submission records .*denied"):
        asyncio.run(ledger.records())
