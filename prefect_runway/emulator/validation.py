"""Validation of ``POST /v1/image_to_video`` bodies, written from Runway's documented rules.

The emulator validates independently of any client so that client-side checks can be tested
against it. Messages never echo a URL's query string (presigned URLs are credentials) nor the
contents of a data URI.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

RATIOS: dict[str, tuple[str, ...]] = {
    "gen4_turbo": ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"),
    "gen4.5": ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"),
    "gen3a_turbo": ("1280:768", "768:1280"),
    "veo3": ("1280:720", "720:1280", "1080:1920", "1920:1080"),
    "veo3.1": ("1280:720", "720:1280", "1080:1920", "1920:1080"),
    "veo3.1_fast": ("1280:720", "720:1280", "1080:1920", "1920:1080"),
}
"""Accepted ``ratio`` values per model."""

MODELS: tuple[str, ...] = tuple(RATIOS)

DURATIONS: dict[str, tuple[int, ...]] = {
    "gen4_turbo": tuple(range(2, 11)),
    "gen4.5": tuple(range(2, 11)),
    "gen3a_turbo": (5, 10),
    "veo3": (8,),
    "veo3.1": (4, 6, 8),
    "veo3.1_fast": (4, 6, 8),
}
"""Accepted ``duration`` values (seconds) per model."""

DEFAULT_DURATION: dict[str, int] = {
    "gen4_turbo": 10,
    "gen4.5": 10,
    "gen3a_turbo": 10,
    "veo3": 8,
    "veo3.1": 8,
    "veo3.1_fast": 8,
}

CREDITS_PER_SECOND: dict[str, int] = {
    "gen4_turbo": 5,
    "gen4.5": 12,
    "gen3a_turbo": 5,
    "veo3": 40,
    "veo3.1": 40,
    "veo3.1_fast": 15,
}

PROMPT_TEXT_REQUIRED: frozenset[str] = frozenset({"gen4.5", "gen3a_turbo"})

LAST_FRAME_MODELS: frozenset[str] = frozenset({"gen3a_turbo", "veo3.1", "veo3.1_fast"})
"""Models accepting a ``promptImage`` entry with ``position: "last"`` (simplified rule)."""

MAX_URL_LENGTH = 2048
MAX_DATA_URI_BYTES = 5 * 1024 * 1024
MAX_PROMPT_TEXT_UNITS = 1000
MAX_SEED = 4294967295
UPLOAD_URI_PREFIX = "runway://uploads/"

_DATA_URI = re.compile(r"data:(image/(?:jpeg|png|webp));base64,(.*)", re.DOTALL)
_FAIL_TRIGGER = re.compile(r"\[emulator:fail=([A-Za-z0-9_.\-]+)\]")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass
class Issue:
    """One validation problem, in Runway's ``issues`` format."""

    path: list[str | int]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return the issue as ``{"path": [...], "message": "..."}``."""
        return {"path": list(self.path), "message": self.message}


@dataclass
class ValidatedSubmit:
    """A body that passed validation, with what the emulator needs to create the task."""

    model: str
    duration: int
    credits: int
    urls_to_fetch: list[str] = field(default_factory=list)
    fail_code: str | None = None


def safe_url(url: str) -> str:
    """Return ``scheme://host[:port]/path`` of a URL: no user info, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def prompt_text_units(text: str) -> int:
    """Length of a string in UTF-16 code units, the way Runway counts ``promptText``."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Validator:
    def __init__(
        self,
        upload_ready: Callable[[str], bool],
        allow_http_loopback: bool,
    ) -> None:
        self.upload_ready = upload_ready
        self.allow_http_loopback = allow_http_loopback
        self.issues: list[Issue] = []
        self.urls: list[str] = []

    def issue(self, path: list[str | int], message: str) -> None:
        self.issues.append(Issue(path, message))

    def check_uri(self, path: list[str | int], uri: object) -> None:
        name = ".".join(str(p) for p in path)
        if not isinstance(uri, str) or not uri:
            self.issue(path, f"{name} must be a non-empty string, got {_describe(uri)}.")
            return
        if uri.startswith("data:"):
            self.check_data_uri(path, name, uri)
        elif uri.startswith("runway://"):
            token = uri[len(UPLOAD_URI_PREFIX) :] if uri.startswith(UPLOAD_URI_PREFIX) else ""
            if not token or not self.upload_ready(token):
                self.issue(
                    path,
                    f"{name} '{uri}' does not refer to a completed upload from this server.",
                )
        else:
            self.check_url(path, name, uri)

    def check_data_uri(self, path: list[str | int], name: str, uri: str) -> None:
        match = _DATA_URI.fullmatch(uri)
        if match is None:
            head = uri.split(",", 1)[0][:64]
            self.issue(
                path,
                f"{name} data URI '{head},...' is not supported: use "
                "data:image/jpeg, data:image/png or data:image/webp with ;base64.",
            )
            return
        payload = match.group(2)
        try:
            decoded = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            self.issue(path, f"{name} data URI ({match.group(1)}) is not valid base64.")
            return
        if len(decoded) > MAX_DATA_URI_BYTES:
            self.issue(
                path,
                f"{name} data URI decodes to {len(decoded)} bytes; the limit is "
                f"{MAX_DATA_URI_BYTES} bytes (5 MB).",
            )

    def check_url(self, path: list[str | int], name: str, uri: str) -> None:
        shown = safe_url(uri)
        if len(uri) > MAX_URL_LENGTH:
            self.issue(
                path,
                f"{name} URL '{shown}' is {len(uri)} characters; the limit is {MAX_URL_LENGTH}.",
            )
            return
        try:
            parts = urlsplit(uri)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            self.issue(path, f"{name} '{shown}' is not a valid URL.")
            return
        if parts.scheme == "http" and self.allow_http_loopback and host in _LOOPBACK_HOSTS:
            self.urls.append(uri)
            return
        if parts.scheme != "https":
            self.issue(
                path,
                f"{name} '{shown}' must be an HTTPS URL, a data URI or a runway:// upload URI.",
            )
            return
        if not host or ("." not in host and host != "localhost"):
            self.issue(path, f"{name} URL '{shown}' has no valid domain host.")
            return
        if _is_ip_literal(host):
            self.issue(path, f"{name} URL '{shown}' uses an IP address; a domain name is required.")
            return
        self.urls.append(uri)

    def check_prompt_image(self, value: object, model: str | None) -> None:
        if value is None:
            self.issue(["promptImage"], "promptImage is required.")
            return
        if isinstance(value, str):
            self.check_uri(["promptImage"], value)
            return
        if not isinstance(value, list):
            self.issue(
                ["promptImage"],
                f"promptImage must be a string or an array of {{uri, position}}, "
                f"got {_describe(value)}.",
            )
            return
        if not 1 <= len(value) <= 2:
            self.issue(["promptImage"], f"promptImage must hold 1 or 2 entries, got {len(value)}.")
            return
        seen: set[str] = set()
        for index, item in enumerate(value):
            where: list[str | int] = ["promptImage", index]
            if not isinstance(item, dict):
                self.issue(where, f"promptImage[{index}] must be an object {{uri, position}}.")
                continue
            position = item.get("position")
            if position not in ("first", "last"):
                self.issue(
                    [*where, "position"],
                    f"promptImage[{index}].position must be 'first' or 'last', "
                    f"got {_describe(position)}.",
                )
            elif position in seen:
                self.issue([*where, "position"], f"promptImage position '{position}' is repeated.")
            elif position == "last" and model is not None and model not in LAST_FRAME_MODELS:
                self.issue(
                    [*where, "position"],
                    f"promptImage position 'last' is not supported by model {model}.",
                )
            if isinstance(position, str):
                seen.add(position)
            self.check_uri([*where, "uri"], item.get("uri"))


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return f"'{shown}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def validate_submit(
    body: dict[str, Any],
    upload_ready: Callable[[str], bool],
    allow_http_loopback: bool = False,
) -> ValidatedSubmit | list[Issue]:
    """Validate an image-to-video request body.

    Args:
        body: The decoded JSON object.
        upload_ready: Tells whether an upload token's file has been received.
        allow_http_loopback: Accept ``http://127.0.0.1`` / ``http://localhost`` image URLs.

    Returns:
        A :class:`ValidatedSubmit` when the body is valid, else the list of issues.
    """
    v = _Validator(upload_ready, allow_http_loopback)

    model = body.get("model")
    known_model: str | None = None
    if model is None:
        v.issue(["model"], "model is required.")
    elif not isinstance(model, str) or model not in RATIOS:
        v.issue(
            ["model"],
            f"model {_describe(model)} is not supported; expected one of {', '.join(MODELS)}.",
        )
    else:
        known_model = model

    v.check_prompt_image(body.get("promptImage"), known_model)

    ratio = body.get("ratio")
    if ratio is None:
        v.issue(["ratio"], "ratio is required.")
    elif not isinstance(ratio, str):
        v.issue(["ratio"], f"ratio must be a string like '1280:720', got {_describe(ratio)}.")
    elif known_model is not None and ratio not in RATIOS[known_model]:
        v.issue(
            ["ratio"],
            f"ratio '{ratio}' is not supported by model {known_model}; expected one of "
            f"{', '.join(RATIOS[known_model])}.",
        )

    duration = body.get("duration")
    if duration is not None:
        if not _is_int(duration):
            v.issue(["duration"], f"duration must be an integer, got {_describe(duration)}.")
        elif known_model is not None and duration not in DURATIONS[known_model]:
            allowed = ", ".join(str(d) for d in DURATIONS[known_model])
            v.issue(
                ["duration"],
                f"duration {duration} is not supported by model {known_model}; "
                f"expected one of {allowed}.",
            )

    seed = body.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed <= MAX_SEED):
        v.issue(["seed"], f"seed must be an integer from 0 to {MAX_SEED}, got {_describe(seed)}.")

    text = body.get("promptText")
    if text is None:
        if known_model in PROMPT_TEXT_REQUIRED:
            v.issue(["promptText"], f"promptText is required for model {known_model}.")
    elif not isinstance(text, str):
        v.issue(["promptText"], f"promptText must be a string, got {_describe(text)}.")
    else:
        units = prompt_text_units(text)
        if units > MAX_PROMPT_TEXT_UNITS:
            v.issue(
                ["promptText"],
                f"promptText is {units} UTF-16 code units long; the limit is "
                f"{MAX_PROMPT_TEXT_UNITS}.",
            )
        elif not text.strip() and known_model in PROMPT_TEXT_REQUIRED:
            v.issue(["promptText"], f"promptText must not be empty for model {known_model}.")

    moderation = body.get("contentModeration")
    if moderation is not None:
        if not isinstance(moderation, dict):
            v.issue(
                ["contentModeration"],
                f"contentModeration must be an object, got {_describe(moderation)}.",
            )
        else:
            threshold = moderation.get("publicFigureThreshold")
            if threshold is not None and threshold not in ("auto", "low"):
                v.issue(
                    ["contentModeration", "publicFigureThreshold"],
                    "contentModeration.publicFigureThreshold must be 'auto' or 'low', "
                    f"got {_describe(threshold)}.",
                )

    if v.issues or known_model is None:
        return v.issues
    final_duration = duration if isinstance(duration, int) else DEFAULT_DURATION[known_model]
    fail_code = None
    if isinstance(text, str):
        trigger = _FAIL_TRIGGER.search(text)
        if trigger is not None:
            fail_code = trigger.group(1)
    return ValidatedSubmit(
        model=known_model,
        duration=final_duration,
        credits=CREDITS_PER_SECOND[known_model] * final_duration,
        urls_to_fetch=v.urls,
        fail_code=fail_code,
    )
