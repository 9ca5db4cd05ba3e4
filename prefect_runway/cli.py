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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from prefect_runway.caching import content_identity, image_identity
from prefect_runway.client import AsyncRunwayClient
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.engine import Engine, ImageJob
from prefect_runway.errors import (
    ImageRejectedError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayError,
    RunwayTaskFailedError,
    RunwayTaskTimeoutError,
)
from prefect_runway.imagecheck import check_data_uri, check_image
from prefect_runway.models import (
    MAX_UPLOAD_BYTES,
    GenerationSettings,
    ImageToVideoRequest,
    Task,
    TaskStatus,
    redact_url,
)
from prefect_runway.sources import sniff_image_type
from prefect_runway.transport import choose_transport

_URI = re.compile(r"^(data:|[a-z][a-z0-9+.-]+://)", re.IGNORECASE)
_FATAL = (RunwayAuthenticationError, RunwayConnectionError)
"""Errors that would fail every other input too: stop at the first."""


class InputError(Exception):
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


def _messages(exc: ValidationError) -> list[str]:
    """One clean line per problem: the validator's own text, or ``field: message``."""
    lines = []
    for problem in exc.errors(include_url=False):
        cause = (problem.get("ctx") or {}).get("error")
        if problem["type"] == "value_error" and cause is not None:
            lines.append(str(cause))
        else:
            where = ".".join(str(part) for part in problem["loc"])
            lines.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return lines


def _prepare(arg: str, settings: GenerationSettings, dialect: str) -> _Input:
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
            raise RunwayError(f"cannot load the block {args.block!r}: {exc}") from None
        if not isinstance(creds, RunwayCredentials):
            raise RunwayError(f"block {args.block!r} is not a RunwayCredentials block")
    else:
        creds = RunwayCredentials()
    overrides = {
        "base_url": args.base_url,
        "dialect": args.dialect,
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
            if isinstance(row._exception, _FATAL):
                raise row._exception
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
    creds = _credentials(args)
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
    if inputs:
        failures += asyncio.run(_submit_all(args, creds, settings, inputs))
    return 1 if failures else 0


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


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``prefect-runway`` command."""
    parser = argparse.ArgumentParser(
        prog="prefect-runway", description="Runway image-to-video from the command line."
    )
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
    group.add_argument("--dialect", choices=("runway", "proxy"), help="wire dialect")
    group.add_argument("--poll-interval", type=_positive, metavar="SECONDS")
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="wait until the tasks finish")
    waiting.add_argument(
        "--timeout",
        type=_positive,
        default=3600.0,
        metavar="SECONDS",
        help="give up waiting after this long (default: 3600)",
    )
    waiting.add_argument("--json", action="store_true", help="print one JSON object per line")

    submit = commands.add_parser(
        "submit",
        parents=[connection, waiting],
        help="submit image-to-video generations",
        description="Submit one generation per image: an https:// URL, a data: URI, a "
        "runway:// upload URI or a local JPEG, PNG or WebP file. Each (account, image, "
        "settings) is paid once: submissions are recorded in $PREFECT_HOME and a second "
        "run prints the recorded task as 'cached'.",
    )
    submit.add_argument("images", nargs="+", metavar="IMAGE_OR_URL")
    submit.add_argument("--model", required=True, help="e.g. gen4_turbo")
    submit.add_argument("--ratio", required=True, help="e.g. 1280:720")
    submit.add_argument("--duration", type=int, metavar="N", help="seconds of video")
    submit.add_argument("--prompt-text", metavar="TEXT")
    submit.add_argument("--seed", type=int)
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
        description="Print <id> <STATUS> [progress | failure | output URLs] per task; exit 0 "
        "only when every task SUCCEEDED.",
    )
    status.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    status.set_defaults(func=_cmd_status)
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
            from prefect_runway.emulator import main as emulator_main

            return emulator_main(extra)
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        code: int = args.func(args)
        return code
    except (RunwayError, ValueError) as exc:  # ValueError: a malformed argument, e.g. a task ID
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
