"""What the flows share: where the images are, artifact keys per batch, clean setting errors.

Example:
    ```python
    from prefect_runway.flows.common import S3Location, batch_key

    where = S3Location.of("my-stills", "2026/")    # or an S3Bucket block (prefect-aws)
    print(where.uri, batch_key("runway-task-ids", where))
    ```
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from prefect_runway.api.dialects import Dialect
from prefect_runway.api.limits import MAX_SEED
from prefect_runway.api.models import (
    MODEL_RULES,
    GenerationSettings,
    check_model,
    redact_url,
)
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import (
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayError,
    RunwayValidationError,
    validation_messages,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

try:  # the `aws` extra: an S3Bucket block as the source, picked from a list in Prefect's UI
    from prefect_aws import AwsCredentials, S3Bucket

    BucketParam: Any = str | S3Bucket
    AwsCredentialsParam: Any = AwsCredentials | None
except ImportError:  # pragma: no cover - without the extra, a bucket name and boto3's chain
    BucketParam = str
    AwsCredentialsParam = None

MAX_KEY_CHARS = 100


@dataclass(frozen=True)
class S3Location:
    """A bucket and prefix, and how to reach them.

    Attributes:
        bucket: The bucket's name.
        prefix: The key prefix (an S3Bucket block's ``bucket_folder`` comes first).
        credentials: An AwsCredentials (or MinIOCredentials) block; None: boto3's standard
            chain and ``AWS_ENDPOINT_URL``.
    """

    bucket: str
    prefix: str = ""
    credentials: Any = None

    @classmethod
    def of(cls, bucket: Any, prefix: str = "", credentials: Any = None) -> S3Location:
        """From a bucket name, or from a prefect-aws ``S3Bucket`` block (its folder and
        credentials)."""
        if isinstance(bucket, str):
            return cls(bucket, prefix, credentials)
        folder = (getattr(bucket, "bucket_folder", "") or "").strip("/")
        joined = f"{folder}/{prefix}" if folder else prefix
        return cls(bucket.bucket_name, joined, credentials or getattr(bucket, "credentials", None))

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}"

    def client(self) -> S3Client:
        """A boto3 S3 client: the block's credentials, else boto3's standard chain."""
        if self.credentials is not None:
            client: S3Client = self.credentials.get_s3_client()
            return client
        import boto3

        return boto3.client("s3")


def batch_key(base: str, where: S3Location | str) -> str:
    """An artifact key naming its batch, e.g. ``runway-task-ids-my-stills-2026``: each batch
    keeps its own history in Prefect's UI. Keys allow lowercase letters, digits and dashes.

    Example:
        >>> batch_key("runway-task-ids", S3Location("demo-stills", "stills/"))
        'runway-task-ids-demo-stills-stills'
    """
    text = (where.uri if isinstance(where, S3Location) else where).removeprefix("s3://")
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return f"{base}-{slug}"[:MAX_KEY_CHARS].rstrip("-") if slug else base


def generation_settings(dialect: Dialect | str | None = None, **fields: Any) -> GenerationSettings:
    """`GenerationSettings` from flow parameters, failing with one clear line per problem
    (no pydantic boilerplate) before anything is listed or paid; with `dialect`, a retired or
    unknown model is refused too (`GenerationSettings.check_dialect`).

    Raises:
        RunwayValidationError: a setting is not allowed; the message names it.
    """
    try:
        if dialect:  # the model's name first: a retired model's old rules would mislead
            check_model(str(fields.get("model")), dialect)
        return GenerationSettings(**fields)
    except ValidationError as exc:
        raise RunwayValidationError("; ".join(validation_messages(exc))) from None
    except ValueError as exc:
        raise RunwayValidationError(str(exc)) from None


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` shows each option's default (when it has one) and keeps line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default not in (None, False, "", argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def flow_parser(doc: str | None, prog: str) -> argparse.ArgumentParser:
    """The parser of ``python -m prefect_runway.flows.<name>``: the module's first docstring
    line as its description, the rest as its epilog."""
    first, _, rest = (doc or "").strip().partition("\n")
    return argparse.ArgumentParser(
        prog=prog, description=first, epilog=rest.strip() or None, formatter_class=HelpFormatter
    )


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the images are: ``BUCKET [PREFIX]``."""
    parser.add_argument("bucket", help="the source bucket")
    parser.add_argument("prefix", nargs="?", default="", help="key prefix of the images")


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The generation settings every image flow takes, with the flows' defaults."""
    parser.add_argument("--model", default="gen4_turbo",
                        help="Runway model: " + ", ".join(MODEL_RULES))  # fmt: skip
    parser.add_argument("--ratio", default="1280:720", help="output ratio, checked per model")
    parser.add_argument("--duration", type=int, default=5, metavar="SECONDS",
                        help="seconds of video, checked per model")  # fmt: skip
    parser.add_argument("--prompt-text", metavar="TEXT")
    parser.add_argument("--seed", type=int, metavar=f"0-{MAX_SEED}")
    parser.add_argument("--credentials-block", metavar="NAME",
                        help="a saved RunwayCredentials block (default: the environment)")
    parser.add_argument("--budget-credits", type=float, metavar="CREDITS",
                        help="refuse the batch before any POST if it would cost more")  # fmt: skip


def run_flow(call: Awaitable[Any]) -> int:
    """Run an async flow call (made with ``return_state=True``) to its final state, print its
    result as JSON when it completed, and return the exit code: 0, or 1 when it failed (the
    reason is in its log)."""

    async def run() -> Any:
        return await call

    state = asyncio.run(run())
    if not state.is_completed():
        return 1
    print_result(state.result())
    return 0


def print_result(result: Any) -> None:
    """A flow's result as indented JSON on stdout, without its per-row list."""
    print(json.dumps(result.model_dump(mode="json", exclude={"rows"}), indent=1))


def stop_error(credentials: RunwayCredentials, cause: BaseException | str) -> RunwayError:
    """The one error that stops a batch whose every image would fail the same way: the key
    was refused (401/403) or the API cannot be reached. It names the setting to check."""
    text = str(cause)
    if "No Runway API key" in text:  # nothing was refused: there was no key to send
        return RunwayAuthenticationError(
            text[text.index("No Runway API key") :] + " Nothing was fetched or sent."
        )
    refused = isinstance(cause, RunwayAuthenticationError) or text.startswith(
        "RunwayAuthenticationError"
    )
    where = redact_url(credentials.resolved_base_url)
    if refused:
        setting = "the API key: RUNWAYML_API_SECRET, or the credentials block's api_key"
        error_class: type[RunwayError] = RunwayAuthenticationError
        what = f"Runway at {where} refused the API key"
    else:
        setting = (
            "the API address: RUNWAYML_BASE_URL, or the credentials block's base_url (and "
            "that the network reaches it)"
        )
        error_class = RunwayConnectionError
        what = f"Runway cannot be reached at {where}"
    return error_class(
        f"{what} ({text.split(': ', 1)[-1] if text.startswith('Runway') else text}); the "
        f"batch stopped before fetching or sending more images. Check {setting}."
    )


def folder(prefix: str, what: str = "prefix") -> str:
    """A key prefix as a folder: ``stills`` becomes ``stills/`` (with a warning), so that it
    never also takes ``stills-old/`` nor writes ``stillsrunway-manifest.json``; ``""`` is the
    bucket's root.

    Example:
        >>> folder("stills"), folder("stills/"), folder("")
        ('stills/', 'stills/', '')
    """
    if not prefix or prefix.endswith("/"):
        return prefix
    from prefect_runway.ledger.engine import log

    log(logging.WARNING, "%s %r has no trailing slash: taken as the folder %r", what, prefix,
        prefix + "/")  # fmt: skip
    return prefix + "/"


def inside(output_prefix: str, bucket: str, prefix: str) -> bool:
    """True when the ``s3://`` output prefix lies inside ``s3://bucket/prefix`` (its videos
    would be listed as inputs by the next run)."""
    out = output_prefix.removeprefix("s3://")
    out = out if out.endswith("/") else out + "/"
    return out.startswith(f"{bucket}/{prefix}")


def refuse_output_inside_input(output_prefix: str, bucket: str, prefix: str) -> None:
    """Refuse an output prefix inside the input prefix, naming both.

    Raises:
        RunwayValidationError: the videos would be fed back in as inputs.
    """
    if inside(output_prefix, bucket, prefix):
        raise RunwayValidationError(
            f"output_prefix {output_prefix!r} is inside the input prefix s3://{bucket}/{prefix}: "
            "the next run would list the videos as inputs; choose a folder outside it, e.g. "
            f"s3://{bucket}/runway-videos/{prefix}"
        )
