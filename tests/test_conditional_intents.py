"""Every intent is a conditional write, over an existing record too.

Two runners race for one key that already has a record (expired through
``cache_expiration``, or paid again on purpose with ``resubmit`` / ``resubmit_unknown``),
each with its own lock manager: two hosts with per-host file locks, i.e. no shared lock at
all. Both read the old record before either writes its intent (a barrier at the intent
write lines them up), so only the ledger's compare-and-swap can tell them apart: S3's
``If-Match`` on the ETag read (moto's server), or a local compare-and-rename under a
``flock``. Exactly one POST reaches the emulator; the other row says another runner got
there.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from prefect_runway import GenerationSettings
from prefect_runway.api.models import SubmittedTask
from prefect_runway.errors import RecordConflictError
from prefect_runway.ledger.engine import Engine, ImageJob
from prefect_runway.ledger.locks import SubmissionLockManager
from prefect_runway.ledger.records import Ledger, SubmissionRecord
from prefect_runway.testing.emulator.samples import png
from tests.conftest import BUCKET

SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
IMAGE = "data:image/png;base64," + base64.b64encode(png(16, 9, (3, 5, 7))).decode()


class LinedUpLedger(Ledger):
    """A real ledger whose conditional writes wait until both runners reach theirs: both
    have then read the old record, the overlap a blocked event loop or a second host makes."""

    def __init__(self, storage: Any, barrier: asyncio.Barrier) -> None:
        super().__init__(storage)
        self.barrier = barrier

    async def replace_if(self, record: SubmissionRecord, expected: SubmissionRecord) -> None:
        await asyncio.wait_for(self.barrier.wait(), timeout=20)
        await super().replace_if(record, expected)


def _old_record(key: str, state: str) -> SubmissionRecord:
    past = datetime.now(timezone.utc) - timedelta(days=2)
    task = SubmittedTask(id="00000000-0000-4000-8000-000000000001")
    if state == "submitted":
        return SubmissionRecord(key=key, state="submitted", task=task, written_at=past,
                                expires_at=past + timedelta(days=1))  # fmt: skip
    return SubmissionRecord(key=key, state="unknown", error="answer lost", lost_responses=1)


async def _race(
    credentials: Any, storage: Any, tmp_path: Path, state: str, options: dict[str, Any]
) -> tuple[list[Any], Ledger]:
    barrier = asyncio.Barrier(2)
    job = ImageJob(source="race.png", identity="race://one", image=IMAGE)

    async def host(name: str) -> Any:
        async with credentials.get_async_client() as client:
            engine = await Engine.create(
                credentials, client, LinedUpLedger(storage, barrier),
                locks=SubmissionLockManager(tmp_path / f"locks-{name}"), **options,
            )  # fmt: skip
            return await engine.submit(job, SETTINGS)

    async with credentials.get_async_client() as client:
        seed = await Engine.create(credentials, client, Ledger(storage))
        key = seed.key(SETTINGS, job.identity)
    ledger = Ledger(storage)
    await ledger.create(_old_record(key, state))
    rows = await asyncio.gather(host("a"), host("b"))
    return list(rows), ledger


CASES = [
    pytest.param("submitted", {"cache_expiration": timedelta(days=1)}, id="expired"),
    pytest.param("submitted", {"resubmit": True}, id="resubmit"),
    pytest.param("unknown", {"resubmit_unknown": True}, id="resubmit_unknown"),
]


def _assert_one_paid(rows: list[Any], emulator: Any, record: SubmissionRecord | None) -> None:
    stats = emulator.stats()
    assert stats["posts"] == 1 and stats["tasks_created"] == 1, stats
    statuses = sorted(row.status for row in rows)
    assert statuses == ["failed", "submitted"], [(r.status, r.error) for r in rows]
    winner = next(r for r in rows if r.status == "submitted")
    loser = next(r for r in rows if r.status == "failed")
    assert "Another runner wrote the record" in (loser.error or "")
    assert "nothing was submitted" in (loser.error or "") and loser.task_id is None
    assert isinstance(loser.exception, RecordConflictError)
    assert record is not None and record.state == "submitted"
    assert record.task is not None and record.task.id == winner.task_id


@pytest.mark.parametrize(("state", "options"), CASES)
async def test_two_local_runners_without_a_shared_lock_pay_once(
    credentials, emulator, tmp_path, state, options
):
    folder = tmp_path / "records"
    rows, ledger = await _race(credentials, folder, tmp_path, state, options)
    _assert_one_paid(rows, emulator, await ledger.read(rows[0].cache_key))
    assert not list(folder.glob(".*.tmp"))  # the loser's temporary file is gone


@pytest.mark.parametrize(("state", "options"), CASES)
async def test_two_s3_runners_without_a_shared_lock_pay_once(
    credentials, emulator, tmp_path, s3, state, options
):
    rows, ledger = await _race(credentials, f"s3://{BUCKET}/records", tmp_path, state, options)
    _assert_one_paid(rows, emulator, await ledger.read(rows[0].cache_key))


async def test_replace_if_compares_the_version_read(tmp_path, s3):
    """The primitive: a record replaced since it was read (or removed) is a conflict."""
    for storage in (tmp_path / "records", f"s3://{BUCKET}/cas"):
        ledger = Ledger(storage)
        await ledger.create(SubmissionRecord(key="k", state="unknown"))
        first = await ledger.read("k")
        second = await ledger.read("k")
        assert first is not None and second is not None
        await ledger.replace_if(SubmissionRecord(key="k", state="intent", source="a"), first)
        with pytest.raises(RecordConflictError, match="changed since it was read"):
            await ledger.replace_if(SubmissionRecord(key="k", state="intent", source="b"), second)
        current = await ledger.read("k")
        assert current is not None and current.source == "a"
        await ledger.delete("k")
        with pytest.raises(RecordConflictError):
            await ledger.replace_if(SubmissionRecord(key="k", state="intent"), current)
        assert await ledger.read("k") is None
        with pytest.raises(ValueError, match="read from the ledger"):
            built = SubmissionRecord(key="k", state="unknown")  # never read: no version
            await ledger.replace_if(SubmissionRecord(key="k", state="intent"), built)
