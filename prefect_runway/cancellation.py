"""Cancelling stops the spend: the Runway tasks a cancelled flow run was waiting for are
cancelled too, and the ledger records each as CANCELLED with its final cost.

A flow run that waits for Runway tasks first publishes them, with their ledger keys, as a
table artifact of the run (`record_in_flight`, key ``runway-in-flight``). The flow's
`cancel_in_flight` hook (``on_cancellation``) reads them back *from the Prefect API*, not from
memory: under a runner (``flow.serve``, a worker) Prefect 3.9 kills the flow's process first
and runs the hook in the runner's process. Each task still PENDING, THROTTLED or RUNNING is
cancelled (``DELETE /v1/tasks/{id}``), read again for its final state and cost, and noted in
its ledger record (`note_outcomes`). A task that already ended is left alone (``DELETE`` on a
finished task deletes its output); a ``DELETE`` that fails is a WARNING naming the task and
the command that cancels it, never the end of the others.

A *crashed* run is not cancelled: its tasks are paid, its ledger records stand, and a rerun
(or `collect_videos`) collects their outputs. Cancel the run, or run
``prefect-runway cancel ID...``, to stop them.

Example:
    ```python
    from prefect import flow
    from prefect_runway.cancellation import cancel_in_flight, record_in_flight

    @flow(on_cancellation=[cancel_in_flight])
    async def animate_and_wait(task_id: str) -> None:
        await record_in_flight({task_id: None})  # task ID -> its ledger key, if any
        ...  # wait for it
    ```
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefect_runway.api.models import Task
from prefect_runway.credentials import RunwayCredentials, load_credentials
from prefect_runway.errors import RunwayError

IN_FLIGHT_KEY = "runway-in-flight"
"""The key of the table artifact naming the tasks a flow run waits for."""

_UNFINISHED = ("PENDING", "THROTTLED", "RUNNING")


def cancel_command(task_ids: Sequence[str]) -> str:
    """The command that cancels `task_ids` by hand."""
    return "prefect-runway cancel " + " ".join(task_ids)


@dataclass
class Cancelled:
    """What cancelling one task did.

    Attributes:
        task_id: The Runway task.
        status: Its state afterwards (``CANCELLED``, or the final state it had already
            reached), or None when it could not be read or cancelled.
        credits: Its final cost, when the API gave one.
        error: Why it could not be read or cancelled (it may still be generating).
    """

    task_id: str
    status: str | None = None
    credits: float | None = None
    error: str | None = None

    @property
    def cancelled_now(self) -> bool:
        """True when this call's DELETE stopped it."""
        return self.error is None and self.status == "CANCELLED"


async def record_in_flight(tasks: Mapping[str, str | None]) -> None:
    """Publish `tasks` (task ID -> ledger key or None) as an artifact of the current flow run,
    where `cancel_in_flight` finds them. Call it before waiting; outside a flow run it does
    nothing. A failure to publish is a WARNING: the wait goes on, the tasks are paid.
    """
    from prefect.artifacts import acreate_table_artifact
    from prefect.runtime import flow_run

    if not tasks or not flow_run.id:
        return
    rows = [{"task_id": task_id, "ledger_key": key or ""} for task_id, key in tasks.items()]
    try:
        await acreate_table_artifact(
            rows, key=IN_FLIGHT_KEY,
            description=f"{len(rows)} Runway tasks waited for: cancelled if this run is",
        )  # fmt: skip
    except Exception as exc:
        _logger().warning(
            "Could not record the %d Runway tasks in flight (%s: %s): cancelling this run "
            "would leave them running; cancel them with: %s", len(rows), type(exc).__name__,
            exc, cancel_command(list(tasks)),
        )  # fmt: skip


