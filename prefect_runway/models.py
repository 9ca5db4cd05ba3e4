"""Request and response models for Runway's image-to-video API.

Every rule of the API that can be checked without a network call is checked here, before a
credit is spent. Errors name the field, the value and what is allowed, e.g.
``ratio '1280:768' is not supported by gen4_turbo; use one of 1280:720, 720:1280, ...``.

Example:
    ```python
    from prefect_runway.models import ImageToVideoRequest

    request = ImageToVideoRequest(
        prompt_image="https://example.com/cat.png",
        model="gen4_turbo",
        ratio="1280:720",
        duration=5,
        prompt_text="a cat dances",
    )
    request.to_wire()  # {"promptImage": ..., "model": "gen4_turbo", ...}
    ```
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from typing_extensions import Self

MAX_URL_LENGTH = 2048
MAX_DATA_URI_BYTES = 5 * 1024 * 1024
MAX_URL_IMAGE_BYTES = 16 * 1024 * 1024
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_PROMPT_UTF16_UNITS = 1000
MAX_SEED = 4_294_967_295
IMAGE_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")


class ModelRules(BaseModel):
    """What one Runway model accepts; the source is `runway-api.md`."""

    ratios: tuple[str, ...]
    durations: tuple[int, ...]
    default_duration: int
    credits_per_second: float
    prompt_text_required: bool = False
    last_frame: bool = False


_GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
_VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")

MODEL_RULES: dict[str, ModelRules] = {
    "gen4_turbo": ModelRules(
        ratios=_GEN4_RATIOS,
        durations=tuple(range(2, 11)),
        default_duration=10,
        credits_per_second=5,
    ),
    "gen4.5": ModelRules(
        ratios=_GEN4_RATIOS,
        durations=tuple(range(2, 11)),
        default_duration=10,
        credits_per_second=12,
        prompt_text_required=True,
    ),
    "gen3a_turbo": ModelRules(
        ratios=("1280:768", "768:1280"),
        durations=(5, 10),
        default_duration=10,
        credits_per_second=5,
        prompt_text_required=True,
        last_frame=True,
    ),
    "veo3": ModelRules(
        ratios=_VEO_RATIOS,
        durations=(8,),
        default_duration=8,
        credits_per_second=40,
    ),
    "veo3.1": ModelRules(
        ratios=_VEO_RATIOS,
        durations=(4, 6, 8),
        default_duration=8,
        credits_per_second=40,
        last_frame=True,
    ),
    "veo3.1_fast": ModelRules(
        ratios=_VEO_RATIOS,
        durations=(4, 6, 8),
        default_duration=8,
        credits_per_second=15,
        last_frame=True,
    ),
}
"""Per-model rules. A model not listed here (proxies add their own) gets generic checks only."""

_DATA_URI = re.compile(
    r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.S
)


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units, the way Runway counts `promptText`.

    Example:
        ```python
        utf16_length("🎬")  # 2
        ```
    """
    return len(text.encode("utf-16-le")) // 2


def _allowed(values: tuple[Any, ...]) -> str:
    return ", ".join(str(v) for v in values)


def redact_url(url: str) -> str:
    """Drop the query string and fragment of a URL: presigned URLs carry credentials there.

    Example:
        ```python
        redact_url("https://b.s3.amazonaws.com/k.png?X-Amz-Signature=abc")
        # 'https://b.s3.amazonaws.com/k.png?<redacted>'
        ```
    """
    if url.startswith("data:"):
        head = url.split(",", 1)[0]
        return f"{head},<{max(len(url) - len(head) - 1, 0)} chars>"
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
    return base + ("?<redacted>" if parts.query else "")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ALLOW_LOOPBACK_ENV = "PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS"


def _loopback_allowed() -> bool:
    return os.environ.get(ALLOW_LOOPBACK_ENV, "").lower() in ("1", "true", "yes")


