"""One manifest per batch, typed, and never clobbered: every writer merges.

The manifest (``<prefix>runway-manifest.json`` next to the images) holds one `ManifestRow`
per source image, keyed by its S3 URI (or ``task:<id>`` for a task collected without a
source). Two kinds of writer update it, often at the same time: submission runs
(``s3_image_to_video``: status, task ID, request, cost) and collector runs (``collect_videos``:
final status, video location, size, SHA-256). Each owns its own fields, so a merge applies only
the fields a writer sets and keeps every other field and every other row.

Writes are S3 conditional writes: read the manifest and its ETag, merge, then ``put_object``
with ``IfMatch=<etag>`` (or ``IfNoneMatch="*"`` when creating it). When another writer got
there first, S3 answers 412 (or 409 for a write in progress) and the merge is redone on the
new version, so two runs writing at once lose no row. AWS S3 and moto support this; a store
that refuses the headers raises `ManifestError` rather than risking a silent overwrite.

Merge rules, row by row (the manifest is a view of the ledger: no writer hides a paid task):

- a field the update sets replaces the stored one; a field it leaves unset is kept;
- ``task_id=None`` never erases a known task ID (a paid video stays collectable);
- a new task ID for the row (other settings, or a deliberate resubmission) makes it the
  current generation: the one it replaces moves, with its submission and collection fields,
  to ``generations`` (and its video location to ``superseded_outputs``, as in version 2); a
  task ID found in ``generations`` (seed 1 again after seed 2) is restored with its fields;
- collection fields whose ``collected_task_id`` is not the row's task ID (a collector that
  read the row before a resubmission, or one collecting earlier generations) go to that
  task's generation, never to the current one;
- a writer's own ``generations`` (a submission run's: every task the ledger's record of the
  source's key holds) are merged in, so a task whose manifest write was lost still appears;
- a run that made no task (``failed``, ``rejected``, ``deferred``, ``unknown``) never
  overwrites a row that has one: its outcome goes to ``attempt_status``/``attempt_error``;
- the same task again (a rerun) never erases a submission field with an unset value
  (``transport``, ``seed``...).

Versions 1 and 2 are read as they are (no ``generations``); every write is version 3.

After each successful merge, ``runway-manifest.parquet`` and ``runway-manifest.jsonl`` are
written beside it from the merged manifest, one row per generation
(`prefect_runway.s3.manifest_table`); a failure there is a WARNING, never a failed merge.

Example:
    ```python
    import boto3
    from prefect_runway.s3.manifest import ManifestRow, merge_manifest, read_manifest

    s3 = boto3.client("s3")
    merge_manifest(s3, "stills", "in/runway-manifest.json",
                   [ManifestRow(source="s3://stills/in/a.png", status="submitted", task_id="t1")])
    manifest = read_manifest(s3, "stills", "in/runway-manifest.json")
    print(manifest.rows[0].task_id if manifest else None)
    ```
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prefect_runway.errors import ManifestError
from prefect_runway.s3.manifest_table import write_views

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MANIFEST_VERSION = 3
COLLECTION_FIELDS = (
    "collected_task_id",
    "final_status",
    "output",
    "output_bytes",
    "output_sha256",
    "failure",
    "failure_code",
    "collected_at",
    "missing_since",
    "credits",
    "outputs",
)
SUBMISSION_FIELDS = (
    "status",
    "model",
    "ratio",
    "duration",
    "seed",
    "estimated_credits",
    "transport",
    "possible_duplicate",
    "cache_key",
    "prompt_sha256",
    "created_at",
)
"""What describes one generation's submission: kept with it when a later one replaces it."""
NO_TASK_STATUSES = ("failed", "rejected", "deferred", "unknown")
"""Outcomes of a run that made no task: never written over a row that has one."""
FINAL_STATUSES = ("SUCCEEDED", "FAILED", "CANCELLED", "LOST")
"""Final states of a generation: Runway's three, and ``LOST`` (the collector's verdict on a
task that answered 404 for longer than the not-found grace, across runs)."""
ENDED_WITHOUT_VIDEO = ("FAILED", "CANCELLED", "LOST")
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "OperationAborted"}
_UNSUPPORTED_CODES = {"NotImplemented", "InvalidArgument"}