async def read_in_flight(flow_run_id: uuid.UUID | str) -> dict[str, str | None]:
    """The tasks every `record_in_flight` of the flow run published, oldest first.

    Raises:
        Exception: the Prefect API could not be read (never taken for "no tasks").
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    run_id = uuid.UUID(str(flow_run_id))
    found: dict[str, str | None] = {}
    async with get_client() as client:
        offset = 0
        while True:
            page = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[IN_FLIGHT_KEY]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
                ),
                sort=ArtifactSort.CREATED_DESC, offset=offset, limit=200,
            )  # fmt: skip
            for artifact in page:
                data: Any = artifact.data
                data = json.loads(data) if isinstance(data, str) else data
                for row in data or []:
                    found.setdefault(str(row["task_id"]), row.get("ledger_key") or None)
            if len(page) < 200:
                return found
            offset += len(page)


async def cancel_tasks(
    credentials: RunwayCredentials,
    tasks: Mapping[str, str | None],
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> list[Cancelled]:
    """Cancel each of `tasks` (task ID -> ledger key or None) that has not ended, and note
    each one cancelled, with its final cost, in its ledger record.

    A task is read first: one that ended is left as it is (a DELETE would delete its
    output). A read or a DELETE that fails is a WARNING naming the task and
    `cancel_command`; the others are cancelled all the same.

    Returns:
        One `Cancelled` per task, in order.
    """
    log = logger or _logger()
    async with credentials.get_async_client() as client:

        async def one(task_id: str) -> Cancelled:
            try:
                current = await client.get_task(task_id)
                if current.status.value not in _UNFINISHED:
                    return Cancelled(task_id, current.status.value, _cost(current))
                await client.cancel_task(task_id)
                after = await client.get_task(task_id)
            except RunwayError as exc:
                log.warning(
                    "Could not cancel Runway task %s (%s: %s): it may still be generating "
                    "and charging; cancel it with: %s", task_id, type(exc).__name__, exc,
                    cancel_command([task_id]),
                )  # fmt: skip
                return Cancelled(task_id, error=f"{type(exc).__name__}: {exc}")
            return Cancelled(task_id, after.status.value, _cost(after))

        results = list(await asyncio.gather(*(one(task_id) for task_id in tasks)))
    stopped = [r for r in results if r.cancelled_now]
    if stopped:
        log.info("Cancelled %d Runway tasks: %s", len(stopped),
                 ", ".join(r.task_id for r in stopped))  # fmt: skip
    await note_outcomes(
        [(key, r.task_id, "CANCELLED", r.credits) for r in stopped
         if (key := tasks.get(r.task_id))], log,
    )  # fmt: skip
    return results


async def note_outcomes(
    notes: Sequence[tuple[str, str, str, float | None]],
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> None:
    """Write each ``(ledger key, task ID, final state, credits)`` into its attempt in the
    ledger's history, under the key's lock as submissions write. Only a note: a failure is a
    WARNING naming the record and changes nothing else."""
    if not notes:
        return
    from prefect_runway import settings as config
    from prefect_runway.ledger.records import Ledger

    log = logger or _logger()
    try:
        ledger, locks = await Ledger.default(), config.lock_manager()
    except Exception as exc:
        log.warning("Final states not noted in the ledger (%s: %s)", type(exc).__name__, exc)
        return
    holder = uuid.uuid4().hex
    for key, task_id, status, credits in notes:
        try:
            await locks.aacquire_lock(key, holder, hold_timeout=config.lock_timeout())
            try:
                await ledger.note_outcome(key, task_id, status, credits)
            finally:
                locks.release_lock(key, holder)
        except Exception as exc:
            log.warning("Task %s ended %s, not noted in its ledger record %s (%s: %s)",
                        task_id, status, ledger.where(key), type(exc).__name__, exc)  # fmt: skip


async def cancel_in_flight(flow: Any, flow_run: Any, state: Any) -> None:
    """An ``on_cancellation`` hook: cancel the Runway tasks the run recorded in flight.

    The credentials are the run's ``credentials_block`` parameter when it names a saved
    block, else the environment (``RUNWAYML_API_SECRET``), as the flow found them.
    """
    from prefect.logging.loggers import flow_run_logger

    logger = flow_run_logger(flow_run, flow)
    try:
        tasks = await read_in_flight(flow_run.id)
    except Exception as exc:
        logger.error("Could not read the Runway tasks this run waited for (%s: %s): they may "
                     "still be generating; see its '%s' artifacts and cancel them with: %s",
                     type(exc).__name__, exc, IN_FLIGHT_KEY,
                     cancel_command(["ID..."]))  # fmt: skip
        return
    if not tasks:
        return
    block = (flow_run.parameters or {}).get("credentials_block")
    try:
        credentials = await load_credentials(block if isinstance(block, str) else None)
    except Exception as exc:
        logger.error("No Runway credentials to cancel %d tasks (%s: %s); cancel them with: %s",
                     len(tasks), type(exc).__name__, exc, cancel_command(list(tasks)))  # fmt: skip
        return
    await cancel_tasks(credentials, tasks, logger)


def _cost(task: Task) -> float | None:
    return task.cost.credits if task.cost is not None else None


def _logger() -> logging.Logger | logging.LoggerAdapter[Any]:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("prefect_runway.cancellation")
