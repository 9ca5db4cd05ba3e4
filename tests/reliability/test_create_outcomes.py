"""Every create outcome classified by evidence, against faults shaped like the world's.

Gateways, CDNs and resellers answer 5xx, 520-527, wrapped error codes, odd 200s, broken
bodies and late answers *after* the origin created (and billed) a task. Each case here is
injected by the emulator, per request (`Faults.script`) or at a rate, and driven over real
HTTP through the single-image Prefect task, the S3 flow and the CLI. The emulator counts every
task it created, whether or not its answer reached the client, so each test asserts on that
count: 0 silent duplicate tasks (every extra task's row is flagged or held) and 0 lost task IDs
(every answer that carried an ID is recorded), with the ledger saying what happened.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from prefect import flow
from pydantic import SecretStr

from prefect_runway import GenerationSettings, ImageToVideoRequest, RunwayCredentials
from prefect_runway.api.client import RunwayClient, redact_answer
from prefect_runway.api.models import SubmittedTask
from prefect_runway.cli import main
from prefect_runway.errors import CreateOutcome, LockError, create_outcome
from prefect_runway.ledger.engine import Engine, ImageJob
from prefect_runway.ledger.keys import image_identity, submission_key
from prefect_runway.ledger.locks import SubmissionLockManager
from prefect_runway.ledger.records import Ledger, SubmissionRecord
from prefect_runway.tasks import submit_image_to_video
from prefect_runway.testing.emulator import Emulator, Faults
from prefect_runway.testing.emulator.samples import png
from tests._support.processes import free_port
from tests.conftest import API_KEY, BUCKET

harness = pytest.mark.usefixtures("prefect_harness")  # flows and tasks only: the rest is fast
SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
GATEWAY_5XX = ["500", "502", "503", "504", *map(str, range(520, 528))]
VARIANTS = ["wrapped", "ms", "us", "ns", "iso", "extra"]
_salt = iter(range(1, 10_000))


def image() -> str:
    """A data URI of a PNG no other test uses (the ledger is shared by the session)."""
    n = next(_salt)
    return "data:image/png;base64," + base64.b64encode(png(6, 6, (n % 256, n // 256, 77))).decode()


def request(prompt_image: str | None = None, **fields: Any) -> ImageToVideoRequest:
    values = {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5, **fields}
    return ImageToVideoRequest(prompt_image=prompt_image or image(), **values)


def creds_for(emu: Emulator, **update: Any) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url,
                             dialect=emu.dialect, poll_interval=0.05, **update)  # fmt: skip


def key_of(creds: RunwayCredentials, req: ImageToVideoRequest) -> str:
    return submission_key(creds.account_fingerprint, req.settings(),
                          image_identity(req.prompt_image))  # fmt: skip


def record(key: str) -> SubmissionRecord | None:
    async def read() -> SubmissionRecord | None:
        return await (await Ledger.default()).read(key)

    return asyncio.run(read())


@pytest.fixture
def emu(make_emulator):
    return make_emulator(generation_seconds=0.2)


@pytest.fixture
def proxy(make_emulator):
    return make_emulator(dialect="proxy", generation_seconds=0.2)


# -- the table, one wire exchange at a time -------------------------------------------------


def one_post(emu: Emulator, entry: str, **client: Any) -> tuple[CreateOutcome, Any]:
    """One create, no retry, with `entry` scripted: its outcome and the task or error."""
    emu.set_faults(Faults(script=(entry,), slow_seconds=1.0))
    options = {"max_retries": 0, "retry_lost_responses": False, "timeout": 0.4, **client}
    with RunwayClient(API_KEY, base_url=emu.base_url, dialect=emu.dialect, **options) as c:
        try:
            return CreateOutcome.CREATED, c.image_to_video(request())
        except Exception as exc:
            return create_outcome(exc), exc


@pytest.mark.parametrize(
    ("entry", "outcome", "created"),
    [
        ("429", CreateOutcome.NOT_CREATED, 0),
        ("503", CreateOutcome.NOT_CREATED, 0),  # the API's own error body
        ("502", CreateOutcome.UNKNOWN, 0),  # no evidence either way: a gateway may have sent it
        ("reset", CreateOutcome.UNKNOWN, 0),  # dropped after the request was sent
        *[(f"created:{status}", CreateOutcome.UNKNOWN, 1) for status in GATEWAY_5XX],
        ("created:drop", CreateOutcome.UNKNOWN, 1),
        ("created:truncate", CreateOutcome.UNKNOWN, 1),
        ("created:slow", CreateOutcome.UNKNOWN, 1),
        ("created:wrapped_error", CreateOutcome.UNKNOWN, 1),
        ("created:malformed", CreateOutcome.UNKNOWN, 1),
        ("created:noid", CreateOutcome.UNKNOWN, 1),
        *[(f"created:{variant}", CreateOutcome.CREATED, 1) for variant in VARIANTS],
    ],
)
def test_each_answer_is_classified_by_its_evidence(emu, entry, outcome, created):
    found, result = one_post(emu, entry)
    stats = emu.stats()
    assert (found, stats["tasks_created"], stats["posts"]) == (outcome, created, 1), result
    if outcome is CreateOutcome.CREATED:  # the ID was read, whatever the rest looked like
        assert result.id == emu.tasks()[0]["id"]
    if outcome is CreateOutcome.UNKNOWN:
        assert "task may have been created" in str(result) and result.lost_responses == 1


def test_nothing_sent_is_not_created():
    with RunwayClient(API_KEY, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0) as c:
        with pytest.raises(Exception) as info:
            c.image_to_video(request())
    assert create_outcome(info.value) is CreateOutcome.NOT_CREATED
    assert "could not reach the API" in str(info.value)


def test_a_local_error_before_sending_is_not_created_whatever_its_type(emu):
    retired = request(model="gen3a_turbo", ratio="1280:768", prompt_text="a cat")
    with RunwayClient(API_KEY, base_url=emu.base_url) as c, pytest.raises(ValueError) as info:
        c.image_to_video(retired)
    assert create_outcome(info.value) is CreateOutcome.NOT_CREATED
    assert emu.stats()["posts"] == 0


def test_a_proxys_wrapped_refusal_is_not_created_and_its_variants_are_read(proxy):
    bad = ImageToVideoRequest.model_construct(prompt_image=image(), model="veo3.1",
                                              ratio="1280:720", duration=5)  # fmt: skip
    proxy.set_faults(Faults())
    with RunwayClient(API_KEY, base_url=proxy.base_url, dialect="proxy", max_retries=0) as c:
        with pytest.raises(Exception) as info:
            c.image_to_video(bad)  # HTTP 400 with {"code": 400, ...}
    assert create_outcome(info.value) is CreateOutcome.NOT_CREATED
    for variant in VARIANTS:
        found, task = one_post(proxy, f"created:{variant}")
        assert found is CreateOutcome.CREATED and task.id == proxy.tasks()[-1]["id"]
    assert proxy.stats()["tasks_created"] == len(VARIANTS)


def test_unknown_attempts_are_retried_only_as_the_lost_answer_policy_allows(emu):
    emu.set_faults(Faults(script=("created:502", "created:524", "ok")))
    with RunwayClient(API_KEY, base_url=emu.base_url, backoff_base=0.01) as c:
        task = c.image_to_video(request())
    assert task.lost_responses == 2 and emu.stats()["tasks_created"] == 3
    assert task.id == emu.tasks()[-1]["id"]

    emu.set_faults(Faults(script=("503", "429", "ok")))  # the API said no twice: silent
    with RunwayClient(API_KEY, base_url=emu.base_url, backoff_base=0.01) as c:
        task = c.image_to_video(request())
    assert task.lost_responses == 0 and emu.stats()["tasks_created"] == 4


# -- the answer's ID first, the rest leniently ------------------------------------------------

MOMENT = datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "stamp",
    [MOMENT.timestamp(), int(MOMENT.timestamp() * 1e3), int(MOMENT.timestamp() * 1e6),
     int(MOMENT.timestamp() * 1e9), str(int(MOMENT.timestamp() * 1e3)),
     "2026-12-01T10:00:00.123Z", "2026-12-01T10:00:00.123+00:00"],
)  # fmt: skip
def test_creation_times_in_any_unit_are_read(stamp):
    body = {"code": 200, "data": {"task_id": "t1", "created_at": stamp}}
    task = SubmittedTask.from_response(body)
    assert task.id == "t1"
    assert abs((task.created_at - MOMENT).total_seconds()) < 0.001


@pytest.mark.parametrize("stamp", [1e30, -1e30, "yesterday", [1], {"s": 1}, True])
def test_an_unreadable_field_never_costs_the_id(stamp):
    body = {"id": "t2", "createdAt": stamp, "status": {"odd": 1}, "estimatedCost": "many",
            "request_id": 42, "queue": {"position": 3}}  # fmt: skip
    task = SubmittedTask.from_response(body)
    assert (task.id, task.created_at, task.request_id) == ("t2", None, "42")
    assert task.extra == {"queue": {"position": 3}}  # unknown fields kept


def test_an_unreadable_answer_is_kept_redacted_and_truncated():
    body = (b'<html>see https://cdn.example.com/x.png?X-Amz-Signature=abc123&X-Amz-Credential=k'
            b" Bearer key_live_0123456789 " + b"x" * 3000 + b"</html>")  # fmt: skip
    kept = redact_answer(body)
    assert "abc123" not in kept and "0123456789" not in kept
    assert "https://cdn.example.com/x.png?<redacted>" in kept and "Bearer <redacted>" in kept
    assert len(kept) < 600 and kept.endswith(f"({len(body)} bytes in all)")


# -- through the single-image Prefect task ----------------------------------------------------


@flow
def one_image(creds: RunwayCredentials, req: ImageToVideoRequest, resubmit_unknown: bool = False):
    """The task's outcome as data: (task ID, lost answers, error)."""
    try:
        task = submit_image_to_video(creds, req, resubmit_unknown=resubmit_unknown)
    except Exception as exc:
        return None, 0, f"{type(exc).__name__}: {exc}"
    return task.id, task.lost_responses, None


