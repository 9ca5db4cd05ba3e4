"""Reliability suite R1-R6: faults, lost responses, crashes, concurrent runs, bad input and
secret hygiene, each on the real parts (moto's S3 server, the emulator over loopback, the
Prefect test harness) and each able to fail."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from botocore.stub import Stubber
from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_DATABASE_CONNECTION_URL
from pydantic import SecretStr

from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.flows.common import batch_key
from prefect_runway.flows.s3_image_to_video import SUMMARY_KEY, TABLE_KEY, s3_image_to_video
from prefect_runway.ledger.batch import ImageJob, submit_images
from prefect_runway.s3.objects import ImageSourceError, iter_s3_pages
from prefect_runway.testing.emulator import Emulator, Faults
from prefect_runway.testing.emulator.samples import GIF, png
from tests._support.prefect_api import read_artifact
from tests._support.processes import wait_until
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")
ROOT = Path(__file__).resolve().parents[2]
SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)


def put_images(s3, count: int, prefix: str = "r/", **extra: str) -> dict[str, bytes]:
    """`count` distinct PNGs; returns source URI -> bytes."""
    images = {}
    for i in range(count):
        body = png(8, 8, (i % 256, i // 256, 7))
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i:04d}.png", Body=body, **extra)
        images[f"s3://{BUCKET}/{prefix}{i:04d}.png"] = body
    return images


def sources_of(emulator: Emulator, images: dict[str, bytes]) -> dict[str, list[str]]:
    """Emulator task IDs by source image, read from the bodies the emulator received."""
    by_uri = {"data:image/png;base64," + base64.b64encode(b).decode(): s for s, b in images.items()}
    found: dict[str, list[str]] = {}
    for task in emulator.tasks():
        found.setdefault(by_uri[task["body"]["promptImage"]], []).append(task["id"])
    return found


def run_flow(**kwargs):
    return asyncio.run(s3_image_to_video(BUCKET, "r/", concurrency=16, **kwargs))


def test_r1_transient_faults_lose_nothing_and_duplicate_nothing(s3, runway):
    images = put_images(s3, 300)
    runway.set_faults(Faults(rate_429=0.1, retry_after=0.01, rate_5xx=0.1, rate_reset=0.05,
                             seed=11))
    result = run_flow(fail_on_errors=False)
    stats = runway.stats()
    assert result.submitted == 300 and result.failed == 0
    assert stats["tasks_created"] == 300 and stats["duplicates"] == 0
    assert sum(stats["rejected"].values()) > 40  # the faults really happened
    assert {k: len(v) for k, v in sources_of(runway, images).items()} == dict.fromkeys(images, 1)
    assert sorted(r.task_id for r in result.rows) == sorted(t["id"] for t in runway.tasks())


def test_r2_lost_responses_are_never_silent_duplicates(s3, runway):
    images = put_images(s3, 300)
    runway.set_faults(Faults(rate_lost_response=0.05, seed=5))
    result = run_flow()
    stats = runway.stats()
    assert result.submitted == 300 and stats["lost_responses"] > 5
    created = sources_of(runway, images)
    duplicated = {source for source, ids in created.items() if len(ids) > 1}
    flagged = {row.source for row in result.rows if row.possible_duplicate}
    # Policy: a lost answer is retried (the image gets its video) and flagged, never hidden.
    assert duplicated and duplicated <= flagged
    assert stats["duplicates"] == sum(len(ids) - 1 for ids in created.values())
    table = json.loads(asyncio.run(read_artifact(batch_key(TABLE_KEY, f"{BUCKET}/r/"))).data)
    assert {r["source"] for r in table if r["possible_duplicate"]} == flagged
    for row in result.rows:  # the recorded task is one the emulator really created
        assert row.task_id in created[row.source]


# Touches a file when the process asks for a lock whose file exists (another run holds it).
LOCK_SPY = """
from pathlib import Path
from prefect_runway.ledger.locks import SubmissionLockManager
real = SubmissionLockManager.try_acquire
def spy(self, key, holder, hold_timeout=None):
    if self._path(key).exists():
        Path({marker!r}).touch()
    return real(self, key, holder, hold_timeout)