def check_image_uri(uri: str, field: str = "prompt_image") -> str:
    """Check one image reference the way Runway will, and return it unchanged.

    Accepts an HTTPS URL on a domain host (no IP literal, at most 2048 characters), a base64
    data URI of a JPEG, PNG or WebP image of at most 5 MB, or a ``runway://`` upload URI.
    With ``PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS=1`` (local runs against the emulator and moto
    only; Runway itself never accepts them), http URLs on 127.0.0.1/localhost pass too.

    Raises:
        ValueError: naming the field, the (redacted) value and what is allowed.
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"{field} must be a non-empty string")
    if uri.startswith("runway://"):
        if len(uri) <= len("runway://"):
            raise ValueError(f"{field} {uri!r} is not a valid runway:// upload URI")
        return uri
    if uri.startswith("data:"):
        return _check_data_uri(uri, field)
    shown = redact_url(uri)
    parts = urlsplit(uri)
    if _loopback_allowed() and parts.hostname in LOOPBACK_HOSTS:
        return uri  # local runs only: S3 (moto) and the emulator on this machine
    if parts.scheme != "https":
        raise ValueError(
            f"{field} {shown!r} must be an https:// URL, a data:image/...;base64 URI or a "
            f"runway:// upload URI (got scheme {parts.scheme or 'none'!r})"
        )
    if len(uri) > MAX_URL_LENGTH:
        raise ValueError(
            f"{field} URL is {len(uri)} characters long; Runway accepts at most {MAX_URL_LENGTH}"
        )
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{field} {shown!r} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise ValueError(
            f"{field} {shown!r} uses an IP address host ({host}); Runway requires a domain name"
        )
    return uri


def _check_data_uri(uri: str, field: str) -> str:
    match = _DATA_URI.match(uri)
    if not match:
        raise ValueError(f"{field} {redact_url(uri)!r} is not a valid data URI")
    content_type = match["type"].lower()
    if content_type not in IMAGE_CONTENT_TYPES:
        raise ValueError(
            f"{field} data URI has content type {content_type!r}; "
            f"use one of {_allowed(IMAGE_CONTENT_TYPES)}"
        )
    if ";base64" not in match["params"]:
        raise ValueError(
            f"{field} data URI must be base64-encoded (data:{content_type};base64,...)"
        )
    data = match["data"]
    size = len(data) * 3 // 4 - data[-2:].count("=")
    if size > MAX_DATA_URI_BYTES:
        raise ValueError(
            f"{field} data URI holds {size} bytes; Runway accepts at most {MAX_DATA_URI_BYTES} "
            "bytes (5 MB) as a data URI: use an upload or a URL for larger images"
        )
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{field} data URI does not hold valid base64 data") from None
    return uri


class _WireModel(BaseModel):
    """Pythonic names in code, the API's camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, hide_input_in_errors=True
    )


class PromptImage(_WireModel):
    """One image of a multi-image prompt: ``{"uri": ..., "position": "first" | "last"}``."""

    uri: str
    position: Literal["first", "last"] = "first"

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        return check_image_uri(value, "prompt_image.uri")


class ContentModeration(_WireModel):
    """Content moderation settings."""

    public_figure_threshold: Literal["auto", "low"] = "auto"