AFTER_CREATE = ["502", "504", "520", "524", "drop", "truncate", "slow", "wrapped_error",
                "malformed", "noid"]  # fmt: skip


@harness
@pytest.mark.parametrize("kind", AFTER_CREATE)
def test_task_after_creation_fault_retried_is_flagged_in_the_ledger(emu, kind):
    creds = creds_for(emu, timeout=0.5)
    req = request()
    emu.set_faults(Faults(script=(f"created:{kind}", "ok"), slow_seconds=1.5))
    task_id, lost, error = one_image(creds, req)
    created = [t["id"] for t in emu.tasks()]
    assert error is None and len(created) == 2 and task_id == created[-1] and lost == 1
    saved = record(key_of(creds, req))
    assert saved.state == "submitted" and saved.task.id == task_id
    assert saved.possible_duplicate and saved.lost_responses == 1  # the extra task is flagged
    if kind != "502":
        return  # the rerun is the same for every kind
    assert one_image(creds, req)[:2] == (task_id, 1)  # cached, still flagged
    assert emu.stats()["posts"] == 2 and record(key_of(creds, req)).possible_duplicate


@harness
@pytest.mark.parametrize("kind", AFTER_CREATE)
def test_task_after_creation_fault_not_retried_is_held_unknown(emu, kind, caplog):
    creds = creds_for(emu, timeout=0.5, retry_lost_responses=False)
    req = request()
    emu.set_faults(Faults(script=(f"created:{kind}",), slow_seconds=1.5))
    task_id, _, error = one_image(creds, req)
    assert task_id is None and "RunwayUnknownOutcomeError: A Runway task may exist" in error
    assert emu.stats()["tasks_created"] == 1
    assert any(r.levelno == logging.WARNING and "may exist" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    saved = record(key_of(creds, req))
    assert saved.state == "unknown" and saved.possible_duplicate and saved.lost_responses == 1
    if kind in ("malformed", "noid"):  # a body nobody could read is kept for a person
        assert saved.answer and ("oops" in saved.answer or '"data":{}' in saved.answer)
    if kind != "502":
        return  # what follows is the same for every kind
    emu.set_faults(Faults())
    assert one_image(creds, req)[0] is None and emu.stats()["posts"] == 1  # held, not paid
    task_id, _, error = one_image(creds, req, resubmit_unknown=True)
    assert error is None and emu.stats()["tasks_created"] == 2
    assert record(key_of(creds, req)).possible_duplicate


@harness
@pytest.mark.parametrize("variant", VARIANTS)
def test_task_answer_with_an_id_in_any_variant_is_recorded(proxy, variant):
    creds = creds_for(proxy)
    req = request()
    proxy.set_faults(Faults(script=(f"created:{variant}",)))
    task_id, lost, error = one_image(creds, req)
    [created] = proxy.tasks()
    assert (task_id, lost, error) == (created["id"], 0, None)
    saved = record(key_of(creds, req))
    assert saved.state == "submitted" and not saved.possible_duplicate
    if variant in ("ms", "us", "ns", "iso"):
        assert saved.task.created_at is not None
        assert abs((datetime.now(timezone.utc) - saved.task.created_at).total_seconds()) < 60
    if variant == "extra":
        assert saved.task.extra["queue"] == {"position": 3}


@harness
def test_task_refusals_before_creation_are_retried_silently(emu):
    creds = creds_for(emu)
    req = request()
    emu.set_faults(Faults(script=("503", "429", "ok"), retry_after=0.01))
    task_id, lost, error = one_image(creds, req)
    assert error is None and lost == 0 and emu.stats()["tasks_created"] == 1
    assert not record(key_of(creds, req)).possible_duplicate


@harness
def test_a_retired_model_leaves_no_intent_behind(emu):
    creds = creds_for(emu)
    retired = request(model="gen3a_turbo", ratio="1280:768", prompt_text="a cat")
    for _ in range(2):  # the rerun says the same, never "a task may exist"
        task_id, _, error = one_image(creds, retired)
        assert task_id is None
        assert error.startswith("RunwayValidationError: model 'gen3a_turbo' was retired")
    assert record(key_of(creds, retired)) is None and emu.stats()["posts"] == 0


# -- through the engine: lock release, flags of resubmissions -------------------------------


class ReleaseFails(SubmissionLockManager):
    """Real file locks whose release fails, as Redis does when it goes away."""

    def release_lock(self, key: str, holder: str) -> None:
        super().release_lock(key, holder)
        raise LockError("Redis error while releasing the lock: Connection refused")


def engine_row(emu, tmp_path, job, locks=None, settings=SETTINGS, **options):
    creds = creds_for(emu)

    async def go():
        async with creds.get_async_client(backoff_base=0.01) as client:
            engine = await Engine.create(
                creds, client, Ledger(tmp_path / "records"),
                locks=locks or SubmissionLockManager(tmp_path / "locks"), **options,
            )  # fmt: skip
            return await engine.submit(job, settings)

    return asyncio.run(go())


def test_engine_a_retired_model_leaves_no_intent_so_no_hold(emu, tmp_path):
    retired = GenerationSettings(model="gen3a_turbo", ratio="1280:768", prompt_text="a cat",
                                 duration=5)  # fmt: skip
    job = ImageJob(source="old.png", identity="old.png#1", image=image())
    for _ in range(2):  # the rerun says the same, never "a task may exist"
        row = engine_row(emu, tmp_path, job, settings=retired)
        assert row.status == "failed" and "ValueError: model 'gen3a_turbo' was retired" in row.error
    assert not list((tmp_path / "records").glob("runway-i2v-*")) and emu.stats()["posts"] == 0


def test_a_lock_release_error_never_changes_a_paid_row(emu, tmp_path, caplog):
    job = ImageJob(source="one.png", identity="one.png#1", image=image())
    row = engine_row(emu, tmp_path, job, locks=ReleaseFails(tmp_path / "locks"))
    assert row.status == "submitted" and row.task_id == emu.tasks()[0]["id"]
    assert any("Could not release the lock" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)  # fmt: skip
    assert engine_row(emu, tmp_path, job).status == "cached"


def test_the_flag_of_a_resubmitted_unknown_outcome_is_persisted(emu, tmp_path):
    job = ImageJob(source="two.png", identity="two.png#1", image=image())
    creds = creds_for(emu)
    key = submission_key(creds.account_fingerprint, SETTINGS, job.identity)
    ledger = Ledger(tmp_path / "records")  # a crash left an intent: no answer, no count
    asyncio.run(ledger.create(SubmissionRecord(key=key, state="intent", source=job.source)))
    paid = engine_row(emu, tmp_path, job, resubmit_unknown=True)
    assert paid.status == "submitted" and paid.possible_duplicate and paid.lost_responses == 0
    again = engine_row(emu, tmp_path, job)
    assert again.status == "cached" and again.possible_duplicate  # True on every later run


def test_nothing_sent_removes_the_intent(tmp_path):
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), max_retries=0,
                              base_url=f"http://127.0.0.1:{free_port()}")  # fmt: skip
    job = ImageJob(source="three.png", identity="three.png#1", image=image())

    async def go():
        async with creds.get_async_client() as client:
            engine = await Engine.create(creds, client, Ledger(tmp_path / "records"),
                                         locks=SubmissionLockManager(tmp_path / "locks"))
            return await engine.submit(job, SETTINGS)

    row = asyncio.run(go())
    assert row.status == "failed" and "could not reach the API" in row.error
    assert not list((tmp_path / "records").glob("runway-i2v-*"))