class StoredOutput(BaseModel):
    """One copied output of a task: a task may have several (text_to_image's ``outputCount``).

    Example:
        >>> StoredOutput(uri="s3://b/v/kite-0f7a1234-2.png", bytes=2048, sha256="ab").uri
        's3://b/v/kite-0f7a1234-2.png'
    """

    uri: str
    bytes: int | None = None
    sha256: str | None = None


class Generation(BaseModel):
    """An earlier generation of a source: a paid task that a later one replaced as current
    (other settings, or a resubmission). Kept with its own collection fields, so its video
    is still collected (``collect_videos(generations="all")``) and never hidden.

    Example:
        >>> Generation(task_id="t1", seed=1, output="s3://b/v/a-t1.mp4").collected
        True
    """

    model_config = ConfigDict(extra="allow")

    task_id: str
    status: str | None = None
    model: str | None = None
    ratio: str | None = None
    duration: int | str | None = None
    seed: int | None = None
    estimated_credits: float | None = None
    transport: str | None = None
    possible_duplicate: bool | None = None
    cache_key: str | None = None
    prompt_sha256: str | None = None
    created_at: datetime | None = None
    final_status: str | None = None
    output: str | None = None
    output_bytes: int | None = None
    output_sha256: str | None = None
    failure: str | None = None
    failure_code: str | None = None
    collected_at: datetime | None = None
    missing_since: datetime | None = None
    credits: float | None = None
    outputs: list[StoredOutput] | None = None
    replaced_at: datetime | None = Field(
        default=None, description="When a later generation became the source's current one."
    )

    @property
    def collected(self) -> bool:
        """True when its video has been copied."""
        return bool(self.output)

    @property
    def finished(self) -> bool:
        """True when nothing is left to do for it: copied, failed, cancelled or lost."""
        return self.collected or self.final_status in ENDED_WITHOUT_VIDEO


