"""Runway image-to-video for Prefect 3: models, clients, a credentials block and tasks.

Example:
    ```python
    import prefect_runway

    print(prefect_runway.__version__)
    data_uri = prefect_runway.sample_image_data_uri()   # a small PNG shipped in the package
    ```
"""

from importlib.metadata import PackageNotFoundError, version

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
from prefect_runway.samples import sample_image, sample_image_data_uri

try:
    __version__ = version("prefect-runway")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "sample_image",
    "sample_image_data_uri",
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
    "SubmittedTask",
    "Task",
    "TaskStatus",
]