# -- through the S3 flow: the 100-image case, scaled down -------------------------------------


def put_images(s3, prefix: str, count: int) -> dict[str, str]:
    """`count` PNGs under `prefix`; returns the data URI the emulator receives -> source."""
    sent = {}
    for i in range(count):
        n = next(_salt)
        body = png(8, 8, (n % 256, n // 256, 99))
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i:03d}.png", Body=body)
        sent["data:image/png;base64," + base64.b64encode(body).decode()] = (
            f"s3://{BUCKET}/{prefix}{i:03d}.png"
        )
    return sent


def tasks_by_source(emu: Emulator, sent: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for task in emu.tasks():
        found.setdefault(sent[task["body"]["promptImage"]], []).append(task["id"])
    return found


def run_flow(prefix: str, **kwargs: Any):
    from prefect_runway.flows.s3_image_to_video import s3_image_to_video

    return asyncio.run(s3_image_to_video(BUCKET, prefix, concurrency=8, fail_on_errors=False,
                                         **kwargs))  # fmt: skip


GATEWAY_FAULTS = ("502", "504", "520", "522", "524", "drop", "truncate")


@harness
def test_flow_twenty_images_with_gateway_faults_after_creation_retried(s3, runway):
    sent = put_images(s3, "g1/", 20)
    runway.set_faults(Faults(rate_after_create=0.15, after_create=GATEWAY_FAULTS, seed=18))
    result = run_flow("g1/")
    stats, created = runway.stats(), tasks_by_source(runway, sent)
    extra = sum(stats["after_create"].values())
    assert extra >= 2 and result.submitted == 20  # the faults happened; every image got a task
    by_source = {row.source: row for row in result.rows}
    # Every created task is a recorded ID or counted on a flagged row: none silent, none lost.
    assert stats["tasks_created"] == 20 + sum(row.lost_responses for row in result.rows)
    for source, ids in created.items():
        row = by_source[source]
        assert row.task_id == ids[-1]  # the one whose answer arrived
        assert row.possible_duplicate == (len(ids) > 1) and row.lost_responses == len(ids) - 1
        assert record(row.cache_key).possible_duplicate == row.possible_duplicate
    assert result.possible_duplicates == sum(len(ids) > 1 for ids in created.values())

    again = run_flow("g1/")  # the flags are the ledger's: a rerun says the same
    assert again.cached == 20 and runway.stats()["posts"] == stats["posts"]
    assert again.possible_duplicates == result.possible_duplicates


@harness
def test_flow_twenty_images_with_gateway_faults_after_creation_held(s3, runway):
    RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url,
                      retry_lost_responses=False).save("held-on-unknown", overwrite=True)
    sent = put_images(s3, "g2/", 20)
    runway.set_faults(Faults(rate_after_create=0.2, after_create=GATEWAY_FAULTS, seed=4))
    result = run_flow("g2/", credentials_block="held-on-unknown")
    stats, created = runway.stats(), tasks_by_source(runway, sent)
    unknown = [row for row in result.rows if row.status == "unknown"]
    recorded = {row.task_id for row in result.rows if row.status == "submitted"}
    assert len(unknown) == sum(stats["after_create"].values()) >= 2
    assert stats["tasks_created"] == len(recorded) + len(unknown) == 20  # each held row: 1 task
    assert recorded == {ids[0] for source, ids in created.items()
                        if source not in {row.source for row in unknown}}  # fmt: skip
    for row in unknown:
        assert row.possible_duplicate and "A Runway task may exist" in row.error
        assert record(row.cache_key).state == "unknown"

    runway.set_faults(Faults())
    again = run_flow("g2/", credentials_block="held-on-unknown")
    assert again.unknown == len(unknown) and runway.stats()["posts"] == stats["posts"]


@harness
def test_flow_answers_in_every_variant_lose_no_id(s3, runway):
    sent = put_images(s3, "g3/", 6)
    runway.set_faults(Faults(rate_after_create=1.0, after_create=("wrapped", "ms", "us", "ns",
                                                                  "iso", "extra"), seed=2))
    result = run_flow("g3/")
    created = tasks_by_source(runway, sent)
    assert result.submitted == 6 and result.possible_duplicates == 0
    assert {row.source: [row.task_id] for row in result.rows} == created


# -- through the CLI --------------------------------------------------------------------------

GEN = ["--model", "gen4_turbo", "--ratio", "1280:720", "--duration", "5"]


@pytest.fixture
def env(emu, monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
    return emu


def test_cli_after_creation_502_is_retried_flagged_and_stays_flagged(env, capsys):
    uri = image()
    env.set_faults(Faults(script=("created:502", "ok")))
    assert main(["submit", uri, *GEN]) == 0
    [line] = capsys.readouterr().out.splitlines()
    fields = line.split("\t")
    assert fields[1] == env.tasks()[-1]["id"] and fields[2] == "submitted"
    assert fields[-1] == "possible duplicate" and env.stats()["tasks_created"] == 2
    assert main(["submit", uri, *GEN]) == 0
    [again] = capsys.readouterr().out.splitlines()
    assert again.split("\t")[2] == "cached" and again.endswith("\tpossible duplicate")
    assert env.stats()["posts"] == 2


def test_cli_after_creation_fault_held_when_lost_answers_are_not_retried(
    env, monkeypatch, capsys
):
    def load(name: str) -> RunwayCredentials:
        return creds_for(env, retry_lost_responses=False)

    monkeypatch.setattr(RunwayCredentials, "load", load)
    uri = image()
    env.set_faults(Faults(script=("created:524",)))
    assert main(["submit", uri, *GEN, "--block", "held"]) == 1
    assert "A Runway task may exist for this image" in capsys.readouterr().err
    assert main(["submit", uri, *GEN, "--block", "held"]) == 1  # held: not paid again
    assert "A Runway task may exist" in capsys.readouterr().err
    assert env.stats()["posts"] == 1 and env.stats()["tasks_created"] == 1


@pytest.mark.parametrize("variant", ["ns", "extra"])
def test_cli_reads_the_id_of_any_variant(env, capsys, variant):
    env.set_faults(Faults(script=(f"created:{variant}",)))
    assert main(["submit", image(), *GEN]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.split("\t")[1:3] == [env.tasks()[0]["id"], "submitted"]


def test_cli_refusal_before_creation_is_silent(env, capsys):
    env.set_faults(Faults(script=("503",)))
    assert main(["submit", image(), *GEN]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert "possible duplicate" not in line and env.stats()["tasks_created"] == 1


# -- the emulator's fault model itself --------------------------------------------------------


def test_emulator_scripts_faults_per_request_and_counts_created_tasks(emu):
    emu.set_faults(Faults(script=("503", "created:502", "created:drop", "ok")))
    body = {"promptImage": image(), "model": "gen4_turbo", "ratio": "1280:720"}
    headers = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
    statuses = []
    for _ in range(5):
        with httpx.Client(base_url=emu.base_url, headers=headers) as http:
            try:
                statuses.append(http.post("/v1/image_to_video", json=body).status_code)
            except httpx.HTTPError:
                statuses.append("dropped")
    assert statuses == [503, 502, "dropped", 200, 200]  # then the rates (none)
    stats = emu.stats()
    assert stats["tasks_created"] == 4 and stats["after_create"] == {"502": 1, "drop": 1}
    assert stats["posts"] == stats["tasks_created"] + sum(stats["rejected"].values())


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"script": ["created:418"]}, "script entry 'created:418' is unknown"),
     ({"script": "created:502"}, "script must be a list"),
     ({"after_create": ["teapot"]}, "after_create entry 'teapot' is unknown"),
     ({"statuses_5xx": [404]}, "statuses_5xx must hold statuses 500-599"),
     ({"rate_after_create": 2}, "rate_after_create must be a number between 0 and 1")],
)  # fmt: skip
def test_emulator_refuses_faults_it_cannot_inject(emu, fields, message):
    answer = httpx.post(f"{emu.root_url}/_emulator/faults", json=fields)
    assert answer.status_code == 400 and message in answer.json()["error"]