class ManifestRow(BaseModel):
    """One source image (or one task ID) of a batch.

    Submission fields come from the submission flow's rows; collection fields from the
    collector. The row's own fields describe its *current* generation; `generations` holds
    every earlier one. Unknown fields (from a newer writer) are kept.

    Example:
        >>> row = ManifestRow(source="s3://b/a.png", status="submitted", task_id="t1")
        >>> row.key, row.collected
        ('s3://b/a.png', False)
    """

    model_config = ConfigDict(extra="allow")

    source: str | None = None
    status: str | None = Field(
        default=None,
        description="Submission status: submitted, cached, rejected, failed, deferred, ...",
    )
    task_id: str | None = None
    model: str | None = None
    ratio: str | None = None
    duration: int | str | None = None
    seed: int | None = None
    estimated_credits: float | None = None
    transport: str | None = None
    possible_duplicate: bool | None = None
    error: str | None = None
    cache_key: str | None = None
    prompt_sha256: str | None = Field(
        default=None,
        description="SHA-256 hex of the request's promptText (never the prompt itself).",
    )
    created_at: datetime | None = Field(
        default=None, description="When the ledger recorded the task's creation."
    )

    collected_task_id: str | None = Field(
        default=None, description="The task the collection fields describe."
    )
    final_status: str | None = Field(
        default=None,
        description="SUCCEEDED, FAILED or CANCELLED once the task ended; LOST once it answered "
        "404 for longer than the not-found grace, across collector runs.",
    )
    output: str | None = Field(
        default=None, description="s3:// URI of the copied output (the first, if several)."
    )
    output_bytes: int | None = None
    output_sha256: str | None = None
    failure: str | None = Field(
        default=None, description="Why the generation or the last copy attempt failed."
    )
    failure_code: str | None = None
    collected_at: datetime | None = None
    missing_since: datetime | None = Field(
        default=None,
        description="When a collector first saw the task answer 404 (cleared by a normal "
        "answer); past the not-found grace the generation is LOST.",
    )
    credits: float | None = Field(
        default=None,
        description="What the task cost, in credits, as the API's answer said once it ended "
        "(SUCCEEDED, FAILED or CANCELLED).",
    )
    outputs: list[StoredOutput] | None = Field(
        default=None,
        description="Every copied output of the task, in its order (`output` is the first).",
    )
    superseded_outputs: list[str] = Field(default_factory=list)
    generations: list[Generation] = Field(
        default_factory=list,
        description="Earlier generations of this source, oldest first (never dropped).",
    )
    attempt_status: str | None = Field(
        default=None,
        description="A later run's outcome that made no task (failed, rejected, deferred, "
        "unknown), kept beside the row's generation instead of over it.",
    )
    attempt_error: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _version_1(cls, data: Any) -> Any:
        # Version 1 manifests had no collected_task_id: their outputs belong to their task.
        if isinstance(data, dict) and data.get("output") and "collected_task_id" not in data:
            data = {**data, "collected_task_id": data.get("task_id")}
        return data

    @property
    def key(self) -> str:
        """What identifies the row: the source URI, else ``task:<task ID>``."""
        if self.source:
            return self.source
        if self.task_id:
            return f"task:{self.task_id}"
        raise ValueError("A manifest row needs a source or a task_id.")

    @property
    def collected(self) -> bool:
        """True when this row's current task's video has been copied."""
        return bool(self.task_id and self.output and self.collected_task_id == self.task_id)

    @property
    def finished(self) -> bool:
        """True when nothing is left to do for this row's task: copied, failed, cancelled or
        lost."""
        return self.collected or (
            bool(self.task_id)
            and self.collected_task_id == self.task_id
            and self.final_status in ENDED_WITHOUT_VIDEO
        )

    @property
    def task_ids(self) -> list[str]:
        """Every task of this source, earlier generations first, the current one last."""
        ids = [g.task_id for g in self.generations]
        return ids + [self.task_id] if self.task_id and self.task_id not in ids else ids

    def current_generation(self) -> Generation | None:
        """The current task as a `Generation` (what `generations` keeps once it is replaced)."""
        if not self.task_id:
            return None
        data = {name: getattr(self, name) for name in (*SUBMISSION_FIELDS, "failure_code")}
        if self.collected_task_id == self.task_id:
            data.update({name: getattr(self, name) for name in COLLECTION_FIELDS[1:]})
        return Generation(task_id=self.task_id, **data)

    def merged(self, update: ManifestRow) -> ManifestRow:
        """This row with `update`'s set fields applied (see the module's merge rules)."""
        data = self.model_dump()
        changes = {name: getattr(update, name) for name in update.model_fields_set}
        changes.update(update.model_extra or {})
        changes.pop("generations", None)
        if changes.get("task_id", "") is None:
            changes.pop("task_id")
        new_task = changes.get("task_id", self.task_id)
        generations = list(self.generations)
        collected_for = changes.get("collected_task_id", new_task)
        if collected_for is not None and collected_for != new_task:
            # A collector's result for a task that is not (or no longer) current: it goes to
            # that generation, never to the current one, and is never dropped.
            found = {n: changes.pop(n) for n in COLLECTION_FIELDS if n in changes}
            found.pop("collected_task_id", None)
            generations = _put_generation(generations, collected_for, found)
        if self.task_id and "task_id" not in changes and changes.get("status") in (
            NO_TASK_STATUSES
        ):
            # A run that made no task never overwrites a row that has one: kept beside it.
            data["attempt_status"] = changes.pop("status")
            data["attempt_error"] = changes.pop("error", None)
            for name in SUBMISSION_FIELDS:
                changes.pop(name, None)
        elif changes.get("status") not in (None, *NO_TASK_STATUSES):
            data["attempt_status"] = data["attempt_error"] = None
        restored = None
        if self.task_id and new_task != self.task_id:
            replaced = self.current_generation()
            assert replaced is not None
            replaced.replaced_at = datetime.now(timezone.utc)
            generations = [g for g in generations if g.task_id != replaced.task_id]
            restored = next((g for g in generations if g.task_id == new_task), None)
            generations = [g for g in generations if g.task_id != new_task] + [replaced]
            if self.output:
                data["superseded_outputs"] = [*self.superseded_outputs, self.output]
            for name in COLLECTION_FIELDS:
                data[name] = None
            if restored is not None:  # an earlier generation is current again (seed 1 again)
                for name in (*SUBMISSION_FIELDS, *COLLECTION_FIELDS[1:]):
                    data[name] = getattr(restored, name)
                data["collected_task_id"] = (
                    new_task if restored.final_status or restored.output else None
                )
        for earlier in update.generations:  # a writer's earlier tasks (the ledger's history):
            if earlier.task_id != new_task:  # merged in, after the one just replaced
                generations = _put_generation(generations, earlier.task_id, earlier.model_dump(
                    exclude_unset=True))  # fmt: skip
        if self.task_id and (new_task == self.task_id or restored is not None):
            # A generation known already (a rerun, a cache hit): an unset value in the update
            # never erases a field it has (transport, seed, ...).
            for name in SUBMISSION_FIELDS:
                if name in changes and changes[name] is None:
                    changes.pop(name)
        data["generations"] = [g.model_dump() for g in generations]
        data.update(changes)
        return ManifestRow.model_validate(data)


