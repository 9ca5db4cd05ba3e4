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

from . import rules as RULES

MODELS: tuple[str, ...] = tuple(RULES.MODELS)
"""The official API's image-to-video models, as the emulator's own table lists them."""

RETIRED_MODELS: tuple[str, ...] = tuple(RULES.RETIRED)
"""Retired from the official API (refused there with the replacement named); proxy only."""


def _rules(model: str) -> dict[str, Any]:
    return RULES.MODELS.get(model) or RULES.RETIRED[model]


MAX_URL_LENGTH = 2048
MAX_DATA_URI_CHARS = 5_242_880
MAX_RUNWAY_URI_CHARS = 5000
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
            if len(uri) > MAX_RUNWAY_URI_CHARS:
                self.issue(
                    path,
                    f"{name} runway:// URI is {len(uri)} characters; the limit is "
                    f"{MAX_RUNWAY_URI_CHARS}.",
                )
                return
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
        if len(uri) > MAX_DATA_URI_CHARS:
            self.issue(
                path,
                f"{name} data URI is {len(uri)} characters; the limit is "
                f"{MAX_DATA_URI_CHARS} characters for the whole URI.",
            )
            return
        try:
            base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            self.issue(path, f"{name} data URI ({match.group(1)}) is not valid base64.")

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
        rules = _rules(model) if model is not None else None
        strict = rules is None or rules["position_required"]
        limit = 2 if strict else 16
        if not 1 <= len(value) <= limit:
            self.issue(
                ["promptImage"], f"promptImage must hold 1 to {limit} entries, got {len(value)}."
            )
            return
        allowed = rules["positions"] if rules is not None else ["first", "last"]
        seen: list[str] = []
        without = 0
        for index, item in enumerate(value):
            where: list[str | int] = ["promptImage", index]
            if not isinstance(item, dict):
                self.issue(where, f"promptImage[{index}] must be an object {{uri, position}}.")
                continue
            position = item.get("position")
            if position is None and not strict:
                without += 1
            elif position not in ("first", "last"):
                self.issue(
                    [*where, "position"],
                    f"promptImage[{index}].position must be 'first' or 'last', "
                    f"got {_describe(position)}.",
                )
            elif position in seen:
                self.issue([*where, "position"], f"promptImage position '{position}' is repeated.")
            elif position not in allowed:
                self.issue(
                    [*where, "position"],
                    f"promptImage position '{position}' is not supported by model {model}.",
                )
            if isinstance(position, str):
                seen.append(position)
            self.check_uri([*where, "uri"], item.get("uri"))
        if without and seen:
            self.issue(
                ["promptImage"],
                "promptImage cannot mix keyframes (first/last) with reference images "
                "(no position).",
            )
        elif "last" in seen and "first" not in seen and "last" in allowed:
            self.issue(["promptImage"], "promptImage has a 'last' frame but no 'first' frame.")

    def check_references(self, value: object) -> None:
        if isinstance(value, str):
            self.check_uri(["references"], value)
            return
        if not isinstance(value, list):
            self.issue(["references"], f"references must be a string or an array, got "
                       f"{_describe(value)}.")
            return
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                self.issue(["references", index], f"references[{index}] must be an object.")
                continue
            self.check_uri(["references", index, "uri"], item.get("uri"))

    def check_field(self, model: str, key: str, spec: dict[str, Any], value: object) -> None:
        """Check one field against the model's spec (the emulator's own table)."""
        kind = spec["type"]
        if kind == "image":
            return
        if kind == "enum":
            if not any(value == v and type(value) is type(v) for v in spec["values"]):
                allowed = ", ".join(str(v) for v in spec["values"])
                self.issue(
                    [key],
                    f"{key} {_describe(value)} is not supported by model {model}; "
                    f"expected one of {allowed}.",
                )
            return
        if kind in ("integer", "integer_or_auto"):
            if kind == "integer_or_auto" and value == "auto":
                return
            if not _is_int(value):
                extra = " or 'auto'" if kind == "integer_or_auto" else ""
                self.issue([key], f"{key} must be an integer{extra}, got {_describe(value)}.")
                return
            assert isinstance(value, int)
            low = spec.get("min", 1 if "max" not in spec else None)
            high = spec.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                if key == "seed":
                    self.issue(
                        [key], f"seed must be an integer from 0 to {MAX_SEED}, got {value}."
                    )
                else:
                    bounds = f"from {low} to {high}" if high is not None else f">= {low}"
                    self.issue(
                        [key],
                        f"{key} {value} is not supported by model {model}; expected an "
                        f"integer {bounds}.",
                    )
            return
        expected = {
            "string": (str,), "boolean": (bool,), "number": (int, float), "object": (dict,),
            "array": (list,),
        }.get(kind)
        if expected is not None:
            wrong_bool = kind == "number" and isinstance(value, bool)
            if not isinstance(value, expected) or wrong_bool:
                article = "an" if kind[0] in "aeio" else "a"
                self.issue([key], f"{key} must be {article} {kind}, got {_describe(value)}.")
                return
        if key == "promptText" and isinstance(value, str):
            self.check_prompt_text(model, spec, value)
        elif key == "references":
            self.check_references(value)
        elif key == "contentModeration" and isinstance(value, dict):
            threshold = value.get("publicFigureThreshold")
            if threshold is not None and threshold not in ("auto", "low"):
                self.issue(
                    ["contentModeration", "publicFigureThreshold"],
                    "contentModeration.publicFigureThreshold must be 'auto' or 'low', "
                    f"got {_describe(threshold)}.",
                )

    def check_prompt_text(self, model: str, spec: dict[str, Any], text: str) -> None:
        units = prompt_text_units(text)
        limit = spec.get("max_length")
        if limit is not None and units > limit:
            self.issue(
                ["promptText"],
                f"promptText is {units} UTF-16 code units long; the limit is {limit}.",
            )
        elif not text.strip() and spec.get("required"):
            self.issue(["promptText"], f"promptText must not be empty for model {model}.")


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
    dialect: str = "runway",
) -> ValidatedSubmit | list[Issue]:
    """Validate an image-to-video request body.

    Args:
        body: The decoded JSON object.
        upload_ready: Tells whether an upload token's file has been received.
        allow_http_loopback: Accept ``http://127.0.0.1`` / ``http://localhost`` image URLs.
        dialect: ``"runway"`` refuses retired models; ``"proxy"`` still serves them.

    Returns:
        A :class:`ValidatedSubmit` when the body is valid, else the list of issues.
    """
    v = _Validator(upload_ready, allow_http_loopback)

    model = body.get("model")
    known_model: str | None = None
    if model is None:
        v.issue(["model"], "model is required.")
    elif isinstance(model, str) and model in RETIRED_MODELS and dialect == "runway":
        retired = RULES.RETIRED[model]
        v.issue(
            ["model"],
            f"model '{model}' was retired ({retired['retired']}); use "
            f"{retired['replacement']} instead.",
        )
    elif not isinstance(model, str) or model not in MODELS + RETIRED_MODELS:
        v.issue(
            ["model"],
            f"model {_describe(model)} is not supported; expected one of {', '.join(MODELS)}.",
        )
    else:
        known_model = model

    v.check_prompt_image(body.get("promptImage"), known_model)
    if known_model is None:
        return v.issues

    rules = _rules(known_model)
    specs: dict[str, dict[str, Any]] = rules["fields"]
    for key, spec in specs.items():
        value = body.get(key)
        if value is None:
            if spec.get("required") and key != "promptImage":
                if key == "promptText":
                    v.issue([key], f"promptText is required for model {known_model}.")
                else:
                    v.issue([key], f"{key} is required for model {known_model}.")
            continue
        v.check_field(known_model, key, spec, value)
    if not rules["open_fields"]:
        for key in body:
            if key not in specs and key != "model":
                v.issue([key], f"Unrecognized key '{key}' for model {known_model}.")

    if v.issues:
        return v.issues
    duration = body.get("duration")
    if isinstance(duration, int):
        final_duration = duration
    elif duration == "auto":
        final_duration = rules.get("max_duration") or 10
    else:
        final_duration = rules.get("default_duration") or rules.get("max_duration") or 10
    per_second = rules["credits"]
    if body.get("audio") is False and rules.get("credits_no_audio") is not None:
        per_second = rules["credits_no_audio"]
    fail_code = None
    text = body.get("promptText")
    if isinstance(text, str):
        trigger = _FAIL_TRIGGER.search(text)
        if trigger is not None:
            fail_code = trigger.group(1)
    return ValidatedSubmit(
        model=known_model,
        duration=final_duration,
        credits=int(per_second * final_duration),
        urls_to_fetch=v.urls,
        fail_code=fail_code,
    )
