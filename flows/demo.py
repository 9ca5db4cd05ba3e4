"""`make demo`: the whole job on a laptop, offline, with nothing to sign up for.

Starts moto's S3 server and the Runway emulator on free loopback ports, fills a bucket with
sample images (and one bad object, to show the report), runs `s3_image_to_video` twice (the
second run is all cache hits: nothing is paid twice) and `collect_videos` on Prefect's
ephemeral server, prints the task IDs and where the videos are, and stops what it started.

It never touches real services: the Runway key and the S3 endpoint are set here, whatever the
environment says. To run the same flow for real, see the README.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

DEMO_KEY = "key_demo_local_emulator_only"
STARTUP_TIMEOUT = "300"
BUCKET = "demo-stills"
PREFIX = "stills/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quiet_offline_prefect(home: Path) -> None:
    """Settings for a clean offline run, set before Prefect is imported.

    A fresh PREFECT_HOME has no profiles, so with no PREFECT_API_URL Prefect starts its
    ephemeral server.
    """
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(
        {
            "PREFECT_HOME": str(home),  # a fresh cache: the emulator is fresh too
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # no telemetry calls offline
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "INFO",
            # A fresh PREFECT_HOME builds Prefect's database first (about 17 s on 2 idle
            # cores, much more on a busy one); Prefect's default start-up budget is 20 s.
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": STARTUP_TIMEOUT,
        }
    )


def _start_prefect_early() -> Callable[[], None]:
    """Start Prefect's ephemeral server in the background, while S3 and the emulator start
    and the bucket fills; returns a function that waits until it is healthy (or raises its
    start-up error). The flows then find the same, already running server."""
    from prefect.server.api.server import SubprocessASGIServer

    failure: list[BaseException] = []

    def start() -> None:
        try:
            SubprocessASGIServer().start(timeout=int(STARTUP_TIMEOUT))
        except BaseException as exc:  # re-raised in the main thread by ready()
            failure.append(exc)

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()

    def ready() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return ready


def main() -> int:
    """Run the demo; returns the process exit code."""
    home = Path(tempfile.mkdtemp(prefix="prefect-runway-demo-"))
    # Registered before Prefect starts its ephemeral server (also stopped at exit), so this
    # runs after that server has stopped: nothing of the run is left behind.
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    _quiet_offline_prefect(home)
    prefect_ready = _start_prefect_early()
    import asyncio
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from prefect_runway.testing.emulator import Emulator
    from prefect_runway.testing.emulator.samples import GIF, png

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    emulator = Emulator(api_key=DEMO_KEY, concurrency=3, generation_seconds=2.0)
    emulator.start()
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "RUNWAYML_API_SECRET": DEMO_KEY,
            "RUNWAYML_BASE_URL": emulator.base_url,
        }
    )
    try:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        colours = [(200, 60, 40), (40, 160, 90), (30, 80, 200), (220, 180, 30), (120, 40, 160)]
        for i, rgb in enumerate(colours):
            s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}still-{i}.png", Body=png(160, 90, rgb),
                          ContentType="image/png")  # fmt: skip
        # Uploaded without a content type: S3 serves binary/octet-stream, the bytes say PNG.
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}no-content-type.png", Body=png(160, 90))
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}logo.gif", Body=GIF, ContentType="image/gif")
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}README.txt", Body=b"not an image")
        print(f"Bucket s3://{BUCKET}/{PREFIX}: 6 images, 2 objects that are not usable images")
        print(f"S3 (moto) at {os.environ['AWS_ENDPOINT_URL']}, Runway emulator at "
              f"{emulator.base_url}\n")  # fmt: skip

        from prefect_runway.flows import collect_videos, s3_image_to_video

        prefect_ready()
        first = asyncio.run(s3_image_to_video(BUCKET, PREFIX, prompt_text="slow dolly zoom"))
        again = asyncio.run(s3_image_to_video(BUCKET, PREFIX, prompt_text="slow dolly zoom"))
        posts = emulator.stats()["posts"]
        collected = asyncio.run(
            collect_videos(output_prefix=f"s3://{BUCKET}/videos/",
                           manifest_uri=first.manifest_uri, wait_seconds=120)
        )
    finally:
        emulator.stop()
        moto.stop()

    from prefect_runway.flows.common import batch_key
    from prefect_runway.flows.s3_image_to_video import TABLE_KEY

    print(f"\nArtifact '{batch_key(TABLE_KEY, f'{BUCKET}/{PREFIX}')}':")
    width = max(len("source"), *(len(row.source) for row in first.rows))
    print(f"  {'source':<{width}} {'status':<9} {'task id':<36} error")
    for row in first.rows:
        print(f"  {row.source:<{width}} {row.status:<9} {row.task_id or '-':<36} {row.error or ''}")
    print(
        f"\nFirst run: {first.submitted} submitted (~{first.estimated_credits:g} credits), "
        f"{first.rejected} rejected. Second run: {again.cached} cache hits, "
        f"{again.submitted} submitted. POSTs received by the emulator in all: {posts}."
    )
    print(f"Manifest: {first.manifest_uri}")
    print(f"Videos ({collected.succeeded} succeeded, {collected.failed} failed):")
    for row in collected.rows:
        print(f"  {row.output}  {row.output_bytes} bytes  sha256 "
              f"{str(row.output_sha256)[:12]}...")  # fmt: skip
    ok = first.submitted == 6 and again.submitted == 0 and collected.failed == 0
    print("\nDemo finished." if ok else "\nDemo finished with unexpected results.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
