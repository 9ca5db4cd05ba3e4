"""P8, chained stages: how close streaming items through stages comes to the ideal schedule.

N=30 items through text_to_image -> image_to_video -> video_upscale, 4 s generations, the
emulator running 5 generations at a time per model (as Runway counts concurrency), outputs
copied to moto's S3 server between stages. One `run_pipeline` run streams every item through
its stages; the ideal makespan, with no overhead at all, is ``(ceil(N / 5) + 3 - 1) * 4 s``
(the last wave of stage 1, then that item's two later stages). The baseline, measured in the
same run with the same code: stage by stage (all of stage 1, then all of stage 2, ...), i.e.
three runs of the pipeline cut after stage 1, 2 and 3 (each rerun takes the earlier stages
from the ledger), whose ideal is ``3 * ceil(N / 5) * 4 s``. Both pay each stage of each item
once (checked from the emulator's tasks). Tasks are polled every 0.5 s: the emulator is not
runwayml.com, and a 4 s generation stands for a real one of 30-60 s, polled every 5 s there (an
eighth of 4 s is as coarse as 5 s of 40 s). Streaming is also measured polling every 1 s,
to show how the makespan follows the poll interval (each stage change waits for one poll).
A warm-up run (one item, one stage) comes first, so no figure pays for the first flow run.

Run it with ``python benchmarks/run.py --only p8``.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
import uuid
from typing import Any

from benchmarks import harness

N, CONCURRENCY, GENERATION, POLL, SLOW_POLL = 30, 5, 4.0, 0.5, 1.0
STAGES: list[dict[str, Any]] = [
    {"endpoint": "text_to_image", "fields": {"model": "gen4_image", "ratio": "1920:1080"}},
    {"endpoint": "image_to_video",
     "fields": {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5},
     "inputs": {"promptImage": "output", "promptText": "row.motion"}},
    {"endpoint": "video_upscale", "fields": {"model": "magnific_video_upscaler_creative"},
     "inputs": {"videoUri": "output"}},
]  # fmt: skip


def p8(runs: int, n: int = N, concurrency: int = CONCURRENCY,
       generation: float = GENERATION) -> list[dict[str, Any]]:  # fmt: skip
    """P8's figures over `runs` runs (medians)."""
    waves = math.ceil(n / concurrency)
    ideal = (waves + len(STAGES) - 1) * generation
    ideal_staged = len(STAGES) * waves * generation
    ours, staged, slow = [], [], []
    _one(1, concurrency, 0.1, staged=False, stages=1)  # warm-up, not measured
    for _ in range(runs):
        ours.append(_one(n, concurrency, generation, staged=False))
        staged.append(_one(n, concurrency, generation, staged=True))
        slow.append(_one(n, concurrency, generation, staged=False, poll=SLOW_POLL))
    ours_s, base_s = harness.median(ours), harness.median(staged)
    return [{
        "name": f"P8 chained stages, N={n} x {len(STAGES)} stages, {generation:g} s "
                f"generations, emulator concurrency {concurrency} per model: makespan",
        "baseline_s": base_s, "ours_s": ours_s, "ratio": ours_s / base_s,
        "target": "streaming makespan <= 1.10x ideal", "met": ours_s / ideal <= 1.10,
        "p8": {"ideal_s": ideal, "streaming_over_ideal": ours_s / ideal,
               "staged_ideal_s": ideal_staged, "staged_over_ideal": base_s / ideal,
               "staged_over_its_ideal": base_s / ideal_staged, "poll_interval_s": POLL,
               "slow_poll_s": SLOW_POLL, "streaming_slow_poll_over_ideal":
                   harness.median(slow) / ideal,
               "runs": {"streaming": ours, "stage_by_stage": staged,
                        f"streaming_poll_{SLOW_POLL:g}s": slow}},
    }]  # fmt: skip


def notes(result: dict[str, Any]) -> str:
    """The README table's notes for P8."""
    p8 = result["p8"]
    return (
        f"ideal {p8['ideal_s']:g} s: streaming {p8['streaming_over_ideal']:.2f}x ideal, "
        f"stage by stage {p8['staged_over_ideal']:.2f}x (its own ideal {p8['staged_ideal_s']:g} "
        f"s: {p8['staged_over_its_ideal']:.2f}x); polls every {p8['poll_interval_s']:g} s "
        f"(every {p8['slow_poll_s']:g} s: streaming {p8['streaming_slow_poll_over_ideal']:.2f}x "
        "ideal); each stage of each item paid once; baseline: stage by stage (all of stage 1, "
        "then 2, then 3)"
    )


def _one(n: int, concurrency: int, generation: float, staged: bool, poll: float = POLL,
         stages: int = len(STAGES)) -> float:  # fmt: skip
    """One measured run on a fresh emulator and bucket; its makespan in seconds."""
    import boto3
    from pydantic import SecretStr

    from prefect_runway import RunwayCredentials
    from prefect_runway.flows.pipeline import run_pipeline
    from prefect_runway.testing.emulator import Emulator

    run_id = uuid.uuid4().hex[:8]
    bucket = f"bench-p8-{run_id}"
    rows = [{"id": f"item{i:02d}", "promptText": f"a lighthouse {run_id} {i}",
             "motion": f"slow pan {run_id} {i}"} for i in range(n)]  # fmt: skip
    names = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    saved = {k: os.environ.get(k) for k in names}
    with harness.moto_process() as s3_url, Emulator(
        api_key=harness.API_KEY, concurrency=concurrency, concurrency_per_model=True,
        generation_seconds=generation, fetch_urls=False,
    ) as emu:  # fmt: skip
        os.environ.update({"AWS_ENDPOINT_URL": s3_url, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench",
                           "AWS_DEFAULT_REGION": "us-east-1"})  # fmt: skip
        try:
            boto3.client("s3").create_bucket(Bucket=bucket)
            creds = RunwayCredentials(api_key=SecretStr(harness.API_KEY), base_url=emu.base_url,
                                      poll_interval=poll)  # fmt: skip
            cuts = range(1, stages + 1) if staged else [stages]
            start = time.perf_counter()
            for cut in cuts:
                # a column no stage of this cut reads would be refused as a typo
                table = rows if cut > 1 else [{**r, "motion": None} for r in rows]
                result = asyncio.run(run_pipeline(table, STAGES[:cut], f"s3://{bucket}/out/",
                                                  credentials_block=creds))  # fmt: skip
            elapsed = time.perf_counter() - start
            assert result.complete == n, result.model_dump_json()[:2000]
            by_model: dict[str, int] = {}
            for task in emu.tasks():
                by_model[task["model"]] = by_model.get(task["model"], 0) + 1
            assert sorted(by_model.values()) == [n] * stages, by_model  # paid once each
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return elapsed
