"""P6, several machines: what Redis locks and S3 records cost, and two workers on one batch.

1. Lock + record overhead per image: the same N=1,000 batch through the engine with file
   locks + local records, then with Redis locks + S3 records (moto in its own process), at
   20 ms and 300 ms emulator latency; each against a plain asyncio + httpx loop.
2. Two workers vs one on the same 2,000-image batch (300 ms): the real S3 flow in one process,
   then in two processes at once (two hosts: own PREFECT_HOME, shared Redis and S3 records);
   wall-time ratio and duplicates (0).

Run it with ``python benchmarks/run.py --only p6``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr

from benchmarks import harness
from prefect_runway import GenerationSettings, RunwayCredentials
from prefect_runway.ledger.batch import ImageJob, submit_images
from prefect_runway.ledger.records import Ledger
from prefect_runway.testing.emulator.samples import png

SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
IMAGE = "data:image/png;base64," + base64.b64encode(png(32, 18)).decode()
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
RECORDS_BUCKET = "bench-p6-records"
Baseline = Callable[[str, int, int], Coroutine[Any, Any, float]]


@contextmanager
def redis_process() -> Iterator[str]:
    """redis-server (Debian's package) on a free port, no persistence; yields its URL."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("P6 needs redis-server: apt-get install redis-server")
    port = harness.free_port()
    folder = tempfile.mkdtemp(prefix="bench-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def _settings(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _engine_batch(url: str, n: int, concurrency: int, ledger: Ledger) -> float:
    """N fresh images through the engine (no Prefect run around it); seconds."""
    run_id = uuid.uuid4().hex
    jobs = (
        ImageJob(source=f"bench/{i}", identity=f"bench://{run_id}/{i}", image=IMAGE,
                 settings=SETTINGS.model_copy(update={"seed": i}))
        for i in range(n)
    )  # fmt: skip
    creds = RunwayCredentials(api_key=SecretStr(harness.API_KEY), base_url=url)
    start = time.perf_counter()
    rows = await submit_images(creds, SETTINGS, jobs, concurrency=concurrency, ledger=ledger)
    elapsed = time.perf_counter() - start
    assert sum(row.status == "submitted" for row in rows) == n, [r.error for r in rows][:3]
    return elapsed


def overhead(
    runs: int, baseline: Baseline, n: int = 1000, concurrency: int = 16
) -> list[dict[str, Any]]:
    """Part 1: file locks + local records vs Redis + S3 (moto) records, per image; `baseline`
    is run.py's plain asyncio + httpx loop."""
    import boto3

    results = []
    with redis_process() as redis_url, harness.moto_process() as s3_url:
        boto3.client("s3", endpoint_url=s3_url, **_aws()).create_bucket(Bucket=RECORDS_BUCKET)
        for latency in (0.02, 0.3):
            plain, local, shared, duplicates = [], [], [], 0
            with harness.emulator_process(latency=latency, no_fetch_urls=True) as url:
                for _ in range(runs):
                    harness.reset(url)
                    plain.append(asyncio.run(baseline(url, n, concurrency)))
                    folder = tempfile.mkdtemp(prefix="bench-p6-")
                    harness.reset(url)
                    with _settings(PREFECT_RUNWAY_LOCKS=f"file://{folder}/locks"):
                        ledger = Ledger(f"{folder}/records")
                        local.append(asyncio.run(_engine_batch(url, n, concurrency, ledger)))
                    duplicates += harness.stats(url)["duplicates"]
                    harness.reset(url)
                    with _settings(PREFECT_RUNWAY_LOCKS=redis_url, AWS_ENDPOINT_URL=s3_url, **AWS):
                        ledger = Ledger(f"s3://{RECORDS_BUCKET}/{uuid.uuid4().hex}")
                        shared.append(asyncio.run(_engine_batch(url, n, concurrency, ledger)))
                    stats = harness.stats(url)
                    assert stats["tasks_created"] == n, stats
                    duplicates += stats["duplicates"]
            base, file_s, redis_s = (harness.median(v) for v in (plain, local, shared))
            results.append({
                "name": f"P6 locks + records, N={n:,}, concurrency {concurrency}, latency "
                        f"{latency * 1000:g} ms: file + local (baseline) vs Redis + S3 (moto)",
                "baseline_s": file_s, "ours_s": redis_s, "ratio": redis_s / file_s,
                "target": "0 duplicates; overhead reported", "met": duplicates == 0,
                "overhead_ms": {"file_local": 1000 * (file_s - base) / n,
                                "redis_s3": 1000 * (redis_s - base) / n},
                "plain_httpx_s": base, "duplicates": duplicates,
                "runs": {"plain": plain, "file_local": local, "redis_s3": shared},
            })  # fmt: skip
    return results


def _aws() -> dict[str, str]:
    return {"region_name": "us-east-1", "aws_access_key_id": "bench",
            "aws_secret_access_key": "bench"}  # fmt: skip


def _fill(s3_url: str, bucket: str, size: int) -> None:
    """`size` distinct PNGs (the emulator counts equal bodies as duplicates)."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=s3_url, config=Config(max_pool_connections=16),
                      **_aws())  # fmt: skip
    s3.create_bucket(Bucket=bucket)

    def put(i: int) -> None:
        body = png(32, 18, (i % 256, (i // 256) % 256, 77))
        s3.put_object(Bucket=bucket, Key=f"in/{i:06d}.png", Body=body, ContentType="image/png")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(size)))


_FLOW = """
import asyncio, time
from prefect_runway.flows.s3_image_to_video import s3_image_to_video
start = time.time()
r = asyncio.run(s3_image_to_video({bucket!r}, 'in/', concurrency=16, write_manifest=False))
print(start, time.time(), r.submitted, r.cached, r.failed + r.unknown)
"""


def _hosts(count: int, url: str, s3_url: str, redis_url: str, bucket: str) -> dict[str, Any]:
    """The S3 flow on `count` hosts at once (own PREFECT_HOME each, shared Redis + S3)."""
    from prefect.settings import PREFECT_API_URL

    records = f"s3://{RECORDS_BUCKET}/{uuid.uuid4().hex}"
    procs = []
    for _ in range(count):
        env = {**os.environ, **AWS, "AWS_ENDPOINT_URL": s3_url, "RUNWAYML_BASE_URL": url,
               "PREFECT_HOME": tempfile.mkdtemp(prefix="bench-p6-host-"),
               "PREFECT_API_URL": PREFECT_API_URL.value(),
               "PREFECT_RUNWAY_LOCKS": redis_url, "PREFECT_RUNWAY_RECORDS": records}  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-c", _FLOW.format(bucket=bucket)], cwd=harness.ROOT, env=env,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ))  # fmt: skip
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode:
            raise RuntimeError(f"the flow failed:\n{out[-3000:]}\n{err[-3000:]}")
        outs.append([float(x) for x in out.strip().splitlines()[-1].split()])
    start, end = min(o[0] for o in outs), max(o[1] for o in outs)
    return {"wall_s": end - start, "submitted": sum(o[2] for o in outs),
            "cached": sum(o[3] for o in outs), "failed": sum(o[4] for o in outs)}  # fmt: skip


def two_hosts(runs: int, n: int = 2000) -> list[dict[str, Any]]:
    """Part 2: two workers vs one on the same batch, 300 ms latency."""
    one, two, duplicates, failed = [], [], 0, 0
    with redis_process() as redis_url, harness.moto_process() as s3_url, \
            harness.emulator_process(latency=0.3, no_fetch_urls=True,
                                     credit_balance=10**9) as url:  # fmt: skip
        import boto3

        boto3.client("s3", endpoint_url=s3_url, **_aws()).create_bucket(Bucket=RECORDS_BUCKET)
        _fill(s3_url, "bench-p6", n)
        for _ in range(runs):
            for count, into in ((1, one), (2, two)):
                harness.reset(url)
                result = _hosts(count, url, s3_url, redis_url, "bench-p6")
                stats = harness.stats(url)
                assert result["submitted"] == n == stats["tasks_created"], (result, stats)
                duplicates += stats["duplicates"]
                failed += int(result["failed"])
                into.append(result["wall_s"])
    ratio = harness.median(two) / harness.median(one)
    return [{
        "name": f"P6 two hosts vs one on the same {n:,}-image batch (the S3 flow, Redis + S3 "
                "records), latency 300 ms",
        "baseline_s": harness.median(one), "ours_s": harness.median(two), "ratio": ratio,
        "target": "0 duplicates", "met": duplicates == 0 and failed == 0,
        "duplicates": duplicates, "runs": {"one": one, "two": two},
    }]  # fmt: skip


def p6(runs: int, baseline: Baseline) -> list[dict[str, Any]]:
    """Both parts."""
    return overhead(runs, baseline) + two_hosts(runs)


def notes(result: dict[str, Any]) -> str:
    """The table's notes cell for a P6 result."""
    if "overhead_ms" in result:
        ms = result["overhead_ms"]
        return (
            f"ms per image over a plain httpx loop ({result['plain_httpx_s']:.2f} s): file + "
            f"local {ms['file_local']:.2f}, Redis + S3 {ms['redis_s3']:.2f}; "
            f"{result['duplicates']} duplicates"
        )
    return f"{result['duplicates']} duplicates"
