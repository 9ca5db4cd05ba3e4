"""Settle an unknown outcome for free: adopt the Runway task you found for it.

An image is *unknown* when a task may exist for it (an answer was lost, a gateway answered
5xx after the POST, a run died between POST and record) and *unrecorded* when its task was
created but the record write failed (the task ID was in the row, the artifacts and an ERROR
line). Paying again (``resubmit_unknown=True``) is one way out; when you know the task ID
(the Runway dashboard, the row, the ERROR line), adopting it is the way that costs nothing:
the task is checked with one GET, then recorded as ``submitted`` (flagged as a possible
duplicate), and every later run treats the image as paid.

Example:
    ```python
    # not run: needs a record whose outcome is unknown (README, "Ways out that cost nothing")
    from prefect_runway.ledger.adopt import adopt

    record = await adopt(creds, "runway-i2v-3f2a...", "0f7a1c2e-...")   # a key or a path
    print(record.state, record.task.id)
    ```

From a shell: ``prefect-runway ledger adopt RECORD TASK_ID``; in the S3 flow:
``s3_image_to_video(..., adopt={"s3://bucket/stills/cat.png": "0f7a1c2e-..."})``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import PurePosixPath

from prefect_runway.api.models import SubmittedTask
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import RecordConflictError, RunwayError
from prefect_runway.ledger.records import Ledger, SubmissionRecord

RECORD_PREFIX = "runway-i2v-"


def record_key(text: str) -> str:
    """The ledger key in `text`: a key, a record's path or URL, or the bare hash.

    Example:
        >>> record_key("/home/me/.prefect/storage/runway-i2v-3f2a")
        'runway-i2v-3f2a'
    """
    name = PurePosixPath(text.rstrip("/")).name
    return name if name.startswith(RECORD_PREFIX) else RECORD_PREFIX + name


async def adopt(
    credentials: RunwayCredentials,
    record: str,
    task_id: str,
    ledger: Ledger | None = None,
) -> SubmissionRecord:
    """Record `task_id` as the task of an unknown or unrecorded image; nothing is paid.

    Args:
        credentials: The account the task belongs to (its one GET checks the task exists).
        record: The image's ledger key, or the record's path as a WARNING or the README shows.
        task_id: The Runway task to adopt.
        ledger: Where records live; default `Ledger.default()`.

    Returns:
        The new ``submitted`` record (flagged: a duplicate paid task may exist).

    Raises:
        RecordConflictError: the record holds another task already (a paid task ID is never
            overwritten), or there is no such record.
        RunwayError: the task cannot be read on this account (nothing is recorded).
    """
    ledger = ledger or await Ledger.default()
    key = record_key(record)
    earlier = await ledger.read(key)  # fails closed on a storage error
    if earlier is None:
        raise RecordConflictError(
            f"No record {ledger.where(key)}: nothing to adopt for. Check the key (it is named "
            "in the WARNING of the run that held the image)."
        )
    if earlier.state == "submitted" and earlier.task is not None:
        if earlier.task.id == task_id:
            return earlier
        raise RecordConflictError(
            f"{ledger.where(key)} already holds Runway task {earlier.task.id}; a recorded task "
            f"is never replaced, so {task_id} was not adopted."
        )
    if earlier.state not in ("intent", "unknown"):
        raise RecordConflictError(
            f"{ledger.where(key)} is {earlier.state!r}: only an unknown outcome (or an "
            "unrecorded task) can adopt a task."
        )
    async with credentials.get_async_client() as client:
        try:
            task = await client.get_task(task_id)
        except RunwayError as exc:
            raise type(exc)(
                f"Runway task {task_id} cannot be read on this account ({exc}); nothing was "
                "adopted.",
                status_code=exc.status_code,
            ) from None
    adopted = earlier.model_copy(
        update={
            "state": "submitted",
            "task": SubmittedTask(
                id=task.id, status=task.status, created_at=task.created_at,
                request_fingerprint=key, lost_responses=max(earlier.lost_responses, 1),
            ),  # fmt: skip
            "lost_responses": max(earlier.lost_responses, 1),
            "possible_duplicate": True,  # another paid task may exist
            "error": f"adopted task {task.id} for an unknown outcome ({earlier.error or 'intent'})",
            "written_at": datetime.now(timezone.utc),
        }
    )
    await ledger.replace(adopted)
    return adopted
