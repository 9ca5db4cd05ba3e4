"""`make bench`: P1-P8 against the emulator (and moto for S3), each against a baseline measured
in the same run. Prints a table, writes benchmarks/results/*.json and the README's table.

    python benchmarks/run.py               # everything, 3 runs each, medians
    python benchmarks/run.py --only p1 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_HOME = tempfile.mkdtemp(prefix="prefect-runway-bench-")
os.environ.update(
    {
        "PREFECT_HOME": _HOME,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "RUNWAYML_API_SECRET": "key_benchmark_emulator",
    }
)
os.environ.pop("PREFECT_API_URL", None)

import httpx  # noqa: E402
from prefect import flow, task  # noqa: E402
from prefect.settings import PREFECT_API_URL  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from benchmarks import harness, p6, p7, p8  # noqa: E402
from prefect_runway import GenerationSettings, RunwayCredentials  # noqa: E402
from prefect_runway.ledger.batch import ImageJob, SubmissionRow, submit_images  # noqa: E402
from prefect_runway.testing.emulator.samples import png  # noqa: E402

SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
IMAGE = "data:image/png;base64," + base64.b64encode(png(32, 18)).decode()


def creds(url: str, **extra: Any) -> RunwayCredentials:
    return RunwayCredentials(api_key=SecretStr(harness.API_KEY), base_url=url, **extra)


async def baseline(url: str, n: int, concurrency: int) -> float:
    """The client-side physical limit: plain asyncio + httpx, the same POSTs, same concurrency."""
    gate = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {harness.API_KEY}", "X-Runway-Version": "2024-11-06"}
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:

        async def post(i: int) -> None:
            async with gate:
                body = {**SETTINGS.to_wire(), "promptImage": IMAGE, "seed": i}
                (await http.post("/v1/image_to_video", json=body)).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(post(i) for i in range(n)))
        return time.perf_counter() - start


@task(name="submit-batch")
async def submit_batch(
    credentials: RunwayCredentials, run_id: str, n: int, concurrency: int
) -> list[SubmissionRow]:
    jobs = (
        ImageJob(source=f"bench/{i}", identity=f"bench://{run_id}/{i}", image=IMAGE,
                 settings=SETTINGS.model_copy(update={"seed": i}))
        for i in range(n)
    )
    return await submit_images(credentials, SETTINGS, jobs, concurrency=concurrency)


@flow(name="bench-fan-out")
async def fan_out(credentials: RunwayCredentials, run_id: str, n: int, concurrency: int) -> int:
    rows = await submit_batch(credentials, run_id, n, concurrency)
    return sum(row.status == "submitted" for row in rows)


async def ours(url: str, run_id: str, n: int, concurrency: int, rerun: bool = False) -> float:
    start = time.perf_counter()
    submitted = await fan_out(creds(url), run_id, n, concurrency)
    elapsed = time.perf_counter() - start
    assert submitted == (0 if rerun else n), submitted
    return elapsed


def ledger_ms_per_image(n: int = 500) -> float:
    """What the write-ahead ledger costs one image on this disk: an fsynced intent (created
    only where no record exists) and an fsynced outcome (renamed over it)."""
    from prefect_runway.ledger.records import Ledger, SubmissionRecord

    ledger = Ledger(tempfile.mkdtemp(prefix="bench-ledger-"))

    async def write_all() -> float:
        start = time.perf_counter()
        for i in range(n):
            intent = SubmissionRecord(key=f"runway-i2v-{i}", state="intent", source=f"b/{i}")
            await ledger.create(intent)
            await ledger.replace(intent.model_copy(update={"state": "submitted"}))
        return time.perf_counter() - start

    return 1000 * asyncio.run(write_all()) / n


def p1(runs: int, n: int = 1000, concurrency: int = 16) -> list[dict[str, Any]]:
    results = []
    ledger_ms = ledger_ms_per_image()
    for latency, target in ((0.02, 1.5), (0.3, 1.05)):
        with harness.emulator_process(latency=latency, no_fetch_urls=True) as url:
            asyncio.run(ours(url, f"warmup-{uuid.uuid4()}", 20, concurrency))
            base, mine = [], []
            for _ in range(runs):
                harness.reset(url)
                base.append(asyncio.run(baseline(url, n, concurrency)))
                harness.reset(url)
                mine.append(asyncio.run(ours(url, str(uuid.uuid4()), n, concurrency)))
                stats = harness.stats(url)
                assert stats["tasks_created"] == n and stats["duplicates"] == 0, stats
        ratio = harness.median(mine) / harness.median(base)
        results.append({
            "name": f"P1 fan-out, N={n}, concurrency {concurrency}, latency {latency * 1000:g} ms",
            "baseline_s": harness.median(base), "ours_s": harness.median(mine),
            "ratio": ratio, "target": f"<= {target}x", "met": ratio <= target,
            "runs": {"baseline": base, "ours": mine}, "ledger_ms_per_image": ledger_ms,
        })  # fmt: skip
    return results


def p2(runs: int, n: int = 1000, concurrency: int = 16) -> list[dict[str, Any]]:
    firsts, reruns, posts = [], [], []
    with harness.emulator_process(latency=0.3, no_fetch_urls=True) as url:
        for _ in range(runs):
            run_id = str(uuid.uuid4())
            harness.reset(url)
            firsts.append(asyncio.run(ours(url, run_id, n, concurrency)))
            before = harness.stats(url)["posts"]
            reruns.append(asyncio.run(ours(url, run_id, n, concurrency, rerun=True)))
            posts.append(harness.stats(url)["posts"] - before)
    ratio = harness.median(reruns) / harness.median(firsts)
    return [{
        "name": f"P2 rerun of N={n}, all cached, latency 300 ms",
        "baseline_s": harness.median(firsts), "ours_s": harness.median(reruns), "ratio": ratio,
        "target": "<= 0.25x and 0 POSTs", "met": ratio <= 0.25 and max(posts) == 0,
        "posts_on_rerun": posts, "runs": {"first": firsts, "rerun": reruns},
    }]  # fmt: skip


def p3(runs: int, n: int = 60, concurrency: int = 5, generation: float = 10.0) -> list[dict]:
    from prefect_runway.api.client import AsyncRunwayClient

    ideal = -(-n // concurrency) * generation
    ratios, polls = [], []
    for _ in range(runs):
        with harness.emulator_process(
            concurrency=concurrency, generation_seconds=generation, no_fetch_urls=True
        ) as url:

            async def run() -> float:
                async with AsyncRunwayClient(harness.API_KEY, base_url=url) as client:
                    start = time.perf_counter()
                    ids = []
                    for i in range(n):
                        body = SETTINGS.for_image(IMAGE).model_copy(update={"seed": i})
                        ids.append((await client.image_to_video(body)).id)
                    results = await client.wait_for_tasks(ids, timeout=ideal * 3)
                    assert all(r.status.value == "SUCCEEDED" for r in results.values())
                    return time.perf_counter() - start

            elapsed = asyncio.run(run())
            stats = harness.stats(url)
            ratios.append(elapsed / ideal)
            # lifetime of the average task ~ its wait + generation; the bound is per task
            polls.append(stats["polls"] / n)
    lifetime = (ideal + generation) / 2  # mean task lifetime from submit to SUCCEEDED
    bound = lifetime / 5 + 2
    return [{
        "name": f"P3 waiting, N={n}, {generation:g} s generations, emulator concurrency "
                f"{concurrency} (ideal {ideal:g} s)",
        "baseline_s": ideal, "ours_s": harness.median(ratios) * ideal,
        "ratio": harness.median(ratios), "target": "<= 1.10x; polls/task <= lifetime/5 s + 2",
        "met": harness.median(ratios) <= 1.10 and harness.median(polls) <= bound,
        "polls_per_task": harness.median(polls), "poll_bound": bound,
    }]  # fmt: skip


def p4(runs: int, sizes: tuple[int, ...] = (1000, 10000)) -> list[dict[str, Any]]:
    per_image: dict[int, list[float]] = {size: [] for size in sizes}
    peaks: dict[int, list[float]] = {size: [] for size in sizes}
    with harness.emulator_process(
        latency=0.02, no_fetch_urls=True, credit_balance=10**9
    ) as url:
        with harness.moto_process() as s3_url:
            for size in sizes:
                bucket = f"bench-{size}"
                _fill_bucket(s3_url, bucket, size)
                for _ in range(runs):
                    harness.reset(url)
                    elapsed, peak = _run_flow_process(url, s3_url, bucket)
                    assert harness.stats(url)["tasks_created"] == size, harness.stats(url)
                    per_image[size].append(elapsed / size)
                    peaks[size].append(peak)
    small, large = sizes
    ratio = harness.median(per_image[large]) / harness.median(per_image[small])
    peak = max(peaks[large])
    return [{
        "name": f"P4 scale, whole runs of N={small:,} vs N={large:,} images from a moto "
                "prefix, latency 20 ms",
        "per_image_ms": {str(size): harness.median(per_image[size]) * 1000 for size in sizes},
        "baseline_s": harness.median(per_image[small]) * small,
        "ours_s": harness.median(per_image[large]) * large, "ratio": ratio,
        "target": "per-image time <= 1.2x that at 1k; peak RSS <= 1 GB",
        "met": ratio <= 1.2 and peak <= 1024, "peak_rss_mb": peak,
    }]  # fmt: skip


def p5(runs: int, n: int = 120, limit: int = 50) -> list[dict[str, Any]]:
    """A tier-1 batch driven tick by tick ("days" on the emulator's clock), against the same
    batch run the v0.1 way (no quota read, 429 retried then failed, rerun each day)."""
    import math

    ideal = math.ceil(n / limit)
    ours_ticks, base_ticks, notes = [], [], {}
    for run in range(runs):
        with harness.emulator_process(daily_limit=limit, concurrency=1, generation_seconds=60,
                                      no_fetch_urls=True) as url, \
                harness.moto_process() as s3_url:  # fmt: skip
            ours = _p5_drive(url, s3_url, f"p5-ours-{run}", n, ideal + 3)
        with harness.emulator_process(daily_limit=limit, concurrency=1, generation_seconds=60,
                                      no_fetch_urls=True) as url, \
                harness.moto_process() as s3_url:  # fmt: skip
            base = _p5_v01(url, s3_url, f"p5-base-{run}", n, ideal + 3)
        ours_ticks.append(float(ours["ticks"]))
        base_ticks.append(float(base["ticks"]))
        notes = {"ours": ours, "baseline": base}
    ours, base = notes["ours"], notes["baseline"]
    met = (
        max(ours_ticks) == ideal and ours["tasks_created"] == n and ours["duplicates"] == 0
        and max(ours["limit_429s_per_tick"]) <= 1 and ours["downloads_per_video"] == 1.0
    )  # fmt: skip
    return [{
        "name": f"P5 tier 1 (daily limit {limit}, concurrency 1): N={n} driven tick by tick, "
                f"ticks to finish (ideal {ideal})",
        "baseline_s": harness.median(base_ticks), "ours_s": harness.median(ours_ticks),
        "unit": "ticks", "ratio": harness.median(ours_ticks) / harness.median(base_ticks),
        "target": f"{ideal} ticks, {n} tasks, 0 duplicates, <= 1 daily-limit 429 per tick, "
                  "1 download per video",
        "met": met, "p5": notes,
    }]  # fmt: skip


def _p5_env(url: str, s3_url: str, bucket: str, n: int) -> None:
    import boto3

    os.environ.update({"AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                       "RUNWAYML_BASE_URL": url})  # fmt: skip
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for i in range(n):
        s3.put_object(Bucket=bucket, Key=f"in/{i:04d}.png", Body=png(8, 8, (i % 256, 3, 3)),
                      ContentType="image/png")  # fmt: skip


def _p5_drive(url: str, s3_url: str, bucket: str, n: int, max_ticks: int) -> dict[str, Any]:
    from prefect_runway.flows.drive_batch import drive_batch

    _p5_env(url, s3_url, bucket, n)
    per_tick, ticks = [], 0
    for _ in range(max_ticks):
        before = harness.stats(url)["rejected"].get("daily_limit", 0)
        progress = asyncio.run(drive_batch(bucket, "in/"))
        per_tick.append(harness.stats(url)["rejected"].get("daily_limit", 0) - before)
        harness.advance_clock(url, 86400)
        if progress.deferred == 0 and ticks == 0:
            ticks = len(per_tick)  # every image submitted: the batch's submission is done
        if progress.complete:
            break
    stats = harness.stats(url)
    return {"ticks": ticks or max_ticks, "tasks_created": stats["tasks_created"],
            "duplicates": stats["duplicates"], "limit_429s_per_tick": per_tick,
            "downloads_per_video": stats["downloads"] / max(stats["tasks_created"], 1),
            "wasted_requests": stats["posts"] - stats["tasks_created"], "failed_runs": 0,
            "ticks_to_collect_all": len(per_tick)}  # fmt: skip


class _NeverRaised(Exception):
    """Stands in for the daily-limit error in the engine: v0.1 had no deferral."""


def _p5_v01(url: str, s3_url: str, bucket: str, n: int, max_ticks: int) -> dict[str, Any]:
    """v0.1's behaviour: no quota read, a 429 on create retried with backoff (5 client
    retries) and then failed, the run failed, the user reruns the next day."""
    from unittest import mock

    from prefect_runway.api import client as client_module
    from prefect_runway.errors import RunwayDailyLimitError
    from prefect_runway.ledger import engine as engine_module
    module = importlib.import_module("prefect_runway.flows.s3_image_to_video")

    _p5_env(url, s3_url, bucket, n)
    retry = client_module._ClientBase._retry_delay

    def no_wait(self: Any, attempt: int, error: Any) -> float:
        retry(self, attempt, error)  # raises when not retried
        return 0.0  # the count of requests matters here, not the wait

    async def no_limits(credentials: Any, model: str) -> Any:
        return module._Limits()

    failed_runs, ticks = 0, 0
    with mock.patch.object(RunwayDailyLimitError, "transient", True), \
            mock.patch.object(client_module._ClientBase, "_retry_delay", no_wait), \
            mock.patch.object(module, "_organization_limits", no_limits), \
            mock.patch.object(engine_module, "RunwayDailyLimitError", _NeverRaised):  # fmt: skip
        for tick in range(1, max_ticks + 1):
            try:
                asyncio.run(module.s3_image_to_video(bucket, "in/", concurrency=1,
                                                     write_manifest=False))  # fmt: skip
                ticks = tick
                break
            except RuntimeError:
                failed_runs += 1
            harness.advance_clock(url, 86400)
    stats = harness.stats(url)
    return {"ticks": ticks or max_ticks, "tasks_created": stats["tasks_created"],
            "duplicates": stats["duplicates"], "failed_runs": failed_runs,
            "wasted_requests": stats["posts"] - stats["tasks_created"]}  # fmt: skip


def _fill_bucket(s3_url: str, bucket: str, size: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench",
                      config=Config(max_pool_connections=16))  # fmt: skip
    s3.create_bucket(Bucket=bucket)
    body = png(32, 18)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"in/{i:06d}.png", Body=body,
                                              ContentType="image/png"), range(size)))


def _run_flow_process(url: str, s3_url: str, bucket: str) -> tuple[float, float]:
    """Run the real S3 flow in a fresh process (fresh cache); return (seconds, peak RSS MB)."""
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
           "RUNWAYML_BASE_URL": url, "PREFECT_HOME": tempfile.mkdtemp(prefix="bench-p4-"),
           "PREFECT_API_URL": PREFECT_API_URL.value()}  # the warm server; a fresh cache
    code = (
        "import asyncio, time, resource\n"
        "from prefect_runway.flows.s3_image_to_video import s3_image_to_video\n"
        "t = time.perf_counter()\n"
        f"r = asyncio.run(s3_image_to_video({bucket!r}, 'in/', concurrency=16,"
        " write_manifest=False))\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,"
        " r.submitted)\n"
    )  # fmt: skip
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=3600)  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"the flow failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    out = run.stdout
    elapsed, rss_kb, _ = out.strip().splitlines()[-1].split()
    return float(elapsed), int(rss_kb) / 1024


def _notes(result: dict[str, Any]) -> str:
    if "p7" in result:
        return p7.notes(result)
    if "p8" in result:
        return p8.notes(result)
    if "duplicates" in result and result["name"].startswith("P6"):
        return p6.notes(result)
    if "peak_rss_mb" in result:
        per_image = " vs ".join(f"{ms:.1f}" for ms in result["per_image_ms"].values())
        return f"ms per image {per_image}; peak RSS {result['peak_rss_mb']:.0f} MB"
    if "polls_per_task" in result:
        return f"{result['polls_per_task']:g} polls/task (bound {result['poll_bound']:g})"
    if "p5" in result:
        ours, base = result["p5"]["ours"], result["p5"]["baseline"]
        return (
            f"ours: {ours['tasks_created']} tasks, {ours['duplicates']} duplicates, "
            f"daily-limit 429s per tick {ours['limit_429s_per_tick']}, "
            f"{ours['downloads_per_video']:g} download per video, 0 failed runs; "
            f"v0.1: {base['failed_runs']} failed runs, {base['wasted_requests']} wasted requests"
        )
    if "ledger_ms_per_image" in result:
        ms = result["ledger_ms_per_image"]
        return f"ledger writes (intent + outcome, fsynced): {ms:.2f} ms/image"
    if "posts_on_rerun" in result:
        return f"POSTs on rerun: {max(result['posts_on_rerun'])}"
    return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="p1,p2,p3,p4,p5,p6,p7,p8",
                        help="'' rebuilds the table only")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    benches: dict[str, Any] = {"p1": p1, "p2": p2, "p3": p3, "p4": p4, "p5": p5}
    benches["p6"] = lambda runs: p6.p6(runs, baseline)
    benches["p7"] = p7.p7
    benches["p8"] = p8.p8
    chosen = [name for name in args.only.split(",") if name]
    if chosen:
        with harness.warm_prefect() as startup:
            print(f"Prefect server start-up (fresh database): {startup:.1f} s")
            for name in chosen:
                harness.save(name, {"machine": harness.machine(), "runs": args.runs,
                                    "prefect_startup_s": startup,
                                    "results": benches[name](args.runs)})  # fmt: skip
    # The table shows the latest figures of every benchmark, so one can be rerun alone.
    latest = [json.loads(path.read_text()) for path in sorted(harness.RESULTS.glob("p*.json"))]
    startups = [saved["prefect_startup_s"] for saved in latest if "prefect_startup_s" in saved]
    rows = [
        "| benchmark | baseline | ours | ratio | target | met | runs | notes |",
        "|---|---|---|---|---|---|---|---|",
    ] + [
        f"| {r['name']} | {r['baseline_s']:.2f} {r.get('unit', 's')} | "
        f"{r['ours_s']:.2f} {r.get('unit', 's')} | {r['ratio']:.2f}x | "
        f"{r['target']} | {'yes' if r['met'] else 'no'} | {saved['runs']} | {_notes(r)} |"
        for saved in latest
        for r in saved["results"]
    ]
    rows.append(f"\nMedians on {harness.machine()}; baseline: a plain asyncio + httpx loop "
                f"(P1), the first run (P2), the ideal schedule (P3), N=1,000 (P4), v0.1's handling "
                f"of the daily limit (P5), file locks + local records or one host (P6), "
                f"copying after the last task (P7), stage by stage (P8). Prefect "
                f"server start-up on a fresh database, not included: "
                f"{harness.median(startups) if startups else float('nan'):.1f} s.")  # fmt: skip
    print("\n".join(rows))
    if not args.no_readme:
        harness.update_readme(rows)
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