SubmissionLockManager.try_acquire = spy
"""


def flow_process(
    env_extra: dict[str, str], prefix: str = "r/", marker: Path | None = None
) -> subprocess.Popen:
    env = {**os.environ, **env_extra, "PREFECT_API_URL": PREFECT_API_URL.value()}
    code = (
        (LOCK_SPY.format(marker=str(marker)) if marker else "")
        + "import asyncio\n"
        "from prefect_runway.flows.s3_image_to_video import s3_image_to_video\n"
        f"r = asyncio.run(s3_image_to_video({BUCKET!r}, {prefix!r}, concurrency=8))\n"
        "print('DONE', r.submitted, r.cached)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def aws_env() -> dict[str, str]:
    keys = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION", "RUNWAYML_API_SECRET", "RUNWAYML_BASE_URL")  # fmt: skip
    return {k: os.environ[k] for k in keys}


def test_r3_crash_and_resume_submits_only_the_rest(s3, runway):
    """The crash lands while some POSTs wait for an answer that never comes: from the
    client's side their outcome is unknown (their intents are on disk), so the rerun holds
    them, and only an explicit resubmit_unknown pays for them, flagged."""
    images = put_images(s3, 200)
    runway.set_faults(Faults(latency=0.01, hang_after=100))
    proc = flow_process(aws_env())
    deadline = time.monotonic() + 120
    while not runway.stats()["rejected"].get("fault_hang"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.05)
    time.sleep(0.5)  # answers already received are persisted by now
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert runway.stats()["tasks_created"] == 100

    runway.set_faults(Faults())
    result = run_flow(fail_on_errors=False)
    in_flight = result.unknown  # POSTs held by the emulator when the process died
    assert 1 <= in_flight <= 8 and result.cached == 100
    assert result.submitted == 100 - in_flight
    assert runway.stats()["tasks_created"] == 200 - in_flight
    held = {row.source for row in result.rows if row.status == "unknown"}
    assert all(row.possible_duplicate for row in result.rows if row.source in held)

    resolved = run_flow(resubmit_unknown=True)
    stats = runway.stats()
    assert (resolved.cached, resolved.submitted) == (200 - in_flight, in_flight)
    assert {row.source for row in resolved.rows if row.status == "submitted"} == held
    assert stats["tasks_created"] == 200 and stats["duplicates"] == 0
    created = sources_of(runway, images)
    assert {row.source: [row.task_id] for row in resolved.rows} == created


def test_r4_two_concurrent_runs_submit_each_image_once(s3, runway, tmp_path):
    """Overlapping by construction: the emulator holds the first run's POSTs until the
    second run asks for a lock the first one holds."""
    images = put_images(s3, 30)
    marker = tmp_path / "second-run-at-a-held-lock"
    runway.hold_submits()
    try:
        first = flow_process(aws_env())
        wait_until(lambda: runway.held_submits >= 1 or first.poll() is not None,
                   "the first run's POSTs", timeout=120)  # fmt: skip
        second = flow_process(aws_env(), marker=marker)
        wait_until(lambda: marker.exists() or second.poll() is not None,
                   "the second run at a held lock", timeout=120)  # fmt: skip
    finally:
        runway.release_submits()
    procs = [first, second]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    stats = runway.stats()
    assert stats["tasks_created"] == stats["posts"] == 30 and stats["duplicates"] == 0, outputs
    assert {k: len(v) for k, v in sources_of(runway, images).items()} == dict.fromkeys(images, 1)
    totals = [tuple(map(int, out.split("DONE ")[1].split()[:2])) for out in outputs]
    assert sum(submitted for submitted, _ in totals) == 30
    assert all(submitted + cached == 30 for submitted, cached in totals)


HUGE = png(8, 8) + b"\0" * (5 * 1024 * 1024)
BAD_OBJECTS = {
    "r/notes.txt": (b"plain text", {"ContentType": "text/plain"},
                    "s3://stills/r/notes.txt is not a JPEG, PNG or WebP image (its bytes match "
                    "none of them)"),
    "r/empty.png": (b"", {"ContentType": "image/png"},
                    "s3://stills/r/empty.png is empty (0 bytes)"),
    "r/anim.gif": (GIF, {"ContentType": "image/gif"},
                   "s3://stills/r/anim.gif is a GIF; Runway accepts JPEG, PNG or WebP"),
    "r/huge.png": (HUGE, {"ContentType": "image/png"},
                   f"s3://stills/r/huge.png is {len(HUGE)} bytes; transport 'data_uri' with the "
                   "runway dialect accepts at most 3932160 bytes"),
}


def test_r5_bad_objects_are_named_and_never_paid_for(s3, runway):
    put_images(s3, 5)
    s3.put_object(Bucket=BUCKET, Key="r/octet.png", Body=png(8, 8, (1, 1, 1)))  # no type: works
    for key, (body, extra, _) in BAD_OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
    result = run_flow(transport="data_uri")
    assert result.submitted == 6 and runway.stats()["posts"] == 6
    errors = {row.source: row.error for row in result.rows if row.status == "rejected"}
    assert errors == {f"s3://{BUCKET}/{k}": reason for k, (_, _, reason) in BAD_OBJECTS.items()}
    octet = next(r for r in result.rows if r.source.endswith("octet.png"))
    assert octet.status == "submitted" and octet.task_id


@pytest.mark.parametrize(("fields", "message"), [
    ({"ratio": "1280:768"}, "ratio '1280:768' is not supported by gen4_turbo; use one of "
     "1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672"),
    ({"duration": 11}, "duration 11 is not supported by gen4_turbo; use an integer from 2 to 10"),
    ({"prompt_text": "🎬" * 501}, "prompt_text is 1002 UTF-16 code units long; gen4_turbo "
     "accepts at most 1000 (emoji and other astral characters count as 2)"),
    ({"seed": 2**32}, "seed 4294967296 is out of range; use an integer 0..4294967295"),
])
def test_r5_bad_settings_fail_before_any_post(s3, runway, fields, message):
    put_images(s3, 2)
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_flow(**fields)
    assert runway.stats()["posts"] == 0


def test_r5_bad_urls_are_rejected_per_image_and_the_batch_goes_on(runway):
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url)
    good = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()
    jobs = [
        ImageJob("good", "good", good),
        ImageJob("http", "http", "http://images.example.com/a.png"),
        ImageJob("ip", "ip", "https://192.168.1.9/a.png"),
        ImageJob("long", "long", "https://images.example.com/" + "a" * 2100),
    ]
    rows = {r.source: r for r in asyncio.run(submit_images(creds, SETTINGS, jobs))}
    assert rows["good"].status == "submitted" and runway.stats()["posts"] == 1
    assert rows["http"].error == (
        "prompt_image 'http://images.example.com/a.png' must be an https:// URL, a "
        "data:image/...;base64 URI or a runway:// upload URI (got scheme 'http')")
    assert rows["ip"].error == ("prompt_image 'https://192.168.1.9/a.png' uses an IP address "
                                "host (192.168.1.9); Runway requires a domain name")
    assert rows["long"].error == ("prompt_image URL is 2127 characters long; Runway accepts "
                                  "at most 2048")
    assert {r.status for s, r in rows.items() if s != "good"} == {"rejected"}


def test_r5_api_failures_are_named_per_image(runway):
    good = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url,
                              max_retries=0)
    # A runway:// URI passes local checks; only the API knows it was never uploaded.
    jobs = [ImageJob("ok", "ok", good),
            ImageJob("api-400", "api-400", "runway://uploads/never-uploaded")]
    rows = {r.source: r for r in asyncio.run(submit_images(creds, SETTINGS, jobs))}
    assert rows["ok"].status == "submitted" and rows["api-400"].status == "failed"
    assert rows["api-400"].error.startswith("RunwayBadRequestError: ")
    assert "(HTTP 400)" in rows["api-400"].error and "runway://" in rows["api-400"].error
    assert runway.stats()["posts"] == 2  # one each: the 400 was not retried

    wrong = RunwayCredentials(api_key=SecretStr("key_wrong_123"), base_url=runway.base_url)
    [row] = asyncio.run(submit_images(wrong, SETTINGS, [ImageJob("k", "k", good)]))
    assert row.status == "failed" and row.error.startswith("RunwayAuthenticationError: ")
    assert "(HTTP 401)" in row.error and "key_wrong_123" not in row.error

    runway.set_faults(Faults(rate_malformed=1.0))
    [row] = asyncio.run(submit_images(creds, SETTINGS, [ImageJob("m", "m2", good)]))
    # A 200 whose body cannot be read may hide a created task: an unknown outcome, held.
    assert row.status == "unknown" and row.possible_duplicate
    assert "not JSON" in row.error and "its ID could not be read" in row.error


def test_r5_proxy_wrapped_error_is_named(monkeypatch):
    good = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()
    with Emulator(api_key=API_KEY, dialect="proxy") as emu:
        emu.set_faults(Faults(rate_wrapped_error=1.0))
        creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=emu.base_url,
                                  dialect="proxy", max_retries=0)
        [row] = asyncio.run(submit_images(creds, SETTINGS, [ImageJob("w", "w", good)]))
    assert row.status == "unknown"  # a wrapped 5xx is no evidence that nothing was created
    assert "proxy error code 500: upstream channel error" in row.error
    assert "request_id" in row.error


def test_r5_missing_bucket_and_access_denied_are_named(s3, runway):
    with pytest.raises(ImageSourceError, match="s3://no-such-bucket/x/: the bucket does not exist"):
        list(iter_s3_pages(s3, "no-such-bucket", "x/"))
    with Stubber(s3) as stub:  # pins one exact S3 answer: moto does not enforce policies
        stub.add_client_error("list_objects_v2", service_error_code="AccessDenied",
                              http_status_code=403)
        with pytest.raises(ImageSourceError, match="s3://locked/x/: access denied: check the "
                           "AWS credentials and the bucket policy"):
            list(iter_s3_pages(s3, "locked", "x/"))
    assert runway.stats()["posts"] == 0


def files_under(*folders: Path) -> dict[Path, tuple[int, int]]:
    """Every file under `folders`, with its modification time and size."""
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                if path.is_file():
                    found[path] = (path.stat().st_mtime_ns, path.stat().st_size)
            except FileNotFoundError:  # a temporary file gone meanwhile
                pass
    return found


def signature_of(url: str) -> str:
    """The signature of an S3 presigned URL (SigV4 or SigV2, whichever boto3 chose)."""
    query = parse_qs(urlsplit(url).query)
    [signature] = query.get("X-Amz-Signature") or query["Signature"]
    return signature


def test_r6_no_key_and_no_presigned_signature_anywhere(s3, monkeypatch, prefect_home, caplog):
    """Three images really submitted as presigned URLs (stored with a content type, so the
    emulator's HEAD check passes); neither the API key nor any of the three signatures is in
    the files this run wrote (ledger records, results, the database), its logs or artifacts."""
    monkeypatch.setenv("PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS", "1")
    database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    before = files_under(database.parent, prefect_home)
    with Emulator(api_key=API_KEY, allow_http_loopback=True) as emu:
        monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
        monkeypatch.setenv("RUNWAYML_BASE_URL", emu.base_url)
        put_images(s3, 3, prefix="p/", ContentType="image/png")
        result = asyncio.run(s3_image_to_video(BUCKET, "p/", transport="presigned_url"))
        posted = [t["body"]["promptImage"] for t in emu.tasks()]
    assert result.submitted == 3 and {row.transport for row in result.rows} == {"url"}
    signatures = [signature_of(url) for url in posted]  # the emulator got presigned URLs
    assert len(posted) == 3 and len(set(signatures)) == 3 and all(len(s) >= 20 for s in signatures)
    needles = [API_KEY, *signatures, *(quote(s, safe="") for s in signatures)]

    after = files_under(database.parent, prefect_home)
    written = [path for path, seen in after.items() if before.get(path) != seen]
    records = {prefect_home / "storage" / row.cache_key for row in result.rows}
    assert records <= set(written)  # the ledger's records are among the files scanned
    assert any(path.parent == database.parent for path in written)  # and the database
    contents = {path: path.read_bytes() for path in written if path.exists()}
    for row in result.rows:  # the scan sees what this run stored: sources and task IDs
        assert any(row.task_id.encode() in data for data in contents.values())
        assert any(row.source.encode() in data for path, data in contents.items()
                   if path.parent == database.parent)  # fmt: skip
    for path, data in contents.items():
        for needle in needles:
            assert needle.encode() not in data, f"secret found in {path}"

    table = asyncio.run(read_artifact(batch_key(TABLE_KEY, f"{BUCKET}/p/"))).data
    summary = asyncio.run(read_artifact(batch_key(SUMMARY_KEY, f"{BUCKET}/p/"))).data
    assert all(row.task_id in table for row in result.rows)
    rows = json.dumps([r.model_dump(mode="json") for r in result.rows])
    text = caplog.text + table + summary + rows
    for needle in needles:
        assert needle not in text
