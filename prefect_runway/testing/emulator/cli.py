"""Command line: ``prefect-runway emulator``, or ``python -m prefect_runway.testing.emulator``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from .app import DIALECTS, PROXY_SUBMIT_SHAPES, Emulator
from .faults import Faults


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the emulator command."""
    p = argparse.ArgumentParser(
        prog="prefect-runway emulator",
        description="Serve a local emulator of Runway's image-to-video API.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=CONTROL_HELP,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    p.add_argument(
        "--port", type=int, default=8008, help="TCP port; 0 picks a free one (default: %(default)s)"
    )
    p.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="runway",
        help="runway: the official API; proxy: a /runwayml reseller (default: %(default)s)",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("RUNWAYML_API_SECRET"),
        help="the one bearer key accepted (default: $RUNWAYML_API_SECRET; unset: any key)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=2,
        help="tasks RUNNING at once; the rest wait THROTTLED (default: %(default)s)",
    )
    p.add_argument(
        "--generation-seconds",
        type=float,
        default=1.0,
        help="seconds a task stays RUNNING (default: %(default)s)",
    )
    p.add_argument(
        "--pending-seconds",
        type=float,
        default=0.0,
        help="seconds a new task stays PENDING (default: %(default)s)",
    )
    p.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds added to every API request (default: %(default)s)",
    )
    p.add_argument(
        "--rate-429",
        type=float,
        default=0.0,
        help="fraction 0-1 of submits answered 429 (default: %(default)s)",
    )
    p.add_argument(
        "--retry-after",
        type=float,
        default=0.05,
        help="Retry-After of those 429s, seconds (default: %(default)s)",
    )
    p.add_argument(
        "--rate-5xx",
        type=float,
        default=0.0,
        help="fraction 0-1 of submits answered 502/503/504 (default: %(default)s)",
    )
    p.add_argument(
        "--rate-reset",
        type=float,
        default=0.0,
        help="fraction 0-1 of submits dropped before a task exists (default: %(default)s)",
    )
    p.add_argument(
        "--rate-lost-response",
        type=float,
        default=0.0,
        help="fraction 0-1 of submits creating a task, then no answer (default: %(default)s)",
    )
    p.add_argument(
        "--rate-malformed",
        type=float,
        default=0.0,
        help="fraction 0-1 of submits answered 200 with a non-JSON body (default: %(default)s)",
    )
    p.add_argument(
        "--rate-wrapped-error",
        type=float,
        default=0.0,
        help="proxy only: fraction 0-1 of submits answered 200 + an error (default: %(default)s)",
    )
    p.add_argument(
        "--rate-after-create",
        type=float,
        default=0.0,
        help="fraction 0-1 of created tasks whose answer then fails (default: %(default)s)",
    )
    p.add_argument(
        "--after-create",
        default="502",
        metavar="KINDS",
        help="comma-separated: how those answers fail, e.g. 502,524,drop,truncate,slow "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--rate-task-failure",
        type=float,
        default=0.0,
        help="fraction 0-1 of created tasks that end FAILED (default: %(default)s)",
    )
    p.add_argument(
        "--failure-code",
        default="INTERNAL.BAD_OUTPUT.CODE01",
        help="failureCode of those tasks (default: %(default)s)",
    )
    p.add_argument(
        "--proxy-submit-shape",
        choices=PROXY_SUBMIT_SHAPES,
        default="wrapped",
        help="proxy only: the submit answer's JSON shape (default: %(default)s)",
    )
    p.add_argument(
        "--proxy-not-found-seconds",
        type=float,
        default=0.0,
        help="proxy only: seconds a new task answers 404 (default: %(default)s)",
    )
    p.add_argument(
        "--allow-http-loopback",
        action="store_true",
        help="accept http(s) image URLs on 127.0.0.1, localhost and [::1], e.g. moto's "
        "(default: off)",
    )
    p.add_argument(
        "--no-fetch-urls",
        action="store_true",
        help="skip the HEAD check Runway makes on image URLs (default: check)",
    )
    p.add_argument(
        "--credit-balance",
        type=int,
        default=100000,
        help="starting credit balance, credits (default: %(default)s)",
    )
    p.add_argument(
        "--output-url-ttl",
        type=float,
        default=3600.0,
        help="seconds an output URL stays valid, then 403 (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the fault dice, for repeatable runs (default: random)",
    )
    p.add_argument(
        "--daily-limit",
        type=int,
        default=10000,
        metavar="N",
        help="maximum generations per model in any rolling 24 hours; past it, create answers "
        "429 (default: 10000; 0: no limit)",
    )
    p.add_argument(
        "--rate-download-error",
        type=float,
        default=0.0,
        metavar="P",
        help="fraction 0..1 of output video downloads answered 500 (default: 0)",
    )
    return p


