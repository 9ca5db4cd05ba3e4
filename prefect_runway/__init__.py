"""Runway image-to-video for Prefect 3: models, clients, a credentials block and tasks."""

from prefect_runway.client import AsyncRunwayClient, RunwayClient
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.errors import (
    RecordReadError,
    RecordWriteError,
    RunwayAuthenticationError,
    RunwayBadRequestError,
    RunwayConnectionError,
    RunwayDailyLimitError,
    RunwayError,
    RunwayNotFoundError,
    RunwayProtocolError,
    RunwayRateLimitError,
    RunwayResponseLostError,
    RunwayServerError,
    RunwayTaskFailedError,
    RunwayTaskTimeoutError,
    RunwayUnknownOutcomeError,
)
from prefect_runway.models import (
    GenerationSettings,
    ImageToVideoRequest,
    Organization,
    PromptImage,
    SubmittedTask,
    Task,
    TaskStatus,
)

__all__ = [
    "AsyncRunwayClient",
    "GenerationSettings",
    "ImageToVideoRequest",
    "Organization",
    "PromptImage",
    "RecordReadError",
    "RecordWriteError",
    "RunwayAuthenticationError",
    "RunwayBadRequestError",
    "RunwayClient",
    "RunwayConnectionError",
    "RunwayCredentials",
    "RunwayDailyLimitError",
    "RunwayError",
    "RunwayNotFoundError",
    "RunwayProtocolError",
    "RunwayRateLimitError",
    "RunwayResponseLostError",
    "RunwayServerError",
    "RunwayTaskFailedError",
    "RunwayTaskTimeoutError",
    "RunwayUnknownOutcomeError",
    "SubmittedTask",
    "Task",
    "TaskStatus",
]
