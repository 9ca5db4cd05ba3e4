"""The ``prefect-runway`` command: submit generations, check tasks, run the local emulator.

The API key comes only from the ``RUNWAYML_API_SECRET`` environment variable or a saved
``RunwayCredentials`` block (``--block``), never from a flag: shell history and process lists
leak flags. Request URLs are shown without their query string; output URLs are shown in full.

Example:
    ```console
    $ export RUNWAYML_API_SECRET=key_...
    $ prefect-runway submit cat.png https://example.com/dog.jpg --model gen4_turbo \\
        --ratio 1280:720 --duration 5 --wait
    $ prefect-runway status 0f7a... --json
    $ prefect-runway emulator --port 8008
    ```

Exit codes: 0 when everything succeeded, 1 when anything failed (the reason is on stderr),
2 for bad usage, 130 after Ctrl-C. ``status`` exits 0 only when every task SUCCEEDED.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from prefect_runway.api.client import AsyncRunwayClient
from prefect_runway.api.dialects import Dialect
from prefect_runway.api.limits import MAX_SEED, MAX_UPLOAD_BYTES
from prefect_runway.api.models import (
    MODEL_RULES,
    GenerationSettings,
    ImageToVideoRequest,
    Task,
    TaskStatus,
    check_model,
    redact_url,
)
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.delivery import choose_transport
from prefect_runway.errors import (
    ConfigurationError,
    ImageRejectedError,
    PrefectRunwayError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayError,
    RunwayTaskFailedError,
    RunwayTaskTimeoutError,
    RunwayValidationError,
    validation_messages,
)
from prefect_runway.images import check_data_uri, check_image, sniff_image_type
from prefect_runway.ledger.engine import Engine, ImageJob
from prefect_runway.ledger.keys import content_identity, image_identity, submission_key

_URI = re.compile(r"^(data:|[a-z][a-z0-9+.-]+://)", re.IGNORECASE)
_FATAL = (RunwayAuthenticationError, RunwayConnectionError)
"""Errors that would fail every other input too: stop at the first."""


class InputError(RunwayValidationError):
    """One command-line input that cannot be sent; the message is shown as it is."""


@dataclass
class _Input:
    """A validated input: its display name and identity, and a ready request or a file to
    upload first.

    Attributes:
        source: The argument as shown to the user (URLs redacted).
        identity: The image's stable identity in the key (a file's content hash).
        payload: The request, or ``(path, content type)`` of a file too big for a data URI.
    """

    source: str
    identity: str
    payload: ImageToVideoRequest | tuple[Path, str]


def _error(message: str) -> None:
    """Print ``error: <message>`` on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)


_messages = validation_messages


def _prepare(arg: str, settings: GenerationSettings, dialect: Dialect) -> _Input:
    """Validate one argument (URL, data URI, runway:// URI or file) without any request.

    Raises:
        InputError: the argument cannot be sent; the message names it.
    """
    if _URI.match(arg):
        source = redact_url(arg)
        if arg[:5].lower() == "data:":
            try:
                _warn(check_data_uri(arg, "the data URI", settings.model).warnings)
            except ImageRejectedError as exc:
                raise InputError(f"{source}: {exc}") from None
        try:
            request = settings.for_image(arg)
            return _Input(source, image_identity(request.prompt_image), request)
        except ValidationError as exc:
            raise InputError("\n".join(f"{source}: {line}" for line in _messages(exc))) from None
    path = Path(arg)
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise InputError(f"{arg}: cannot read the file ({exc.strerror or exc})") from None
    kind = sniff_image_type(head)
    if kind not in ("image/jpeg", "image/png", "image/webp"):
        if kind == "image/gif":
            raise InputError(f"{arg} is a GIF; Runway accepts JPEG, PNG or WebP")
        raise InputError(f"{arg} is not a JPEG, PNG or WebP image (its bytes match none of them)")
    if size <= MAX_UPLOAD_BYTES:  # larger files are refused below without being read
        try:
            _warn(check_image(path.read_bytes(), arg, settings.model).warnings)
        except ImageRejectedError as exc:
            raise InputError(str(exc)) from None
    how = choose_transport(size, kind, "auto", dialect)  # the flow's rule, for files
    if how == "data_uri":
        data = path.read_bytes()
        uri = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        try:
            return _Input(arg, content_identity(data), settings.for_image(uri))
        except ValidationError as exc:
            raise InputError("\n".join(f"{arg}: {line}" for line in _messages(exc))) from None
    if how != "upload":  # a local file has no presigned URL
        raise InputError(
            f"{arg}: {size} bytes is too large for a 5 MB data URI, and the {dialect} dialect "
            "has no uploads; pass an https:// URL of the image instead"
        )
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"{arg}: {size} bytes is over Runway's 200 MB upload limit")
    return _Input(arg, _file_identity(path), (path, kind))


