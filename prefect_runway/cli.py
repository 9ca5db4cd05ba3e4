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
    $ prefect-runway cancel 0f7a...        # stops a task that has not ended
    $ prefect-runway reconcile --days 7 --tolerance 0
    $ prefect-runway emulator --port 8008
    ```

Exit codes: 0 when everything succeeded, 1 when anything failed (the reason is on stderr),
2 for bad usage, 130 after Ctrl-C. ``status`` exits 0 only when every task SUCCEEDED;
``reconcile`` exits 1 when Runway's usage and the ledger differ by more than ``--tolerance``.
Ctrl-C while waiting (``--wait``) asks, on a terminal, whether to cancel the tasks that have not
ended; ``--cancel-on-interrupt`` cancels them without asking; elsewhere they are named, with the
``prefect-runway cancel`` command that stops them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
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
from prefect_runway.api.requests import (
    ENDPOINT_NAMES,
    IMAGE_TO_VIDEO,
    GenerationRequest,
    endpoint_facts,
    endpoint_name,
    is_media_field,
    iter_assets,
    media_kind,
)
from prefect_runway.cancellation import Cancelled, cancel_command, cancel_tasks
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
from prefect_runway.ledger.engine import Engine, ImageJob, SubmissionRow
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


async def _wait(
    client: AsyncRunwayClient,
    args: argparse.Namespace,
    ids: list[str],
    keys: dict[str, str | None] | None = None,
) -> bool:
    """Wait for `ids` (with their ledger `keys`) with a progress display; print each final
    state. True if all SUCCEEDED. Ctrl-C meanwhile: see `_interrupted`."""
    progress = _Progress(sys.stderr, ids)
    args.waiting = (progress, keys or {})
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
    failures, ids, keys = 0, [], {}
    async with creds.get_async_client() as client:
        engine = await Engine.create(
            creds, client, resubmit=args.resubmit, resubmit_unknown=args.resubmit_unknown
        )
        for item in inputs:
            row = await engine.submit(_job(item, settings), settings)
            if isinstance(row.exception, _FATAL):  # every other input would fail the same way
                from prefect_runway.flows.common import stop_error

                raise stop_error(creds, row.exception)
            failures += _emit_row(args, row.model_copy(update={"source": item.source}))
            if row.task_id is not None:
                ids.append(row.task_id)
                keys[row.task_id] = row.cache_key
        if args.wait and ids and not await _wait(client, args, ids, keys):
            failures += 1
    return failures


def _emit_row(
    args: argparse.Namespace, row: SubmissionRow, extra: dict[str, Any] | None = None
) -> int:
    """Print one submission's outcome (its error on stderr); 1 when it failed, else 0."""
    failed = row.task_id is None or row.status == "unrecorded"
    if failed:
        _error(f"{row.source}: {row.error}")
    if row.task_id is None:
        if args.json:
            _emit(args, "", {"source": row.source, **(extra or {}), "status": row.status,
                             "error": row.error})  # fmt: skip
        return 1
    credits = "?" if row.estimated_credits is None else f"{row.estimated_credits:g}"
    line = "\t".join(
        [row.source, row.task_id, row.status, _duration(row.duration), f"~{credits} credits"]
    )
    _emit(
        args,
        line + ("\tpossible duplicate" if row.possible_duplicate else ""),
        {
            "source": row.source,
            **(extra or {}),
            "id": row.task_id,
            "status": row.status,
            "duration": row.duration,
            "estimated_credits": row.estimated_credits,
            "possible_duplicate": row.possible_duplicate,
            "lost_responses": row.lost_responses,
        },
    )
    return 1 if failed else 0


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
    """``submit``: validate settings and every input locally, then submit the valid ones.

    ``--endpoint`` other than image_to_video, ``--body`` or ``--field``: one generation on
    that endpoint (`_cmd_generation`); ``--list-fields``: the endpoint's fields."""
    try:
        endpoint = endpoint_name(args.endpoint or IMAGE_TO_VIDEO)
    except ValueError as exc:
        return _usage(str(exc))
    if args.list_fields:
        return _list_fields(args, endpoint)
    if endpoint != IMAGE_TO_VIDEO or args.body is not None or args.field:
        return _cmd_generation(args, endpoint)
    if not args.images:
        return _usage(
            "give at least one IMAGE_OR_URL for image_to_video, or another --endpoint "
            "with its fields (--field NAME=VALUE, --body FILE)"
        )
    for option, default in _IMAGE_DEFAULTS.items():
        if getattr(args, option) is None:
            setattr(args, option, default)
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


_IMAGE_DEFAULTS: dict[str, Any] = {"model": "gen4_turbo", "ratio": "1280:720", "duration": 5}
"""image_to_video's settings when their options are not given (other endpoints: none)."""

_COMMON = {
    "model": "model",
    "prompt_text": "promptText",
    "ratio": "ratio",
    "duration": "duration",
    "seed": "seed",
}
"""The options that set a field of the same name, where the endpoint has it."""

_MEDIA_SCHEMES = "https://, data:, runway://, s3://, file://"


class _UsageError(Exception):
    """A command line that cannot be run as written (exit 2)."""


def _usage(message: str) -> int:
    _error(message)
    return 2


def _camel_segment(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _path_of(name: str) -> list[str | int]:
    """``content_moderation.public_figure_threshold`` -> ``['contentModeration', ...]``; digit
    segments index lists (``referenceImages.0.uri``)."""
    parts = name.split(".")
    if not name or any(not part for part in parts):
        raise _UsageError(f"--field {name!r}: a field name is NAME or NAME.NESTED.NAME")
    return [int(part) if part.isdigit() else _camel_segment(part) for part in parts]


def _shown(path: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in path)


def _put(body: dict[str, Any], path: Sequence[str | int], value: Any) -> None:
    """Set `value` at `path` in `body`, making the objects and lists on the way."""
    node: Any = body
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        empty: Any = None if last else ([] if isinstance(path[depth + 1], int) else {})
        where = _shown(path[:depth]) or "the body"
        if isinstance(part, int):
            if not isinstance(node, list):
                raise _UsageError(f"{_shown(path)}: {where} is not a list")
            if part > len(node):
                raise _UsageError(
                    f"{_shown(path)}: {where} has {len(node)} item(s); the next index is "
                    f"{len(node)}"
                )
            if part == len(node):
                node.append(empty)
        elif not isinstance(node, dict):
            raise _UsageError(f"{_shown(path)}: {where} is not an object")
        elif part not in node:
            node[part] = empty
        if last:
            node[part] = value
        else:
            if node[part] is None:
                node[part] = empty
            node = node[part]


def _parse_value(text: str) -> Any:
    """A ``--field`` value: JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _read_body(source: str | None) -> dict[str, Any]:
    """``--body``'s JSON object (``-``: stdin); {} without it."""
    if source is None:
        return {}
    where = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise _UsageError(f"--body {where}: cannot read it ({exc.strerror or exc})") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise _UsageError(f"--body {where} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _UsageError(f"--body {where} must hold a JSON object, not {type(body).__name__}")
    return body


def _all_fields(endpoint: str) -> dict[str, dict[str, Any]]:
    """Every top-level field of any variant of `endpoint` (and its selector), by name."""
    if endpoint == IMAGE_TO_VIDEO:
        found: dict[str, dict[str, Any]] = {"model": {}, "promptImage": {}}
        for rules in MODEL_RULES.values():
            found.update({name: {} for name in rules.fields})
        return found
    facts = endpoint_facts(endpoint)
    found = {facts["discriminator"]: {}} if facts["discriminator"] else {}
    for variant in facts["variants"].values():
        for name, spec in variant["fields"].items():
            found.setdefault(name, spec)
    return found


def _option_path(endpoint: str, option: str) -> list[str | int] | None:
    """Where `option` (``prompt_text``...) goes in `endpoint`'s body; None: nowhere."""
    name = _COMMON[option]
    fields = _all_fields(endpoint)
    if name in fields:
        return [name]
    nested = (fields.get("input") or {}).get("fields") or {}
    return ["input", name] if name in nested else None


def _build_body(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    """The body from ``--body``, the common options and each ``--field``, in that order."""
    body = _read_body(args.body)
    given: dict[tuple[str | int, ...], str] = {}

    def put(path: list[str | int], value: Any, flag: str) -> None:
        key = tuple(path)
        if key in given:
            raise _UsageError(f"{_shown(path)} is given twice ({given[key]} and {flag})")
        given[key] = flag
        _put(body, path, value)

    for option in _COMMON:
        value = getattr(args, option)
        if value is None:
            continue
        flag = "--" + option.replace("_", "-")
        path = _option_path(endpoint, option)
        if path is None:
            raise _UsageError(
                f"{flag}: {endpoint} has no {_COMMON[option]} field; see its fields with "
                f"--endpoint {endpoint} --list-fields"
            )
        put(path, value, flag)
    for item in args.field or ():
        name, sep, text = item.partition("=")
        if not sep:
            raise _UsageError(f"--field {item!r}: give NAME=VALUE")
        path = _path_of(name.strip())
        put(path, _parse_value(text), f"--field {name.strip()}")
    return body


def _local_inputs(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with each media input that is a plain local path turned into a file:// URI.

    Raises:
        InputError: a plain input that is no file.
    """
    for path, value in list(iter_assets(body)):
        if _URI.match(value) or value[:5].lower() == "data:":
            continue
        file = Path(value).expanduser()
        if not file.is_file():
            raise InputError(f"{path}: {value!r} is neither a file nor a URI ({_MEDIA_SCHEMES})")
        _put(body, [int(p) if p.isdigit() else p for p in path.split(".")],
             file.resolve().as_uri())  # fmt: skip
    return body


def _camel_keys(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """Top-level snake_case keys renamed to the endpoint's camelCase fields, so that media
    inputs are found by their names (the request renames nested ones itself)."""
    known = _all_fields(endpoint)
    renamed = {}
    for key, value in body.items():
        name = _camel_segment(key) if key not in known and _camel_segment(key) in known else key
        if isinstance(value, dict) and (known.get(name) or {}).get("fields"):
            nested = known[name]["fields"]
            value = {
                (_camel_segment(k) if k not in nested and _camel_segment(k) in nested else k): v
                for k, v in value.items()
            }
        if name in renamed:
            raise InputError(f"{key} and {name} are the same field; give it once")
        renamed[name] = value
    return renamed


def _generation_request(args: argparse.Namespace, endpoint: str) -> GenerationRequest:
    """The checked request of ``submit --endpoint``.

    Raises:
        _UsageError: the command line is malformed.
        InputError: the request breaks the endpoint's rules (the message names the field).
    """
    if args.images:
        raise _UsageError(
            f"IMAGE_OR_URL arguments are for image_to_video without --body or --field; give "
            f"{endpoint}'s inputs as fields (--field NAME=PATH_OR_URL)"
        )
    body = _local_inputs(_camel_keys(_build_body(args, endpoint), endpoint))
    try:
        return GenerationRequest(endpoint=endpoint, body=body)
    except ValidationError as exc:
        raise InputError(f"{endpoint}: {'; '.join(_messages(exc))}") from None
    except ValueError as exc:
        raise InputError(f"{endpoint}: {exc}") from None


def _cmd_generation(args: argparse.Namespace, endpoint: str) -> int:
    """``submit --endpoint NAME``: one generation, checked locally, paid once."""
    try:
        request = _generation_request(args, endpoint)
    except _UsageError as exc:
        return _usage(str(exc))
    except InputError as exc:
        _error(str(exc))
        return 1
    creds = _credentials(args)
    if request.endpoint == IMAGE_TO_VIDEO:
        try:  # a retired or unknown model, as for positional images
            check_model(request.image_settings().model, creds.dialect)
        except ValueError as exc:
            _error(str(exc))
            return 1
    if args.dry_run:
        asyncio.run(_dry_run_generation(args, creds, request))
        return 0
    return 1 if asyncio.run(_submit_generation(args, creds, request)) else 0


def _price(request: GenerationRequest) -> float | None:
    """The estimated credits (image_to_video's table); None: unknown before the API answers."""
    if request.endpoint == IMAGE_TO_VIDEO:
        return request.image_settings().settings().estimated_credits()
    return None


def _duration(value: int | None) -> str:
    return "-" if value is None else f"{value}s"


async def _dry_run_generation(
    args: argparse.Namespace, creds: RunwayCredentials, request: GenerationRequest
) -> None:
    """``submit --endpoint ... --dry-run``: paid before (the ledger's record) or would be paid;
    inputs' identities are read (an S3 HEAD, a file's hash), nothing is sent to Runway."""
    from prefect_runway.ledger.keys import generation_key
    from prefect_runway.ledger.records import Ledger
    from prefect_runway.tasks import generation_job

    job = await generation_job(request)
    price = _price(request)
    try:
        ledger = await Ledger.default()
        record = await ledger.read(generation_key(creds.account_fingerprint, request,
                                                  job.identities))  # fmt: skip
    except PrefectRunwayError as exc:  # no key (no account to look up), an unreadable record
        record, note = None, f"\t(ledger not read: {exc})"
    else:
        note = ""
    cached = record is not None and record.state == "submitted" and not record.expired
    cached = cached and not args.resubmit
    task_id = record.task.id if cached and record and record.task else None
    duration = request.body.get("duration")
    duration = duration if type(duration) is int else None
    if request.endpoint == IMAGE_TO_VIDEO:
        duration = request.image_settings().settings().effective_duration
    each = "price unknown" if price is None else f"~{price:g} credits"
    _emit(
        args,
        "\t".join([job.source, f"cached {task_id}" if cached else "would submit",
                   _duration(duration), "0 credits" if cached else each]) + note,
        {"source": job.source, "endpoint": request.endpoint,
         "status": "cached" if cached else "would_submit", "id": task_id,
         "duration": duration, "estimated_credits": 0 if cached else price},
    )  # fmt: skip
    paying = 0 if cached else 1
    total = (
        "0 credits" if cached else "an unknown number of credits" if price is None
        else f"~{price:g} credits"
    )  # fmt: skip
    print(f"dry run: {paying} of 1 would be paid, {total}; nothing was sent", file=sys.stderr)


async def _submit_generation(
    args: argparse.Namespace, creds: RunwayCredentials, request: GenerationRequest
) -> int:
    """Submit `request` once through the engine and its ledger (then wait with ``--wait``);
    return the number of failures."""
    from prefect_runway.tasks import generation_job

    job = await generation_job(request)  # identities now; inputs resolved only when paid
    async with creds.get_async_client() as client:
        engine = await Engine.create(
            creds, client, resubmit=args.resubmit, resubmit_unknown=args.resubmit_unknown
        )
        row = await engine.submit_generation(job)
        if isinstance(row.exception, _FATAL):
            from prefect_runway.flows.common import stop_error

            raise stop_error(creds, row.exception)
        failures = _emit_row(args, row, {"endpoint": request.endpoint})
        if args.wait and row.task_id and not await _wait(
            client, args, [row.task_id], {row.task_id: row.cache_key}
        ):
            failures += 1
    return failures


def _list_fields(args: argparse.Namespace, endpoint: str) -> int:
    """``submit --endpoint NAME --list-fields``: the variants and their fields, from the
    tables the request is checked by."""
    if endpoint == IMAGE_TO_VIDEO:
        selector: str | None = "model"
        variants = {
            name: {"fields": {field: _rule_spec(rule) for field, rule in rules.fields.items()}}
            for name, rules in MODEL_RULES.items()
            if not rules.retired
        }
        output = "video"
    else:
        facts = endpoint_facts(endpoint)
        selector, variants, output = facts["discriminator"], facts["variants"], facts["output"]
    if args.model is not None and selector == "model":
        if args.model not in variants:
            import difflib

            close = difflib.get_close_matches(args.model, variants, n=3, cutoff=0.6)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            _error(f"{endpoint} has no model {args.model!r}.{hint} Its models: "
                   f"{', '.join(variants)}")  # fmt: skip
            return 1
        variants = {args.model: variants[args.model]}
    if args.json:
        print(
            json.dumps(
                {
                    "endpoint": endpoint,
                    "output": output,
                    "selector": selector,
                    "variants": {name: v["fields"] for name, v in variants.items()},
                }
            )
        )
        return 0  # fmt: skip
    chosen = f"the variant is chosen by {selector}" if selector else "one variant"
    print(f"{endpoint}: POST /v1/{endpoint}, output {output}; {chosen}")
    print("set fields with --field NAME=VALUE (dotted for nested) or --body FILE")
    for name, variant in variants.items():
        print()
        print(f"{selector}={name}" if selector else "fields")
        rows = list(_field_rows([], variant["fields"]))
        width = max((len(row[0]) for row in rows), default=0)
        for field, required, text in rows:
            print(f"  {field.ljust(width)}  {'required' if required else 'optional'}  {text}")
    return 0


def _rule_spec(rule: Any) -> dict[str, Any]:
    """image_to_video's `FieldRule` in the generated tables' shape."""
    spec: dict[str, Any] = {"type": "string" if rule.type == "image" else rule.type}
    if rule.values:
        spec["values"] = list(rule.values)
    for name in ("min", "max", "max_length"):
        if getattr(rule, name) is not None:
            spec[name] = getattr(rule, name)
    if rule.required:
        spec["required"] = True
    return spec


def _field_rows(path: list[str], specs: dict[str, Any]) -> Iterator[tuple[str, bool, str]]:
    """(dotted name, required, description) for each field, nested objects expanded."""
    for name, spec in sorted(specs.items()):
        here = [*path, name]
        nested = spec.get("fields")
        if spec["type"] == "object" and nested:
            yield _shown(here), bool(spec.get("required")), "object with:"
            yield from _field_rows(here, nested)
        else:
            yield _shown(here), bool(spec.get("required")), _describe_spec(name, spec)


def _describe_spec(name: str, spec: dict[str, Any]) -> str:
    kind = spec["type"]
    if kind == "enum":
        return "one of " + ", ".join(json.dumps(v) if not isinstance(v, str) else v
                                     for v in spec["values"])  # fmt: skip
    if kind in ("integer", "integer_or_auto", "number"):
        low, high = spec.get("min"), spec.get("max")
        text = {"integer": "integer", "number": "number"}.get(kind, "integer or auto")
        if low is not None or high is not None:
            text += f" {'' if low is None else low}..{'' if high is None else high}"
        return text
    if kind == "string" and is_media_field(name):
        what = media_kind(name) or "media"
        return f"{what}: a URI ({_MEDIA_SCHEMES}) or a local path"
    if kind == "string" and spec.get("max_length") is not None:
        return f"string, at most {spec['max_length']} UTF-16 units"
    if kind in ("array", "string_or_array", "object"):
        shown = {"array": "a JSON array", "string_or_array": "a string or a JSON array",
                 "object": "a JSON object"}[kind]  # fmt: skip
        if name.startswith("reference") or media_kind(name):
            shown += ' of {"uri": ...} (a URI or a local path)'
        return shown
    return {"any": "any JSON value"}.get(kind, kind)


def _cmd_adopt(args: argparse.Namespace) -> int:
    """``ledger adopt``: record a known task for an unknown or unrecorded image; pays nothing."""
    from prefect_runway.ledger.adopt import adopt

    record = asyncio.run(adopt(_credentials(args), args.record, args.task_id))
    assert record.task is not None
    _emit(args, "\t".join([record.source or record.key, record.task.id, "adopted"]),
          {"source": record.source, "key": record.key, "id": record.task.id,
           "status": "adopted", "possible_duplicate": True})  # fmt: skip
    return 0


async def _reconcile(args: argparse.Namespace, creds: RunwayCredentials) -> Any:
    from prefect_runway.ledger.reconcile import reconcile
    from prefect_runway.ledger.records import Ledger

    ledger = Ledger(args.records) if args.records else await Ledger.default()
    async with creds.get_async_client() as client:
        return await reconcile(client, ledger, args.days, args.tolerance,
                               account=creds.account_fingerprint)  # fmt: skip


def _cmd_reconcile(args: argparse.Namespace) -> int:
    """``reconcile``: usage vs the ledger per UTC day and model; exit 1 on a mismatch."""
    result = asyncio.run(_reconcile(args, _credentials(args)))
    if args.json:
        print(json.dumps(result.model_dump(mode="json")), flush=True)
    else:
        print("day\tmodel\tusage\tledger\tgap\ttasks\testimated\tpossible_duplicates\t"
              "unknown\tmismatch")  # fmt: skip
        for r in result.rows:
            print(f"{r.day}\t{r.model}\t{r.usage_credits:g}\t{r.ledger_credits:g}\t{r.gap:g}\t"
                  f"{r.tasks}\t{r.estimated}\t{r.possible_duplicates}\t{r.unknown}\t"
                  f"{'MISMATCH' if r.mismatch else 'ok'}")  # fmt: skip
        print(f"total\t\t{result.usage_credits:g}\t{result.ledger_credits:g}\t"
              f"{result.gap_credits:g}", flush=True)  # fmt: skip
    if not result.mismatches:
        return 0
    worst = max(result.mismatches, key=lambda r: abs(r.gap))
    _error(f"{len(result.mismatches)} day/model mismatch(es) above {args.tolerance:g} credits "
           f"between Runway's usage and the ledger {result.ledger}; largest: {worst.day} "
           f"{worst.model} gap {worst.gap:g} ({worst.explanation})")  # fmt: skip
    return 1


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


def _cmd_cancel(args: argparse.Namespace) -> int:
    """``cancel``: cancel each task that has not ended; exit 0 when none is left unknown."""
    results = _cancel(args, list(dict.fromkeys(args.task_ids)), {})
    return 0 if all(r.error is None for r in results) else 1


def _cancel(
    args: argparse.Namespace, ids: list[str], keys: dict[str, str | None]
) -> list[Cancelled]:
    """Cancel `ids` (`prefect_runway.cancellation.cancel_tasks`), one line each on stdout;
    those that could not be cancelled are named again, with the command, on stderr."""
    logger = logging.getLogger("prefect_runway.cli")
    logger.propagate = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.handlers = [handler]
    results = asyncio.run(
        cancel_tasks(_credentials(args), {i: keys.get(i) for i in ids}, logger)
    )
    for result in results:
        state = result.status or "UNKNOWN"
        if result.status and not result.cancelled_now:
            state += " (had ended: left as it is)"
        _emit(args, f"{result.task_id}\t{state}", {"id": result.task_id, "status": result.status,
              "credits": result.credits, "error": result.error})  # fmt: skip
    left = [r.task_id for r in results if r.error is not None]
    if left:
        _error(f"{len(left)} Runway task(s) not cancelled, maybe still running: {' '.join(left)}"
               f"; try again: {cancel_command(left)}")  # fmt: skip
    return results


def _interrupted(args: argparse.Namespace) -> int:
    """Ctrl-C: the tasks being waited for that have not ended are cancelled with
    ``--cancel-on-interrupt``, or when a terminal's user says so; otherwise left running,
    named with the command that cancels them. Exit code 130 either way."""
    print(file=sys.stderr)
    progress, keys = getattr(args, "waiting", (None, {}))
    if progress is None:
        return 130
    ids = [i for i, task in progress.tasks.items() if task is None or not task.is_terminal]
    if not ids:
        return 130
    cancel = bool(getattr(args, "cancel_on_interrupt", False))
    if not cancel and sys.stdin.isatty():
        print(f"Cancel {len(ids)} running Runway task(s)? [y/N] ", end="", file=sys.stderr,
              flush=True)  # fmt: skip
        try:
            answer = sys.stdin.readline()
        except KeyboardInterrupt:
            answer = ""
            print(file=sys.stderr)
        cancel = answer.strip().lower() in ("y", "yes")
    if cancel:
        try:
            _cancel(args, ids, keys)
        except KeyboardInterrupt:
            _error(f"cancelling interrupted; cancel them with: {cancel_command(ids)}")
        return 130
    _error(f"interrupted: {len(ids)} Runway task(s) left running (and charging): "
           f"{' '.join(ids)}")  # fmt: skip
    print(f"cancel them with: {cancel_command(ids)}", file=sys.stderr, flush=True)
    return 130


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
    waiting.add_argument(
        "--cancel-on-interrupt",
        action="store_true",
        help="on Ctrl-C while waiting, cancel the tasks that have not ended without asking "
        "(default: ask on a terminal, else leave them running and print their IDs)",
    )

    submit = commands.add_parser(
        "submit",
        parents=[connection, waiting],
        help="submit generations: image-to-video, or any task endpoint (--endpoint)",
        formatter_class=_help_formatter(),
        description="Submit one image_to_video generation per image: an https:// URL, a "
        "data: URI, a runway:// upload URI or a local JPEG, PNG or WebP file. Each (account, "
        "image, settings) is paid once: submissions are recorded in $PREFECT_HOME and a second "
        "run prints the recorded task as 'cached'. Try it with the package's sample image: "
        "prefect-runway sample-image > cat.png. Any other task endpoint: --endpoint NAME with "
        "its fields, e.g. --endpoint text_to_video --model veo3.1_fast --prompt-text 'a kite' "
        "--ratio 1280:720 --duration 4, once-only the same way.",
        epilog=textwrap.fill(
            "models (official API): " + ", ".join(MODEL_RULES) + ". Each model's ratios, "
            "durations and prices: the README's Models table.", width=78
        ),
    )
    submit.add_argument("images", nargs="*", metavar="IMAGE_OR_URL",
                        help="image_to_video only: one generation per image")  # fmt: skip
    submit.add_argument("--model", metavar="MODEL",
                        help="the Runway model (image_to_video: default gen4_turbo, list "
                        "below; other endpoints: their model field)")  # fmt: skip
    submit.add_argument("--ratio", help="output ratio, checked per model (image_to_video: "
                        "default 1280:720)")  # fmt: skip
    submit.add_argument("--duration", type=int, metavar="SECONDS",
                        help="seconds of video, checked per model (image_to_video: default "
                        "5; gen4_turbo: 2-10; 5 s of gen4_turbo = 25 credits)")  # fmt: skip
    submit.add_argument("--prompt-text", metavar="TEXT", help="what should happen")
    submit.add_argument("--seed", type=_seed, metavar=f"0-{MAX_SEED}",
                        help="same seed + image + settings = same generation")  # fmt: skip
    other = submit.add_argument_group(
        "other endpoints",
        "--endpoint NAME submits one generation on any task endpoint. Its body is --body's "
        "JSON object, then each --field and the options above (--model, --prompt-text, "
        "--ratio, --duration, --seed: only where the endpoint has that field; the Model "
        "Router's generate/* endpoints take --prompt-text, --duration and --seed into "
        "'input'). A field given twice is an error. Media fields (promptImage, videoUri, "
        "references.0.uri, ...) take https:// URLs, data: URIs, runway:// uploads, s3:// "
        "objects, file:// URIs or local paths; s3:// and local files are read only when the "
        "generation is paid. See the fields: --endpoint NAME --list-fields [--model MODEL].",
    )
    other.add_argument("--endpoint", metavar="NAME",
                       help="the task endpoint (default image_to_video): "
                       + ", ".join(ENDPOINT_NAMES))  # fmt: skip
    other.add_argument("--body", metavar="FILE",
                       help="the request body: a JSON object in a file, - for stdin "
                       "(camelCase or snake_case keys)")  # fmt: skip
    other.add_argument("--field", action="append", metavar="NAME=VALUE",
                       help="set one field (repeatable): VALUE is JSON when it parses "
                       "(7, true, [...], {...}, \"7\"), else a string; NAME is camelCase "
                       "or snake_case, dotted for nested fields (contentModeration."
                       "publicFigureThreshold=low, referenceImages.0.uri=cat.png)")  # fmt: skip
    other.add_argument("--list-fields", action="store_true",
                       help="print the endpoint's variants and their fields (types, allowed "
                       "values, ranges); with --model, that model's only; sends "
                       "nothing")  # fmt: skip
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

    cancel = commands.add_parser(
        "cancel",
        parents=[connection],
        help="cancel tasks that have not ended (stops their spend)",
        formatter_class=_help_formatter(),
        description="Cancel each task that is PENDING, THROTTLED or RUNNING (DELETE "
        "/v1/tasks/{id}); a task that already ended is left as it is (a DELETE would delete "
        "its output). Exit 0 when every task was read or cancelled.",
    )
    cancel.add_argument("task_ids", nargs="+", metavar="TASK_ID")
    cancel.add_argument("--json", action="store_true", help="print one JSON object per line")
    cancel.set_defaults(func=_cmd_cancel)

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

    reconcile = commands.add_parser(
        "reconcile",
        parents=[connection],
        formatter_class=_help_formatter(),
        help="compare Runway's usage per UTC day and model with the ledger (pays nothing)",
        description="Read the organization's net credits per UTC day and model (POST "
        "/v1/organization/usage) and every ledger record, and print one row per day and "
        "model: usage, the ledger's credits (final cost, else the estimate), the gap, and the "
        "possible duplicates and unknown outcomes that could explain it. Exit 1 when a gap is "
        "above --tolerance: spend the ledger does not hold (a lost answer's task) or a refund "
        "it has not seen.",
    )
    reconcile.add_argument("--days", type=int, default=7, metavar="N",
                           help="UTC days back, today included, 1-90")  # fmt: skip
    reconcile.add_argument("--tolerance", type=float, default=0.0, metavar="CREDITS",
                           help="the gap a day and model may have without a mismatch")
    reconcile.add_argument("--records", metavar="LOCATION",
                           help="the ledger: s3://bucket/prefix or an absolute folder "
                           "(default: the configured one, as submit uses)")  # fmt: skip
    reconcile.add_argument("--json", action="store_true", help="print one JSON object")
    reconcile.set_defaults(func=_cmd_reconcile)

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
        return _interrupted(args)


if __name__ == "__main__":
    sys.exit(main())