def _put_generation(
    generations: list[Generation], task_id: str, fields: Mapping[str, Any]
) -> list[Generation]:
    """`generations` with `fields` applied to the one of `task_id` (appended if new)."""
    out, found = [], False
    for generation in generations:
        if generation.task_id == task_id:
            found = True
            generation = generation.model_copy(update=dict(fields))
        out.append(generation)
    if not found:
        out.append(Generation.model_validate({**fields, "task_id": task_id}))
    return out


class Manifest(BaseModel):
    """A batch's manifest: its settings and one row per source image.

    Example:
        >>> m = Manifest().with_rows([ManifestRow(source="s3://b/a.png", status="deferred")])
        >>> [r.status for r in m.rows]
        ['deferred']
    """

    model_config = ConfigDict(extra="allow")

    version: int = MANIFEST_VERSION
    source: str | None = Field(default=None, description="s3://bucket/prefix of the images.")
    settings: dict[str, Any] | None = Field(
        default=None, description="The generation settings of the last submission run."
    )
    flow_run_id: str | None = Field(
        default=None, description="The last submission run that wrote it."
    )
    collector_flow_run_id: str | None = Field(
        default=None, description="The last collector run that wrote it."
    )
    updated_at: datetime | None = None
    rows: list[ManifestRow] = Field(default_factory=list)

    def row(self, key: str) -> ManifestRow | None:
        """The row for a source URI (or ``task:<id>``), if any."""
        return next((r for r in self.rows if r.key == key), None)

    def with_rows(
        self,
        updates: Iterable[ManifestRow],
        *,
        settings: Mapping[str, Any] | None = None,
        flow_run_id: str | None = None,
        collector_flow_run_id: str | None = None,
        source: str | None = None,
    ) -> Manifest:
        """A copy with `updates` merged into the rows (new keys appended, in order)."""
        rows = {r.key: r for r in self.rows}
        for update in updates:
            current = rows.get(update.key)
            rows[update.key] = update if current is None else current.merged(update)
        return self.model_copy(
            update={
                "version": MANIFEST_VERSION,
                "rows": list(rows.values()),
                "settings": dict(settings) if settings is not None else self.settings,
                "flow_run_id": flow_run_id or self.flow_run_id,
                "collector_flow_run_id": collector_flow_run_id or self.collector_flow_run_id,
                "source": self.source or source,
                "updated_at": datetime.now(timezone.utc),
            }
        )

    def to_json_bytes(self) -> bytes:
        """The manifest as UTF-8 JSON, as stored in S3."""
        return json.dumps(self.model_dump(mode="json"), indent=1).encode()


def as_row(row: BaseModel | Mapping[str, Any]) -> ManifestRow:
    """A manifest row from a submission row (any pydantic model) or a mapping.

    Only the fields the row carries are set, so merging it leaves the collector's fields alone.
    A submission row's ``history`` (every task the ledger's record of its key holds) becomes
    its ``generations``, less the row's own task: the manifest is a view of the ledger, so a
    task whose manifest write was lost reappears with the next write.

    Example:
        >>> row = as_row({"source": "s3://b/a.png", "status": "cached", "task_id": "t2",
        ...               "cache_key": "k", "history": [{"attempt": 1, "task_id": "t1"},
        ...                                             {"attempt": 2, "task_id": "t2"}]})
        >>> [g.task_id for g in row.generations], "history" in (row.model_extra or {})
        (['t1'], False)
    """
    if isinstance(row, ManifestRow):
        return row
    data = row.model_dump(mode="json") if isinstance(row, BaseModel) else dict(row)
    history = data.pop("history", None) or []
    own = next((a for a in history if a["task_id"] == data.get("task_id")), None)
    if own is not None and own.get("created_at") and not data.get("created_at"):
        data["created_at"] = own["created_at"]
    if history:  # one key, one request: its earlier tasks had the same prompt
        same = {name: data[name] for name in ("cache_key", "prompt_sha256") if data.get(name)}
        data["generations"] = [
            {"task_id": a["task_id"], **same,
             **{name: a[name] for name in ("estimated_credits", "created_at")
                if a.get(name) is not None},
             **({"possible_duplicate": True} if a.get("possible_duplicate") else {})}
            for a in history if a["task_id"] != data.get("task_id")
        ]  # fmt: skip
    return ManifestRow.model_validate(data)