class GenerationSettings(_WireModel):
    """Everything about a generation except the image: model, ratio, duration, prompt...

    Checked against the model's rules on creation, so a batch fails before any listing,
    upload or credit. Unknown keyword arguments (such as the seed's ``watermark``) are passed
    to the API as they are, never silently dropped.

    Example:
        ```python
        settings = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
        request = settings.for_image("https://example.com/cat.png")
        ```
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="allow",
        hide_input_in_errors=True,  # inputs may hold presigned URLs: keep them out of errors
    )

    model: str
    ratio: str
    seed: int | None = None
    prompt_text: str | None = None
    duration: int | None = None
    content_moderation: ContentModeration | None = None

    @field_validator("seed")
    @classmethod
    def _check_seed(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_SEED:
            raise ValueError(f"seed {value} is out of range; use an integer 0..{MAX_SEED}")
        return value

    @field_validator("prompt_text")
    @classmethod
    def _check_prompt_text(cls, value: str | None) -> str | None:
        if value is not None and utf16_length(value) > MAX_PROMPT_UTF16_UNITS:
            raise ValueError(
                f"prompt_text is {utf16_length(value)} UTF-16 code units long; Runway accepts at "
                f"most {MAX_PROMPT_UTF16_UNITS} (emoji and other astral characters count as 2)"
            )
        return value

    @model_validator(mode="after")
    def _check_model_rules(self) -> Self:
        if not re.fullmatch(r"\d+:\d+", self.ratio):
            raise ValueError(f"ratio {self.ratio!r} must look like WIDTH:HEIGHT, e.g. 1280:720")
        if self.duration is not None and self.duration < 1:
            raise ValueError(f"duration {self.duration} must be a positive number of seconds")
        rules = MODEL_RULES.get(self.model)
        if rules is None:
            return self  # a proxy's own model: generic checks only
        if self.ratio not in rules.ratios:
            raise ValueError(
                f"ratio {self.ratio!r} is not supported by {self.model}; "
                f"use one of {_allowed(rules.ratios)}"
            )
        if self.duration is not None and self.duration not in rules.durations:
            raise ValueError(
                f"duration {self.duration} is not supported by {self.model}; "
                f"use one of {_allowed(rules.durations)}"
            )
        if rules.prompt_text_required and not self.prompt_text:
            raise ValueError(f"prompt_text is required by {self.model}")
        return self

    @property
    def effective_duration(self) -> int:
        """The duration the API will generate: the given one or the model's default."""
        if self.duration is not None:
            return self.duration
        rules = MODEL_RULES.get(self.model)
        return rules.default_duration if rules else 10

    def estimated_credits(self) -> float | None:
        """Credits this generation should cost, or None for a model without a known price.

        Example:
            ```python
            GenerationSettings(model="gen4_turbo", ratio="1280:720").estimated_credits()  # 50
            ```
        """
        rules = MODEL_RULES.get(self.model)
        return rules.credits_per_second * self.effective_duration if rules else None

    def to_wire(self) -> dict[str, Any]:
        """The JSON body to send: camelCase keys, unset fields left out, extras kept."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")

    def settings_wire(self) -> dict[str, Any]:
        """The wire body without ``promptImage``: what the settings alone send."""
        wire = self.to_wire()
        wire.pop("promptImage", None)
        return wire

    def settings(self) -> GenerationSettings:
        """These settings alone, without any image."""
        return GenerationSettings.model_validate(self.settings_wire())

    def for_image(self, prompt_image: str | list[PromptImage]) -> ImageToVideoRequest:
        """A validated request for `prompt_image` with these settings."""
        image = (
            prompt_image
            if isinstance(prompt_image, str)
            else [item.model_dump(by_alias=True) for item in prompt_image]
        )
        return ImageToVideoRequest.model_validate({**self.settings_wire(), "promptImage": image})


class ImageToVideoRequest(GenerationSettings):
    """A `POST /v1/image_to_video` body: `GenerationSettings` plus the prompt image.

    Example:
        ```python
        ImageToVideoRequest(
            prompt_image="data:image/png;base64,iVBORw0KGgo=",
            model="gen4_turbo", ratio="1280:720", duration=5, seed=42,
        )
        ```
    """

    prompt_image: str | list[PromptImage] = Field(
        validation_alias=AliasChoices("prompt_image", "promptImage")
    )

    @field_validator("prompt_image")
    @classmethod
    def _check_prompt_image(cls, value: str | list[PromptImage]) -> str | list[PromptImage]:
        if isinstance(value, str):
            return check_image_uri(value)
        if not value:
            raise ValueError("prompt_image list must hold at least one {uri, position} image")
        positions = [image.position for image in value]
        if positions.count("first") > 1 or positions.count("last") > 1:
            raise ValueError(
                f"prompt_image positions {positions} repeat; give at most one 'first' and one "
                "'last'"
            )
        return value

    @model_validator(mode="after")
    def _check_last_frame(self) -> Self:
        rules = MODEL_RULES.get(self.model)
        if rules and not rules.last_frame and isinstance(self.prompt_image, list):
            if any(image.position == "last" for image in self.prompt_image):
                raise ValueError(
                    f"prompt_image position 'last' is not supported by {self.model}; "
                    "only 'first' is allowed"
                )
        return self


class TaskStatus(str, Enum):
    """Runway task statuses."""

    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED."""
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Credits(BaseModel):
    """A cost in credits (1 credit = 0.01 USD)."""

    credits: float


class Task(_WireModel):
    """A task as `GET /v1/tasks/{id}` returns it."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    id: str
    status: TaskStatus
    created_at: datetime | None = None
    progress: float | None = None
    output: list[str] | None = None
    failure: str | None = None
    failure_code: str | None = None
    estimated_cost: Credits | None = None
    cost: Credits | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the task will not change any more."""
        return self.status.is_terminal