CONTROL_HELP = """\
control endpoints (no API key needed), to check what a run really cost:
  GET  /_emulator/health   {"ok": true} once it serves
  GET  /_emulator/stats    counts: posts (create requests received), tasks_created (paid
                           tasks, answered or not), duplicates (tasks created for a request
                           body already seen), polls, uploads, downloads, by_status, ...
  POST /_emulator/reset    forget every task and count
  POST /_emulator/faults   change fault rates while it runs, e.g. {"rate_5xx": 0.1}
  GET|POST /_emulator/clock  read, or move with {"advance_seconds": 86400} ("tomorrow")

  e.g. curl -s http://127.0.0.1:8008/_emulator/stats | python -m json.tool
"""

ANY_KEY = "key_local_emulator"
"""The key shown at start when the emulator accepts any key."""


def export_lines(base_url: str, api_key: str | None, dialect: str) -> str:
    """The shell lines that point Runway's SDK, this client and the flows at the emulator.

    A key that came from ``$RUNWAYML_API_SECRET`` is referred to, never printed.
    """
    if not api_key:
        key = f"{ANY_KEY}   # any key is accepted"
    elif api_key == os.environ.get("RUNWAYML_API_SECRET"):
        key = '"$RUNWAYML_API_SECRET"   # the key from the environment it started in'
    else:
        key = api_key
    lines = [
        "Point Runway's SDK, prefect-runway and its flows at it (in your shell):",
        f"  export RUNWAYML_BASE_URL={base_url}",
        f"  export RUNWAYML_API_SECRET={key}",
    ]
    if dialect == "proxy":
        lines.append('  (and dialect="proxy" on RunwayCredentials, --dialect proxy on the CLI)')
    lines += [
        "What it received and created (e.g. 'the second run pays nothing': tasks_created stays):",
        f"  curl -s {base_url}/_emulator/stats     (also /_emulator/health, "
        "POST /_emulator/reset; --help lists them)",
    ]
    return "\n".join([*lines, "Stop with Ctrl-C."])


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM.

    Args:
        argv: Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns:
        The exit code: 0 after a clean shutdown, 2 on invalid settings.
    """
    args = build_parser().parse_args(argv)
    try:
        faults = Faults(
            rate_429=args.rate_429,
            retry_after=args.retry_after,
            rate_5xx=args.rate_5xx,
            rate_reset=args.rate_reset,
            rate_lost_response=args.rate_lost_response,
            rate_malformed=args.rate_malformed,
            rate_wrapped_error=args.rate_wrapped_error,
            rate_task_failure=args.rate_task_failure,
            failure_code=args.failure_code,
            latency=args.latency,
            seed=args.seed,
            rate_download_error=args.rate_download_error,
            rate_after_create=args.rate_after_create,
            after_create=tuple(k.strip() for k in args.after_create.split(",") if k.strip()),
        )
        emulator = Emulator(
            api_key=args.api_key or None,
            dialect=args.dialect,
            host=args.host,
            port=args.port,
            concurrency=args.concurrency,
            generation_seconds=args.generation_seconds,
            pending_seconds=args.pending_seconds,
            proxy_submit_shape=args.proxy_submit_shape,
            proxy_not_found_seconds=args.proxy_not_found_seconds,
            fetch_urls=not args.no_fetch_urls,
            allow_http_loopback=args.allow_http_loopback,
            credit_balance=args.credit_balance,
            faults=faults,
            output_url_ttl=args.output_url_ttl,
            daily_limit=args.daily_limit or None,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {}
    if in_main_thread:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)
    try:
        try:
            emulator.start()
        except OSError as exc:
            print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        print(f"Runway emulator ({args.dialect}) listening on {emulator.base_url}", flush=True)
        print(export_lines(emulator.base_url, args.api_key, args.dialect), flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