def read_manifest(s3: S3Client, bucket: str, key: str) -> Manifest | None:
    """Read a manifest; None when it does not exist yet.

    Raises:
        ManifestError: it exists but is not a manifest (it is never overwritten then).
    """
    return read_manifest_version(s3, bucket, key)[0]


def merge_manifest(
    s3: S3Client,
    bucket: str,
    key: str,
    rows: Iterable[BaseModel | Mapping[str, Any]],
    *,
    settings: Mapping[str, Any] | None = None,
    flow_run_id: str | None = None,
    collector_flow_run_id: str | None = None,
    max_attempts: int = 25,
    views: bool = True,
) -> Manifest:
    """Merge `rows` into ``s3://bucket/key`` with conditional writes; return what was written.

    Args:
        s3: A boto3 S3 client; None builds ``boto3.client("s3")`` (standard chain,
            ``AWS_ENDPOINT_URL`` honoured).
        bucket: The manifest's bucket.
        key: The manifest's key, e.g. ``stills/runway-manifest.json``.
        rows: Submission rows (`prefect_runway.ledger.batch.SubmissionRow`), `ManifestRow` updates
            or mappings; each is keyed by ``source`` (else ``task:<task_id>``).
        settings: The generation settings to record (a submission run's); None keeps them.
        flow_run_id: The writing submission run, recorded as the last one.
        collector_flow_run_id: The writing collector run, recorded as the last one.
        max_attempts: Read-merge-write rounds before giving up on constant conflicts.
        views: Then write the Parquet and JSONL views beside it
            (`prefect_runway.s3.manifest_table`); a failure there is only a WARNING.

    Returns:
        The manifest as written.

    Raises:
        ManifestError: the stored manifest is unreadable, the store refuses conditional
            writes, or conflicts did not stop after `max_attempts` rounds.

    Example:
        ```python
        rows = [ManifestRow(source="s3://stills/in/cat.png", status="submitted", task_id=task_id)]
        merge_manifest(s3, "stills", "in/runway-manifest.json", rows, settings=settings.to_wire())
        ```
    """
    from botocore.exceptions import ClientError

    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    updates = [as_row(row) for row in rows]
    uri = f"s3://{bucket}/{key}"
    prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    for attempt in range(1, max_attempts + 1):
        current, etag = read_manifest_version(s3, bucket, key)
        merged = (current or Manifest()).with_rows(
            updates, settings=settings, flow_run_id=flow_run_id,
            collector_flow_run_id=collector_flow_run_id, source=f"s3://{bucket}/{prefix}",
        )  # fmt: skip
        condition: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            answer = s3.put_object(
                Bucket=bucket, Key=key, Body=merged.to_json_bytes(),
                ContentType="application/json", **condition,
            )  # fmt: skip
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _CONFLICT_CODES or status in (409, 412):
                time.sleep(random.uniform(0, min(0.05 * 2**attempt, 1.0)))
                continue
            if code in _UNSUPPORTED_CODES or status == 501:
                raise ManifestError(
                    f"The store refused a conditional write to {uri} ({code or status}); "
                    "without it concurrent runs could drop rows, so nothing was written. Use "
                    "a store that supports S3 IfMatch/IfNoneMatch writes."
                ) from None
            raise
        if views:  # views of what was just written, never a second truth; never raise
            write_views(s3, bucket, key, merged, str(answer.get("ETag", "")),
                        lambda: read_manifest_version(s3, bucket, key))  # fmt: skip
        return merged
    raise ManifestError(
        f"{uri} kept changing under {max_attempts} merge attempts; too many writers at once. "
        "Rerun: every row is kept, nothing was overwritten."
    )


def read_manifest_version(
    s3: S3Client, bucket: str, key: str
) -> tuple[Manifest | None, str | None]:
    """A manifest and its ETag; ``(None, None)`` when it does not exist yet.

    Raises:
        ManifestError: it exists but is not a manifest.
    """
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None, None
        raise
    raw = answer["Body"].read()
    try:
        return Manifest.model_validate(json.loads(raw)), str(answer["ETag"])
    except ValueError as exc:
        raise ManifestError(
            f"s3://{bucket}/{key} is not a readable manifest ({type(exc).__name__}); it was "
            "left untouched. Move it aside or fix it, then rerun."
        ) from None