def _warn(found: tuple[str, ...]) -> None:
    for line in found:
        print(f"warning: {line}", file=sys.stderr)


def _file_identity(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def _credentials(args: argparse.Namespace) -> RunwayCredentials:
    """The block named by ``--block``, else the environment, with flag overrides applied."""
    if args.block:
        try:
            creds = RunwayCredentials.load(args.block)
        except Exception as exc:  # Prefect raises ValueError, httpx or runtime errors here
            raise ConfigurationError(f"cannot load the block {args.block!r}: {exc}") from None
        if not isinstance(creds, RunwayCredentials):
            raise ConfigurationError(f"block {args.block!r} is not a RunwayCredentials block")
    else:
        creds = RunwayCredentials()
    overrides = {
        "base_url": args.base_url,
        "dialect": Dialect(args.dialect) if args.dialect else None,  # model_copy: no validation
        "poll_interval": args.poll_interval,
    }
    return creds.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _emit(args: argparse.Namespace, line: str, record: dict[str, Any]) -> None:
    """Print one result on stdout: `record` as JSON with ``--json``, else `line`."""
    print(json.dumps(record) if args.json else line, flush=True)


def _task_line(task: Task) -> str:
    """``<id>\\t<STATUS>`` plus progress, failure code and text, or output URLs."""
    fields = [task.id, task.status.value]
    if task.status is TaskStatus.RUNNING and task.progress is not None:
        fields.append(f"{task.progress:.0%}")
    if task.status is TaskStatus.FAILED:
        fields.append(f"{task.failure_code or 'UNKNOWN'}: {task.failure or 'no reason given'}")
    fields.extend(task.output or [])
    return "\t".join(fields)


def _report(args: argparse.Namespace, task_id: str, task: Task | None, error: str | None) -> None:
    """Print one task's state (stdout) and, for a failure, the reason (stderr)."""
    record = task.model_dump(mode="json", exclude_none=True) if task else {"id": task_id}
    if error:
        record["error"] = error
        _error(error)
    if task or args.json:
        _emit(args, _task_line(task) if task else task_id, record)


class _Progress:
    """Waiting progress on a stream: a bar redrawn in place on a TTY, else status changes.

    Args:
        stream: Where to draw (stderr).
        task_ids: The tasks waited for.
    """

    width = 30

    def __init__(self, stream: TextIO, task_ids: Sequence[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.tasks: dict[str, Task | None] = dict.fromkeys(task_ids)
        self._drawn = 0
        if self.tty:
            self._draw()

    def update(self, task: Task) -> None:
        """Record a task's new state and show it."""
        previous = self.tasks.get(task.id)
        self.tasks[task.id] = task
        if self.tty:
            self._draw()
        elif previous is None or previous.status is not task.status:
            print(f"{task.id}\t{task.status.value}", file=self.stream, flush=True)

    def _draw(self) -> None:
        tasks = list(self.tasks.values())
        done = sum(1 for t in tasks if t and t.is_terminal)
        parts = [1.0 if t and t.is_terminal else (t and t.progress) or 0.0 for t in tasks]
        fraction = sum(parts) / max(len(parts), 1)
        filled = round(fraction * self.width)
        text = f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction:4.0%}  "
        text += f"{done}/{len(tasks)} finished"
        self.stream.write("\r" + text.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(text)

    def close(self) -> None:
        """Erase the bar."""
        if self.tty and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()


async def _wait(client: AsyncRunwayClient, args: argparse.Namespace, ids: list[str]) -> bool:
    """Wait for `ids` with a progress display; print each final state. True if all SUCCEEDED."""
    progress = _Progress(sys.stderr, ids)
    try:
        results = await client.wait_for_tasks(
            ids, timeout=args.timeout, poll_interval=args.poll_interval, on_update=progress.update
        )
    finally:
        progress.close()
    for task_id, result in results.items():
        if isinstance(result, Task):
            _report(args, task_id, result, None)
            continue
        known = isinstance(result, (RunwayTaskFailedError, RunwayTaskTimeoutError))
        _report(
            args,
            task_id,
            progress.tasks.get(task_id),
            str(result) if known else f"{task_id}: {result}",
        )
    return all(isinstance(result, Task) for result in results.values())


async def _submit_all(
    args: argparse.Namespace,
    creds: RunwayCredentials,
    settings: GenerationSettings,
    inputs: list[_Input],
) -> int:
    """Submit each input once, through the engine and its ledger in ``$PREFECT_HOME`` (then
    wait with ``--wait``); return the number that failed."""
    failures, ids = 0, []
    async with creds.get_async_client() as client:
        engine = await Engine.create(
            creds, client, resubmit=args.resubmit, resubmit_unknown=args.resubmit_unknown
        )
        for item in inputs:
            row = await engine.submit(_job(item, settings), settings)
            if isinstance(row.exception, _FATAL):  # every other input would fail the same way
                from prefect_runway.flows.common import stop_error

                raise stop_error(creds, row.exception)
            if row.task_id is None or row.status == "unrecorded":
                failures += 1
                _error(f"{item.source}: {row.error}")
            if row.task_id is None:
                if args.json:
                    _emit(args, "", {"source": item.source, "status": row.status,
                                     "error": row.error})  # fmt: skip
                continue
            ids.append(row.task_id)
            credits = "?" if row.estimated_credits is None else f"{row.estimated_credits:g}"
            line = "\t".join(
                [item.source, row.task_id, row.status, f"{row.duration}s", f"~{credits} credits"]
            )
            _emit(
                args,
                line + ("\tpossible duplicate" if row.possible_duplicate else ""),
                {
                    "source": item.source,
                    "id": row.task_id,
                    "status": row.status,
                    "duration": row.duration,
                    "estimated_credits": row.estimated_credits,
                    "possible_duplicate": row.possible_duplicate,
                    "lost_responses": row.lost_responses,
                },
            )
        if args.wait and ids and not await _wait(client, args, ids):
            failures += 1
    return failures


def _job(item: _Input, settings: GenerationSettings) -> ImageJob:
    """The engine's job for one input: a file too big for a data URI is uploaded only when it
    is to be submitted (a cached file is not uploaded again)."""
    payload = item.payload
    if isinstance(payload, ImageToVideoRequest):
        return ImageJob(item.source, item.identity, payload.prompt_image)
    path, kind = payload

    async def upload(client: AsyncRunwayClient) -> str:
        return await client.upload_image(path.read_bytes(), path.name, kind)

    return ImageJob(item.source, item.identity, upload)


def _cmd_submit(args: argparse.Namespace) -> int:
    """``submit``: validate settings and every input locally, then submit the valid ones."""
    creds = _credentials(args)
    try:  # a retired or unknown model first: before its (old) rules or any input
        check_model(args.model, creds.dialect)
    except ValueError as exc:
        _error(str(exc))
        return 1
    try:
        settings = GenerationSettings(
            model=args.model,
            ratio=args.ratio,
            duration=args.duration,
            prompt_text=args.prompt_text,
            seed=args.seed,
        )
    except ValidationError as exc:
        for line in _messages(exc):
            _error(line)
        return 1
    inputs, failures = [], 0
    for arg in args.images:
        try:
            inputs.append(_prepare(arg, settings, creds.dialect))
        except InputError as exc:
            failures += 1
            for line in str(exc).splitlines():
                _error(line)
            if args.json:
                _emit(args, "", {"source": redact_url(arg), "error": str(exc)})
    if inputs and args.dry_run:
        asyncio.run(_dry_run(args, creds, settings, inputs))
        return 1 if failures else 0
    if inputs:
        failures += asyncio.run(_submit_all(args, creds, settings, inputs))
    return 1 if failures else 0


async def _dry_run(
    args: argparse.Namespace,
    creds: RunwayCredentials,
    settings: GenerationSettings,
    inputs: list[_Input],
) -> None:
    """``submit --dry-run``: what would be paid, from local checks and the ledger; nothing is
    sent to Runway. An image whose record cannot be read counts as paid (an upper bound)."""
    from prefect_runway.ledger.records import Ledger

    ledger = await Ledger.default()
    price = settings.estimated_credits()
    each = "price unknown" if price is None else f"~{price:g} credits"
    paying = 0
    for item in inputs:
        try:
            key = submission_key(creds.account_fingerprint, settings, item.identity)
            record = await ledger.read(key)
        except PrefectRunwayError as exc:  # no key (no account to look up), an unreadable record
            record, note = None, f"\t(ledger not read: {exc})"
        else:
            note = ""
        cached = record is not None and record.state == "submitted" and not record.expired
        cached = cached and not args.resubmit
        if not cached:
            paying += 1
        task_id = record.task.id if cached and record and record.task else None
        _emit(
            args,
            "\t".join([item.source, f"cached {task_id}" if cached else "would submit",
                       f"{settings.effective_duration}s", "0 credits" if cached else each])
            + note,
            {"source": item.source, "status": "cached" if cached else "would_submit",
             "id": task_id, "duration": settings.effective_duration,
             "estimated_credits": 0 if cached else price},
        )  # fmt: skip
    total = "an unknown number of credits" if price is None else f"~{price * paying:g} credits"
    usd = "" if price is None else f" (~{price * paying / 100:.2f} USD)"
    print(f"dry run: {paying} of {len(inputs)} would be paid, {total}{usd}; nothing was sent",
          file=sys.stderr)  # fmt: skip


def _cmd_adopt(args: argparse.Namespace) -> int:
    """``ledger adopt``: record a known task for an unknown or unrecorded image; pays nothing."""
    from prefect_runway.ledger.adopt import adopt

    record = asyncio.run(adopt(_credentials(args), args.record, args.task_id))
    assert record.task is not None
    _emit(args, "\t".join([record.source or record.key, record.task.id, "adopted"]),
          {"source": record.source, "key": record.key, "id": record.task.id,
           "status": "adopted", "possible_duplicate": True})  # fmt: skip
    return 0


def _cmd_sample_image(args: argparse.Namespace) -> int:
    """``sample-image``: the package's sample PNG, to stdout or a file."""
    from prefect_runway.samples import sample_image

    data = sample_image()
    if args.output:
        Path(args.output).write_bytes(data)
    elif sys.stdout.isatty():
        raise InputError("refusing to write PNG bytes to a terminal: redirect (> cat.png) or -o")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0


async def _status_all(args: argparse.Namespace, creds: RunwayCredentials) -> bool:
    """Show (or wait for) each task; True when every one SUCCEEDED."""
    ids = list(dict.fromkeys(args.task_ids))
    async with creds.get_async_client() as client:
        if args.wait:
            return await _wait(client, args, ids)
        results = await asyncio.gather(*(client.get_task(i) for i in ids), return_exceptions=True)
    for task_id, result in zip(ids, results, strict=True):
        if isinstance(result, _FATAL) or not isinstance(result, (Task, RunwayError)):
            raise result
        if isinstance(result, RunwayError):
            _report(args, task_id, None, f"{task_id}: {result}")
        else:
            reason = None
            if result.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                reason = f"task {task_id} is {result.status.value}"
            _report(args, task_id, result, reason)
    return all(isinstance(r, Task) and r.status is TaskStatus.SUCCEEDED for r in results)


def _cmd_status(args: argparse.Namespace) -> int:
    """``status``: exit 0 only when every task SUCCEEDED."""
    return 0 if asyncio.run(_status_all(args, _credentials(args))) else 1


def _positive(text: str) -> float:
    """argparse type: a number above zero."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _seed(text: str) -> int:
    """argparse type: an integer seed in Runway's range."""
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text} is outside 0-{MAX_SEED}")
    return value


def _help_formatter() -> type[argparse.HelpFormatter]:
    from prefect_runway.flows.common import HelpFormatter  # the flows' --help, the same way

    return HelpFormatter


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``prefect-runway`` command."""
    from prefect_runway import __version__

    parser = argparse.ArgumentParser(
        prog="prefect-runway", description="Runway image-to-video from the command line."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "emulator",
        add_help=False,
        help="serve the local Runway API emulator (see: prefect-runway emulator --help)",
    )

    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group(
        "connection", "The API key comes from $RUNWAYML_API_SECRET or the block, never a flag."
    )
    group.add_argument("--block", metavar="NAME", help="load a saved RunwayCredentials block")
    group.add_argument("--base-url", help="API root (default: block, $RUNWAYML_BASE_URL)")
    group.add_argument("--dialect", choices=[d.value for d in Dialect], help="wire dialect")
    group.add_argument(
        "--poll-interval",
        type=_positive,
        metavar="SECONDS",
        help="seconds between polls of a task (default: the block's, 5)",
    )
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="wait until the tasks finish")
    waiting.add_argument(
        "--timeout",
        type=_positive,
        default=3600.0,
        metavar="SECONDS",
        help="give up waiting after this long",
    )
    waiting.add_argument("--json", action="store_true", help="print one JSON object per line")

    submit = commands.add_parser(
        "submit",
        parents=[connection, waiting],
        help="submit image-to-video generations",
        formatter_class=_help_formatter(),
        description="Submit one generation per image: an https:// URL, a data: URI, a "
        "runway:// upload URI or a local JPEG, PNG or WebP file. Each (account, image, "
        "settings) is paid once: submissions are recorded in $PREFECT_HOME and a second "
        "run prints the recorded task as 'cached'. Try it with the package's sample image: "
        "prefect-runway sample-image > cat.png",
        epilog=textwrap.fill(
            "models (official API): " + ", ".join(MODEL_RULES) + ". Each model's ratios, "
            "durations and prices: the README's Models table.", width=78
        ),
    )
    submit.add_argument("images", nargs="+", metavar="IMAGE_OR_URL")
    submit.add_argument("--model", default="gen4_turbo", metavar="MODEL",
                        help="the Runway model (list below)")  # fmt: skip
    submit.add_argument("--ratio", default="1280:720", help="output ratio, checked per model")
    submit.add_argument("--duration", type=int, default=5, metavar="SECONDS",
                        help="seconds of video, checked per model (gen4_turbo: 2-10; "
                        "5 s of gen4_turbo = 25 credits)")  # fmt: skip
    submit.add_argument("--prompt-text", metavar="TEXT", help="what should happen")
    submit.add_argument("--seed", type=_seed, metavar=f"0-{MAX_SEED}",
                        help="same seed + image + settings = same generation")  # fmt: skip
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="check every input and print what would be paid (credits); send nothing",
    )
    submit.add_argument(
        "--resubmit",
        action="store_true",
        help="pay again: submit even images submitted before (default: each once)",
    )
    submit.add_argument(
        "--resubmit-unknown",
        action="store_true",
        help="pay again for images whose earlier outcome is unknown (a task may exist)",
    )
    submit.set_defaults(func=_cmd_submit)

    status = commands.add_parser(
        "status",
        parents=[connection, waiting],
        help="show (or wait for) tasks",
        formatter_class=_help_formatter(),
        description="Print <id> <STATUS> [progress | failure | output URLs] per task; exit 0 "
        "only when every task SUCCEEDED.",
    )
    status.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    status.set_defaults(func=_cmd_status)

    ledger = commands.add_parser(
        "ledger", help="settle the submission ledger's unknown outcomes (pays nothing)",
        description="The ledger in $PREFECT_HOME (or PREFECT_RUNWAY_RECORDS...) that keeps "
        "every image paid once.",
    )  # fmt: skip
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True,
                                            metavar="COMMAND")  # fmt: skip
    adopt = ledger_commands.add_parser(
        "adopt",
        parents=[connection],
        formatter_class=_help_formatter(),
        help="record a known Runway task for an unknown or unrecorded image",
        description="An image held as 'unknown' (a task may exist) or 'unrecorded' (its task "
        "was created, the record was not written) is settled for free: the task is read once "
        "(GET) on this account, then recorded as submitted, flagged possible_duplicate. A "
        "record that already holds a task is never changed.",
    )
    adopt.add_argument("record", metavar="RECORD",
                       help="the image's record: its key (runway-i2v-...) or the path that the "
                       "run's WARNING names")  # fmt: skip
    adopt.add_argument("task_id", metavar="TASK_ID", help="the Runway task to adopt")
    adopt.add_argument("--json", action="store_true", help="print one JSON object")
    adopt.set_defaults(func=_cmd_adopt)

    sample = commands.add_parser(
        "sample-image",
        help="write the package's sample PNG (prefect-runway sample-image > cat.png)",
        description="Write the small PNG shipped in the package, to try submit with.",
    )
    sample.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    sample.set_defaults(func=_cmd_sample_image)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``prefect-runway`` command.

    Args:
        argv: Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns:
        The exit code: 0 on success, 1 when anything failed, 2 for bad usage, 130 on Ctrl-C.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.command == "emulator":
            from prefect_runway.testing.emulator import main as emulator_main

            return emulator_main(extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        code: int = args.func(args)
        return code
    except (PrefectRunwayError, ValueError) as exc:  # ValueError: e.g. a bad task ID
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