_PROXY_STATES = {
    "pending": TaskStatus.PENDING,
    "queued": TaskStatus.PENDING,
    "submitted": TaskStatus.PENDING,
    "throttled": TaskStatus.THROTTLED,
    "running": TaskStatus.RUNNING,
    "processing": TaskStatus.RUNNING,
    "succeeded": TaskStatus.SUCCEEDED,
    "success": TaskStatus.SUCCEEDED,
    "completed": TaskStatus.SUCCEEDED,
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
    "cancelled": TaskStatus.CANCELLED,
    "canceled": TaskStatus.CANCELLED,
}


def _parse_status(value: Any) -> TaskStatus:
    if value is None:
        return TaskStatus.PENDING
    return _PROXY_STATES.get(str(value).lower(), TaskStatus.PENDING)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


class SubmittedTask(BaseModel):
    """One normalized answer to a submission, whatever shape the API or proxy sent.

    Accepted shapes: official ``{"id", "estimatedCost"}`` (or only ``id``), a proxy's wrapped
    ``{"code", "message", "request_id", "data": {"task_id", "task_status", ...}}`` and a
    proxy's ``{"id", "state", "created_at"}``. Use `SubmittedTask.from_response`.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime | None = None
    estimated_credits: float | None = None
    request_id: str | None = None
    request_fingerprint: str | None = None
    """The submission's cache key (account, image identity, request); set by the tasks."""
    lost_responses: int = 0
    """Earlier attempts of this submission whose answer was lost: >0 means a possible duplicate."""

    @classmethod
    def from_response(cls, body: Any) -> SubmittedTask:
        """Parse a submit response body.

        Raises:
            ValueError: when the body holds no task ID in any known shape.
        """
        if not isinstance(body, dict):
            raise ValueError(f"expected a JSON object, got {type(body).__name__}")
        data = body.get("data")
        if isinstance(data, dict) and (data.get("task_id") or data.get("id")):
            return cls(
                id=str(data.get("task_id") or data.get("id")),
                status=_parse_status(data.get("task_status") or data.get("status")),
                created_at=_parse_time(data.get("created_at")),
                request_id=body.get("request_id"),
            )
        task_id = body.get("id") or body.get("task_id")
        if not task_id:
            raise ValueError(f"no task id in the response (keys: {sorted(body)})")
        cost = body.get("estimatedCost")
        return cls(
            id=str(task_id),
            status=_parse_status(body.get("status") or body.get("state")),
            created_at=_parse_time(body.get("createdAt") or body.get("created_at")),
            estimated_credits=cost.get("credits") if isinstance(cost, dict) else None,
            request_id=body.get("request_id"),
        )


class Organization(_WireModel):
    """`GET /v1/organization`: credit balance, tier limits and today's usage."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    credit_balance: float | None = None
    tier: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)

    def max_concurrent_generations(self, model: str) -> int | None:
        """The tier's concurrency limit for `model`, or None when the API does not say."""
        value = (self.tier.get("models") or {}).get(model, {}).get("maxConcurrentGenerations")
        return int(value) if value else None

    def max_daily_generations(self, model: str) -> int | None:
        """The tier's generations per rolling 24 hours for `model`; None: no limit or unknown."""
        value = ((self.tier.get("models") or {}).get(model) or {}).get("maxDailyGenerations")
        return int(value) if value is not None else None

    def daily_generations(self, model: str) -> int:
        """`model`'s generations in the current 24-hour window (0 when the API does not say)."""
        value = ((self.usage.get("models") or {}).get(model) or {}).get("dailyGenerations")
        return int(value or 0)

    def remaining_daily(self, model: str) -> int | None:
        """Generations of `model` still allowed in the current 24-hour window.

        Returns:
            At least 0; None when the tier has no daily limit or the API does not say.

        Example:
            >>> org = Organization.model_validate({
            ...     "tier": {"models": {"gen4_turbo": {"maxDailyGenerations": 50}}},
            ...     "usage": {"models": {"gen4_turbo": {"dailyGenerations": 48}}}})
            >>> org.remaining_daily("gen4_turbo"), org.remaining_daily("veo3.1")
            (2, None)
        """
        limit = self.max_daily_generations(model)
        return None if limit is None else max(limit - self.daily_generations(model), 0)
