"""Runway image-to-video for Prefect 3: models, clients, a credentials block, tasks and flows.

The whole public API is importable from here, and nothing loads until it is used: ``import
prefect_runway`` costs neither Prefect, boto3, Redis nor the emulator.

Example:
    ```python
    import prefect_runway

    print(prefect_runway.__version__)
    data_uri = prefect_runway.sample_image_data_uri()   # a small PNG shipped in the package
    ```
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("prefect-runway")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"

# Public name -> the module that defines it (the layers: api, ledger, s3, then Prefect's).
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ["AsyncRunwayClient", "RunwayClient"], "prefect_runway.api.client"
    ),
    "Dialect": "prefect_runway.api.dialects",
    "GenerationRequest": "prefect_runway.api.requests",
    **dict.fromkeys(
        ["GenerationSettings", "ImageToVideoRequest", "Organization", "PromptImage",
         "SubmittedTask", "Task", "TaskStatus"],
        "prefect_runway.api.models",
    ),  # fmt: skip
    **dict.fromkeys(
        ["BatchFailedError", "BudgetExceededError", "ConfigurationError", "CreateOutcome",
         "ImageRejectedError", "ImageSourceError", "InputRejectedError", "LedgerError",
         "LockError", "ManifestError", "PrefectRunwayError", "RecordConflictError", "RecordError",
         "RecordReadError", "RecordWriteError", "RunwayAuthenticationError",
         "RunwayBadRequestError", "RunwayConnectionError", "RunwayDailyLimitError",
         "RunwayError", "RunwayIncompleteDownloadError", "RunwayInvalidTaskIdError",
         "RunwayNotFoundError", "RunwayProtocolError", "RunwayRateLimitError",
         "RunwayResponseLostError", "RunwayServerError", "RunwayTaskFailedError",
         "RunwayTaskLostError", "RunwayTaskTimeoutError", "RunwayUnknownOutcomeError",
         "RunwayValidationError"],
        "prefect_runway.errors",
    ),  # fmt: skip
    "RunwayCredentials": "prefect_runway.credentials",
    **dict.fromkeys(
        ["asubmit_image_to_video", "submit_image_to_video", "asubmit_generation",
         "submit_generation", "aget_task", "get_task",
         "acancel_task", "cancel_task", "await_for_tasks", "wait_for_tasks",
         "download_task_output", "estimate_credits", "check_budget", "DownloadedOutput"],
        "prefect_runway.tasks",
    ),  # fmt: skip
    **dict.fromkeys(
        ["s3_image_to_video", "collect_videos", "drive_batch", "generate_from_table",
         "reconcile_spend", "run_pipeline"],
        "prefect_runway.flows",
    ),  # the flows, not their modules (prefect_runway.flows rebinds the names)
    **dict.fromkeys(["sample_image", "sample_image_data_uri"], "prefect_runway.samples"),
}

__all__ = [
    "__version__",
    "AsyncRunwayClient",
    "BatchFailedError",
    "BudgetExceededError",
    "ConfigurationError",
    "CreateOutcome",
    "Dialect",
    "DownloadedOutput",
    "GenerationRequest",
    "GenerationSettings",
    "ImageRejectedError",
    "ImageSourceError",
    "ImageToVideoRequest",
    "InputRejectedError",
    "LedgerError",
    "LockError",
    "ManifestError",
    "Organization",
    "PrefectRunwayError",
    "PromptImage",
    "RecordConflictError",
    "RecordError",
    "RecordReadError",
    "RecordWriteError",
    "RunwayAuthenticationError",
    "RunwayBadRequestError",
    "RunwayClient",
    "RunwayConnectionError",
    "RunwayCredentials",
    "RunwayDailyLimitError",
    "RunwayError",
    "RunwayIncompleteDownloadError",
    "RunwayInvalidTaskIdError",
    "RunwayNotFoundError",
    "RunwayProtocolError",
    "RunwayRateLimitError",
    "RunwayResponseLostError",
    "RunwayServerError",
    "RunwayTaskFailedError",
    "RunwayTaskLostError",
    "RunwayTaskTimeoutError",
    "RunwayUnknownOutcomeError",
    "RunwayValidationError",
    "SubmittedTask",
    "Task",
    "TaskStatus",
    "acancel_task",
    "aget_task",
    "asubmit_generation",
    "asubmit_image_to_video",
    "await_for_tasks",
    "cancel_task",
    "check_budget",
    "collect_videos",
    "download_task_output",
    "drive_batch",
    "estimate_credits",
    "generate_from_table",
    "get_task",
    "reconcile_spend",
    "run_pipeline",
    "s3_image_to_video",
    "sample_image",
    "sample_image_data_uri",
    "submit_generation",
    "submit_image_to_video",
    "wait_for_tasks",
]


def __getattr__(name: str) -> Any:
    # PEP 562: load a public name's module on first use. Modules are resolved the usual way,
    # so submodules (prefect_runway.api, .ledger...) are not found here.
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'prefect_runway' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # for type checkers and IDEs, the same names eagerly
    from prefect_runway.api.client import AsyncRunwayClient, RunwayClient
    from prefect_runway.api.dialects import Dialect
    from prefect_runway.api.models import (
        GenerationSettings,
        ImageToVideoRequest,
        Organization,
        PromptImage,
        SubmittedTask,
        Task,
        TaskStatus,
    )
    from prefect_runway.api.requests import GenerationRequest
    from prefect_runway.credentials import RunwayCredentials
    from prefect_runway.errors import (
        BatchFailedError,
        BudgetExceededError,
        ConfigurationError,
        CreateOutcome,
        ImageRejectedError,
        ImageSourceError,
        InputRejectedError,
        LedgerError,
        LockError,
        ManifestError,
        PrefectRunwayError,
        RecordConflictError,
        RecordError,
        RecordReadError,
        RecordWriteError,
        RunwayAuthenticationError,
        RunwayBadRequestError,
        RunwayConnectionError,
        RunwayDailyLimitError,
        RunwayError,
        RunwayIncompleteDownloadError,
        RunwayInvalidTaskIdError,
        RunwayNotFoundError,
        RunwayProtocolError,
        RunwayRateLimitError,
        RunwayResponseLostError,
        RunwayServerError,
        RunwayTaskFailedError,
        RunwayTaskLostError,
        RunwayTaskTimeoutError,
        RunwayUnknownOutcomeError,
        RunwayValidationError,
    )
    from prefect_runway.flows.collect_videos import collect_videos
    from prefect_runway.flows.drive_batch import drive_batch
    from prefect_runway.flows.generate_from_table import generate_from_table
    from prefect_runway.flows.pipeline import run_pipeline
    from prefect_runway.flows.reconcile_spend import reconcile_spend
    from prefect_runway.flows.s3_image_to_video import s3_image_to_video
    from prefect_runway.samples import sample_image, sample_image_data_uri
    from prefect_runway.tasks import (
        DownloadedOutput,
        acancel_task,
        aget_task,
        asubmit_generation,
        asubmit_image_to_video,
        await_for_tasks,
        cancel_task,
        check_budget,
        download_task_output,
        estimate_credits,
        get_task,
        submit_generation,
        submit_image_to_video,
        wait_for_tasks,
    )
