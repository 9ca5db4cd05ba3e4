"""Request and response models for Runway's image-to-video API.

Every rule of the API that can be checked without a network call is checked here, before a
credit is spent, per model, from the generated rules table (`prefect_runway.api.rules`, made by
``make update-models`` from the official SDK's types). Errors name the field, the value and
what is allowed, e.g.
``ratio '1280:768' is not supported by gen4_turbo; use one of 1280:720, 720:1280, ...``.

Example:
    ```python
    from prefect_runway.api.models import ImageToVideoRequest

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
import difflib
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from typing_extensions import Self

from . import limits
from . import rules as _rules
from .dialects import Dialect, envelope_data

# Runway's input limits live in `prefect_runway.api.limits`; these names are kept for imports.
MAX_URL_LENGTH = limits.MAX_URL_LENGTH
MAX_DATA_URI_CHARS = limits.MAX_DATA_URI_CHARS
"""A data URI may be at most this many characters, the whole URI (about 3.9 MB of image)."""
MAX_DATA_URI_BYTES = MAX_DATA_URI_CHARS
"""Deprecated name of `MAX_DATA_URI_CHARS`: the limit counts the URI's characters."""
MAX_RUNWAY_URI_CHARS = limits.MAX_RUNWAY_URI_CHARS
MAX_URL_IMAGE_BYTES = limits.MAX_URL_IMAGE_BYTES
MAX_UPLOAD_BYTES = limits.MAX_UPLOAD_BYTES
MAX_PROMPT_UTF16_UNITS = limits.MAX_PROMPT_UTF16_UNITS
MAX_SEED = limits.MAX_SEED
IMAGE_CONTENT_TYPES = limits.IMAGE_CONTENT_TYPES


class FieldRule(BaseModel):
    """What one request field accepts for one model (wire name, from the rules table)."""

    model_config = ConfigDict(frozen=True)

    type: str
    """image, enum, integer, integer_or_auto, string, boolean, number, object, array,
    string_or_array or any."""
    required: bool = False
    values: tuple[Any, ...] = ()
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    """Longest accepted string, in UTF-16 code units."""

    def describe(self) -> str:
        """What the field allows, in words: ``one of 4, 6, 8``, ``an integer from 2 to 10``."""
        if self.type == "enum":
            return f"one of {_allowed(self.values)}"
        if self.type in ("integer", "integer_or_auto"):
            text = "an integer"
            if self.min is not None and self.max is not None:
                text += f" from {self.min} to {self.max}"
            elif self.min is not None:
                text += f" of at least {self.min}"
            return text + (" or 'auto'" if self.type == "integer_or_auto" else "")
        if self.type == "string" and self.max_length:
            return f"a string of at most {self.max_length} UTF-16 code units"
        return {
            "boolean": "true or false",
            "number": "a number",
            "object": "an object",
            "array": "a list",
            "string_or_array": "a URI or a list of {uri} images",
        }.get(self.type, f"a {self.type}")


class ModelRules(BaseModel):
    """What one Runway model accepts and costs; the source is the generated `rules` table.

    Example:
        ```python
        MODEL_RULES["veo3.1"].fields["duration"].values  # (4, 6, 8)
        ```
    """

    model_config = ConfigDict(frozen=True)

    name: str
    fields: dict[str, FieldRule]
    """Wire name -> rule, for every field the model accepts."""
    positions: tuple[str, ...] = ("first",)
    position_required: bool = True
    open_fields: bool = False
    """True when unknown fields pass through to the API (gen4 family); False: refused."""
    credits: float
    """Credits per second (with audio, where the model prices it)."""
    credits_no_audio: float | None = None
    default_duration: int | None = None
    max_duration: int | None = None
    price_verified: bool = False
    retired: str | None = None
    replacement: str | None = None

    @property
    def ratios(self) -> tuple[str, ...]:
        """Accepted ``ratio`` values (empty: the model takes no ratio)."""
        rule = self.fields.get("ratio")
        return tuple(rule.values) if rule else ()

    @property
    def durations(self) -> tuple[int, ...]:
        """Accepted integer durations when the table bounds them, else empty."""
        rule = self.fields.get("duration")
        if rule is None:
            return ()
        if rule.type == "enum":
            return tuple(rule.values)
        if rule.min is not None and rule.max is not None:
            return tuple(range(rule.min, rule.max + 1))
        return ()

    @property
    def prompt_text_required(self) -> bool:
        """Whether ``promptText`` is required."""
        rule = self.fields.get("promptText")
        return bool(rule and rule.required)

    @property
    def last_frame(self) -> bool:
        """Whether a ``last`` frame position is accepted."""
        return "last" in self.positions

    def credits_per_second(self, audio: bool | None = None) -> float:
        """Credits per second of output; `audio` False picks the no-audio price if any."""
        if audio is False and self.credits_no_audio is not None:
            return self.credits_no_audio
        return self.credits


def _load(name: str, raw: dict[str, Any]) -> ModelRules:
    fields = {key: FieldRule(**spec) for key, spec in raw["fields"].items()}
    return ModelRules(
        name=name,
        **{key: value for key, value in raw.items() if key != "fields"},
        fields=fields,
    )


MODEL_RULES: dict[str, ModelRules] = {name: _load(name, raw) for name, raw in _rules.MODELS.items()}
"""The official API's image-to-video models (SDK `rules.SDK_VERSION`)."""

RETIRED_MODEL_RULES: dict[str, ModelRules] = {
    name: _load(name, raw) for name, raw in _rules.RETIRED.items()
}
"""Models the official API retired; their last rules, for proxies that still serve them."""


def rules_for(model: str) -> ModelRules | None:
    """The rules of a current or retired model; None for a model the table does not know.

    Example:
        ```python
        rules_for("gen4_turbo").ratios  # ('1280:720', '720:1280', ...)
        rules_for("some_proxy_model")   # None: the server decides
        ```
    """
    return MODEL_RULES.get(model) or RETIRED_MODEL_RULES.get(model)


def suggest_model(name: str) -> str | None:
    """The known model closest to `name` (``gen4-turbo`` -> ``gen4_turbo``), or None."""
    known = [*MODEL_RULES, *RETIRED_MODEL_RULES]
    folded = {re.sub(r"[^a-z0-9.]", "", model.lower()): model for model in known}
    key = re.sub(r"[^a-z0-9.]", "", name.lower())
    if key in folded:
        return folded[key]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def check_model(model: str, dialect: Dialect | str) -> None:
    """Refuse, on the official dialect, a retired model (naming its replacement) or one the
    official API does not have (naming the closest: "did you mean"); proxies pass.

    Raises:
        ValueError: the model was retired from, or is unknown to, the official API (or
            `dialect` names no dialect).
    """
    strict = Dialect.of(dialect).known_models_only
    rules = RETIRED_MODEL_RULES.get(model)
    if rules is not None and strict:
        raise ValueError(
            f"model {model!r} was retired from Runway's official API "
            f"({rules.retired}); use {rules.replacement} instead, or a proxy that still "
            "serves it (dialect 'proxy')"
        )
    if strict and model not in MODEL_RULES:
        raise ValueError(unknown_model_message(model))


def unknown_model_message(name: str) -> str:
    """Why `name` is refused on the official dialect, with the closest known model."""
    close = suggest_model(name)
    hint = f"did you mean {close!r}? " if close else ""
    return (
        f"model {name!r} is not a model of Runway's official API (runwayml SDK "
        f"{_rules.SDK_VERSION}); {hint}allowed: {', '.join(MODEL_RULES)} (a proxy's own "
        "models: dialect 'proxy')"
    )


_DATA_URI = re.compile(
    r"^data:(?P<type>[\w.+-]+/[\w.+-]+)(?P<params>(;[^;,]*)*),(?P<data>.*)$", re.S
)


@dataclass(frozen=True)
class DataUri:
    """A data URI, read: ``data:<type>/<subtype>[;name=value]...[;base64],<payload>``.

    Attributes:
        content_type: The media type, lower-cased (``image/png``).
        parameters: The ``name=value`` parameters before the encoding, as written.
        is_base64: Whether the last parameter is ``base64`` (lower case), as Runway needs.
        payload: Everything after the first comma, not decoded.
    """

    content_type: str
    parameters: tuple[str, ...]
    is_base64: bool
    payload: str

    def decode(self) -> bytes:
        """The bytes the payload carries (strict base64: no whitespace, padding required).

        Raises:
            ValueError: the URI is not base64-encoded, or its payload is not valid base64.
        """
        if not self.is_base64:
            raise ValueError("the data URI is not base64-encoded")
        try:
            return base64.b64decode(self.payload, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the data URI does not hold valid base64 data") from None


def parse_data_uri(uri: str) -> DataUri | None:
    """Read a data URI the one way this package reads them; None when `uri` is not one.

    The one reading for the request checks, the image checks (`prefect_runway.images`) and
    the cache key (`prefect_runway.ledger.keys`). The emulator has its own, pinned equal by
    ``tests/test_contract.py``.

    Example:
        ```python
        parse_data_uri("data:image/png;base64,iVBORw0KGgo=").content_type  # 'image/png'
        parse_data_uri("https://example.com/cat.png")                     # None
        ```
    """
    match = _DATA_URI.match(uri)
    if match is None:
        return None
    params = match["params"].split(";")[1:]  # the text before the first ";" is empty
    is_base64 = bool(params) and params[-1] == limits.DATA_URI_ENCODING
    return DataUri(
        content_type=match["type"].lower(),
        parameters=tuple(params[:-1] if is_base64 else params),
        is_base64=is_base64,
        payload=match["data"],
    )


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units, the way Runway counts `promptText`.

    Example:
        ```python
        utf16_length("🎬")  # 2
        ```
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _allowed(values: tuple[Any, ...] | list[Any]) -> str:
    return ", ".join(str(v) for v in values)


def redact_url(url: str) -> str:
    """Keep ``scheme://host[:port]/path`` of a URL: user info, query and fragment go
    (presigned URLs carry credentials in the query); a data URI keeps only its header.

    The one redaction of URLs in messages; the emulator's ``safe_url`` gives the same
    without the ``?<redacted>`` marker (pinned by ``tests/test_contract.py``).

    Example:
        ```python
        redact_url("https://b.s3.amazonaws.com/k.png?X-Amz-Signature=abc")
        # 'https://b.s3.amazonaws.com/k.png?<redacted>'
        ```
    """
    if url.startswith("data:"):
        head = url.split(",", 1)[0]
        return f"{head},<{max(len(url) - len(head) - 1, 0)} chars>"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:  # a port that is no number 0-65535: shown as written
        netloc = parts.netloc.rsplit("@", 1)[-1]
    else:
        host = f"[{host}]" if ":" in host else host
        netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?<redacted>" if parts.query else "")


LOOPBACK_HOSTS = limits.LOOPBACK_HOSTS
ALLOW_LOOPBACK_ENV = limits.ALLOW_LOOPBACK_ENV


def _loopback_allowed() -> bool:
    return os.environ.get(ALLOW_LOOPBACK_ENV, "").lower() in ("1", "true", "yes")


def check_image_uri(uri: str, field: str = "prompt_image") -> str:
    """Check one image reference the way Runway will, and return it unchanged.

    Accepts an HTTPS URL on a domain host (a name with a dot, no IP literal, at most 2048
    characters), a base64 data URI of a JPEG, PNG or WebP image of at most 5,242,880
    characters (the whole URI), or a ``runway://`` upload URI of at most 5,000 characters
    (`prefect_runway.api.limits`). With ``PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS=1`` (local runs
    against the emulator and moto only; Runway itself never accepts them), http and https
    URLs on 127.0.0.1, localhost and [::1] pass too.

    Raises:
        ValueError: naming the field, the (redacted) value and what is allowed.
    """
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"{field} must be a non-empty string")
    if uri.startswith(f"{limits.UPLOAD_URI_SCHEME}://"):
        if len(uri) <= len("runway://"):
            raise ValueError(f"{field} {uri!r} is not a valid runway:// upload URI")
        if len(uri) > MAX_RUNWAY_URI_CHARS:
            raise ValueError(
                f"{field} runway:// URI is {len(uri)} characters long; Runway accepts at most "
                f"{MAX_RUNWAY_URI_CHARS}"
            )
        return uri
    if uri.startswith("data:"):
        return _check_data_uri(uri, field)
    shown = redact_url(uri)
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a port that is no number 0-65535
    except ValueError:
        raise ValueError(f"{field} {shown!r} is not a valid URL") from None
    if len(uri) > MAX_URL_LENGTH:
        raise ValueError(
            f"{field} URL is {len(uri)} characters long; Runway accepts at most {MAX_URL_LENGTH}"
        )
    loopback = host in LOOPBACK_HOSTS
    if loopback and parts.scheme in limits.LOOPBACK_SCHEMES and _loopback_allowed():
        return uri  # local runs only: S3 (moto) and the emulator on this machine
    if parts.scheme not in limits.URL_SCHEMES:
        raise ValueError(
            f"{field} {shown!r} must be an https:// URL, a data:image/...;base64 URI or a "
            f"runway:// upload URI (got scheme {parts.scheme or 'none'!r})"
        )
    if not host:
        raise ValueError(f"{field} {shown!r} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise ValueError(
            f"{field} {shown!r} uses an IP address host ({host}); Runway requires a domain name"
            + (f" (loopback URLs need {ALLOW_LOOPBACK_ENV}=1, local runs only)" * loopback)
        )
    if "." not in host.strip("."):
        raise ValueError(
            f"{field} {shown!r} has no domain host ({host}); Runway requires "
            f"{limits.URL_HOST_RULE}"
            + (f" (loopback URLs need {ALLOW_LOOPBACK_ENV}=1, local runs only)" * loopback)
        )
    return uri


def _check_data_uri(uri: str, field: str) -> str:
    parsed = parse_data_uri(uri)
    if parsed is None:
        raise ValueError(f"{field} {redact_url(uri)!r} is not a valid data URI")
    content_type = parsed.content_type
    if content_type not in IMAGE_CONTENT_TYPES:
        raise ValueError(
            f"{field} data URI has content type {content_type!r}; "
            f"use one of {_allowed(IMAGE_CONTENT_TYPES)}"
        )
    if not parsed.is_base64:
        raise ValueError(
            f"{field} data URI must be base64-encoded (data:{content_type};base64,...)"
        )
    if len(uri) > MAX_DATA_URI_CHARS:
        raise ValueError(
            f"{field} data URI is {len(uri)} characters long; Runway accepts at most "
            f"{MAX_DATA_URI_CHARS} characters (the whole URI, about 3.9 MB of image): use an "
            "upload or a URL for larger images"
        )
    try:
        data = parsed.decode()
    except ValueError:
        raise ValueError(f"{field} data URI does not hold valid base64 data") from None
    if not data:
        raise ValueError(f"{field} data URI holds no image data (an empty payload)")
    return uri


class _WireModel(BaseModel):
    """Pythonic names in code, the API's camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, hide_input_in_errors=True
    )


class PromptImage(_WireModel):
    """One image of a multi-image prompt: ``{"uri": ..., "position": "first" | "last"}``.

    ``position=None`` makes it a reference image (seedance2*, hailuo3, wan3*, kling_4).
    """

    uri: str
    position: Literal["first", "last"] | None = "first"

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        return check_image_uri(value, "prompt_image.uri")


class ReferenceImage(_WireModel):
    """A reference image (``references``: kling_4, klingO3_*), optionally a keyframe."""

    uri: str
    position: Literal["first", "last"] | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        return check_image_uri(value, "references.uri")


class MediaReference(_WireModel):
    """An audio or video reference (``referenceAudio``, ``referenceVideos``)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="allow",
        hide_input_in_errors=True,
    )

    type: Literal["audio", "video"] | None = None
    uri: str | None = None


class MultiPrompt(_WireModel):
    """One segment of a multishot generation (kling models' ``providerSettings``)."""

    duration: int
    prompt: str


class ProviderSettings(_WireModel):
    """Kling multishot settings: ``{"multiPrompt": [...], "shotType": ...}``."""

    multi_prompt: list[MultiPrompt] | None = None
    shot_type: Literal["intelligence", "customize"] | None = None


class ContentModeration(_WireModel):
    """Content moderation settings (gen4.5 and gen4_turbo only)."""

    public_figure_threshold: Literal["auto", "low"] = "auto"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _value_ok(rule: FieldRule, value: Any) -> bool:
    """Whether `value` fits `rule` (type, allowed values, range); lengths are checked apart."""
    kind = rule.type
    if kind == "enum":
        return any(value == v and type(value) is type(v) for v in rule.values)
    if kind in ("integer", "integer_or_auto"):
        if kind == "integer_or_auto" and value == "auto":
            return True
        if not _is_int(value):
            return False
        low = 1 if rule.min is None and rule.max is None else rule.min
        return (low is None or value >= low) and (rule.max is None or value <= rule.max)
    checks: dict[str, Any] = {
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string_or_array": lambda v: isinstance(v, (str, list)),
    }
    check = checks.get(kind)
    return check(value) if check else True


def _check_rules(settings: GenerationSettings, rules: ModelRules, wire: dict[str, Any]) -> None:
    """Check a request's wire body against one model's rules; raise ValueError on the first."""
    model = rules.name
    names = settings.python_names()

    def name(key: str) -> str:
        return names.get(key, key)

    if not rules.open_fields:
        unknown = [key for key in wire if key not in rules.fields and key != "model"]
        if unknown:
            accepted = ", ".join(name(key) for key in rules.fields)
            raise ValueError(
                f"{name(unknown[0])} is not accepted by {model} (it refuses unknown fields); "
                f"it accepts {accepted}"
            )
    for key, rule in rules.fields.items():
        if key == "promptImage" and "promptImage" not in wire:
            continue  # settings without an image yet
        value = wire.get(key)
        if value is None:
            if rule.required:
                raise ValueError(f"{name(key)} is required by {model}; use {rule.describe()}")
            continue
        if rule.type == "image":
            continue  # checked by ImageToVideoRequest
        if not _value_ok(rule, value):
            raise ValueError(
                f"{name(key)} {value!r} is not supported by {model}; use {rule.describe()}"
            )
        if rule.type == "string" and rule.required and not value.strip():
            raise ValueError(f"{name(key)} is required by {model} and must not be empty")
        if rule.max_length is not None and isinstance(value, str):
            units = utf16_length(value)
            if units > rule.max_length:
                raise ValueError(
                    f"{name(key)} is {units} UTF-16 code units long; {model} accepts at most "
                    f"{rule.max_length} (emoji and other astral characters count as 2)"
                )


def _check_positions(model: str, rules: ModelRules | None, images: list[PromptImage]) -> None:
    positions = [image.position for image in images]
    given = [p for p in positions if p is not None]
    if given.count("first") > 1 or given.count("last") > 1:
        raise ValueError(
            f"prompt_image positions {positions} repeat; give at most one 'first' and one 'last'"
        )
    if rules is None:
        return  # a proxy's own model: the server decides the rest
    most = limits.MAX_KEYFRAME_IMAGES if rules.position_required else limits.MAX_PROMPT_IMAGES
    if len(images) > most:
        raise ValueError(
            f"prompt_image holds {len(images)} images; {model} takes at most {most}"
            + (" (a first and a last frame)" if rules.position_required else "")
        )
    if None in positions and rules.position_required:
        raise ValueError(
            f"prompt_image position None (a reference image) is not supported by {model}; "
            f"use one of {_allowed(rules.positions)}"
        )
    if given and len(given) != len(positions):
        raise ValueError(
            f"prompt_image positions {positions} mix keyframes and reference images; {model} "
            "takes either first/last frames or images without a position"
        )
    for position in given:
        if position not in rules.positions:
            allowed = " or ".join(repr(p) for p in rules.positions)
            raise ValueError(
                f"prompt_image position {position!r} is not supported by {model}; "
                f"only {allowed} {'is' if len(rules.positions) == 1 else 'are'} allowed"
            )
    if "last" in given and "first" not in given:
        raise ValueError(
            f"prompt_image has a 'last' frame without a 'first' one; {model} needs a first frame"
        )


class GenerationSettings(_WireModel):
    """Everything about a generation except the image: model, ratio, duration, prompt...

    Checked against the model's rules (the generated `prefect_runway.api.rules` table) on
    creation, so a batch fails before any listing, upload or credit. A model the table does
    not know (a proxy's own) gets only the checks that hold for every model. Unknown keyword
    arguments (such as the seed's ``watermark``) are passed to the API as they are, never
    silently dropped, except to models that refuse unknown fields (veo3.1 and the partner
    models), where they fail here instead of as a 400.

    Example:
        ```python
        settings = GenerationSettings(model="gen4_turbo", ratio="1280:720", duration=5)
        request = settings.for_image("https://example.com/cat.png")
        GenerationSettings(model="veo3.1", ratio="1280:720", duration=8, audio=False)
        GenerationSettings(model="seedance2", duration="auto", ratio="1280:720")
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
    ratio: str | None = None
    seed: int | None = None
    prompt_text: str | None = None
    duration: int | Literal["auto"] | None = None
    content_moderation: ContentModeration | None = None
    resolution: str | None = None
    audio: bool | None = None
    negative_prompt: str | None = None
    references: str | list[ReferenceImage] | None = None
    reference_audio: list[MediaReference] | None = None
    reference_videos: list[MediaReference] | None = None
    provider_settings: ProviderSettings | None = None
    cfg_scale: float | None = None
    output_format: str | None = None
    prores_profile: str | None = None
    prompt_expansion_mode: str | None = None
    draft: bool | None = None

    @field_validator("seed")
    @classmethod
    def _check_seed(cls, value: int | None) -> int | None:
        if value is not None and not limits.MIN_SEED <= value <= MAX_SEED:
            raise ValueError(
                f"seed {value} is out of range; use an integer {limits.MIN_SEED}..{MAX_SEED}"
            )
        return value

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"duration {value} must be a positive number of seconds or 'auto'")
        return value

    @classmethod
    def python_names(cls) -> dict[str, str]:
        """Wire name -> Python field name, for messages that use the names users write."""
        return {"promptImage": "prompt_image", **{to_camel(n): n for n in cls.model_fields}}

    @property
    def rules(self) -> ModelRules | None:
        """This model's rules, or None for a model the table does not know."""
        return rules_for(self.model)

    @model_validator(mode="after")
    def _check_model_rules(self) -> Self:
        rules = self.rules
        if rules is not None:
            _check_rules(self, rules, self.to_wire())
        return self

    def check_dialect(self, dialect: Dialect | str) -> Self:
        """Refuse, on the official dialect, a retired model (naming its replacement) or a model
        the official API does not have (with the closest name: "did you mean").

        Proxies (``dialect="proxy"``) may serve retired models and models of their own, so
        they pass. Every paying path calls this before fetching an image or writing an intent.

        Raises:
            ValueError: the model was retired from, or is unknown to, the official API.

        Example:
            ```python
            try:
                GenerationSettings(model="veo3", ratio="1280:720").check_dialect("runway")
            except ValueError as exc:
                print(exc)  # model 'veo3' was retired from Runway's official API ...
            ```
        """
        check_model(self.model, dialect)
        return self

    @property
    def effective_duration(self) -> int:
        """Seconds the API will generate (or bill up front, for ``"auto"``).

        The given duration, else the model's default; ``"auto"`` counts as the model's
        maximum, which Runway bills up front and partly refunds.
        """
        rules = self.rules
        if isinstance(self.duration, int):
            return self.duration
        if rules is None:
            return 10
        if self.duration == "auto":
            return rules.max_duration or rules.default_duration or 10
        return rules.default_duration or rules.max_duration or 10

    def estimated_credits(self) -> float | None:
        """Credits this generation should cost at most, or None for a model of unknown price.

        Price per second (audio-dependent for veo3.1 and veo3.1_fast) times
        `effective_duration`. A budget figure: the submit answer's ``estimatedCost`` is the
        one to record.

        Example:
            ```python
            GenerationSettings(model="gen4_turbo", ratio="1280:720").estimated_credits()  # 50
            ```
        """
        rules = self.rules
        if rules is None:
            return None
        return rules.credits_per_second(self.audio) * self.effective_duration

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
            if isinstance(prompt_image, str)  # position None kept: a reference stays one
            else [{"uri": item.uri, "position": item.position} for item in prompt_image]
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

    @field_validator("prompt_image", mode="before")
    @classmethod
    def _read_positions(cls, value: Any, info: ValidationInfo) -> Any:
        """Read a wire list as Runway does: an image without a ``position`` is a reference
        image for the models whose positions are optional (seedance2*, hailuo3, wan3*,
        kling_4). For the others a missing position still means ``first``, as
        `PromptImage`'s default, and what is sent carries it."""
        model = info.data.get("model")
        rules = rules_for(model) if isinstance(model, str) else None
        if not isinstance(value, list) or rules is None or rules.position_required:
            return value
        return [
            {**item, "position": None} if isinstance(item, dict) and "position" not in item
            else item
            for item in value
        ]  # fmt: skip

    @field_validator("prompt_image")
    @classmethod
    def _check_prompt_image(cls, value: str | list[PromptImage]) -> str | list[PromptImage]:
        if isinstance(value, str):
            return check_image_uri(value)
        if not value:
            raise ValueError("prompt_image list must hold at least one {uri, position} image")
        return value

    @model_validator(mode="after")
    def _check_frames(self) -> Self:
        if isinstance(self.prompt_image, list):
            _check_positions(self.model, self.rules, self.prompt_image)
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
    """A creation time in epoch seconds, milli-, micro- or nanoseconds (told apart by size:
    any date from 1973 to 5138 reads right) or ISO 8601; None when it cannot be read."""
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        for _ in range(3):  # ns -> us -> ms -> s
            if abs(seconds) < 1e11:
                break
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def _task_id(value: Any) -> str | None:
    """A task ID as sent (a non-empty string or an integer), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.strip()):
        return str(value).strip()
    return None


_READ_FIELDS = {"id", "task_id", "taskId", "status", "state", "task_status", "createdAt",
                "created_at", "estimatedCost", "request_id", "code", "message", "data"}  # fmt: skip


def _credits(cost: Any) -> float | None:
    """``estimatedCost.credits`` as a number, or None when absent or not a number."""
    value = cost.get("credits") if isinstance(cost, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


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
    extra: dict[str, Any] = Field(default_factory=dict)
    """Fields of the answer this client does not read, kept as sent (e.g. a proxy's own)."""

    @property
    def estimated_cost_credits(self) -> float | None:
        """The answer's ``estimatedCost.credits``: the most the task may charge (None: not sent).

        Same value as `estimated_credits`; the name says where it comes from.
        """
        return self.estimated_credits

    @classmethod
    def from_response(cls, body: Any) -> SubmittedTask:
        """Parse a submit response body: the task ID first, then the rest leniently.

        A field that cannot be read (a timestamp in an unexpected unit, a status no one
        knows) is left unset instead of losing the ID; fields this client does not read are
        kept in `extra`.

        Raises:
            ValueError: when the body holds no task ID in any known shape.
        """
        if not isinstance(body, dict):
            raise ValueError(f"expected a JSON object, got {type(body).__name__}")
        inner = envelope_data(body) or {}  # a proxy's {code, data: {...}}
        task_id = next(
            (found for found in map(_task_id, (inner.get("task_id"), inner.get("id"),
             inner.get("taskId"))) if found),
            None,
        ) if inner else None  # fmt: skip
        fields = inner if task_id else body
        task_id = task_id or _task_id(body.get("id")) or _task_id(body.get("task_id"))
        if not task_id:
            raise ValueError(f"no task id in the response (keys: {sorted(map(str, body))})")
        request_id = body.get("request_id")
        extra = {k: v for k, v in fields.items() if k not in _READ_FIELDS}
        if fields is inner:
            extra.update({k: v for k, v in body.items() if k not in _READ_FIELDS})
        return cls(
            id=task_id,
            status=_parse_status(
                fields.get("task_status") or fields.get("status") or fields.get("state")
            ),
            created_at=_parse_time(fields.get("createdAt") or fields.get("created_at")),
            estimated_credits=_credits(fields.get("estimatedCost")),
            request_id=None if request_id is None else str(request_id),
            extra=extra,
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


class UsageCredits(_WireModel):
    """One model's net credits on one UTC day of `OrganizationUsage`."""

    model: str
    amount: float
    """Net credits (refunds netted in: may be negative)."""


class UsageDay(_WireModel):
    """One UTC day of `OrganizationUsage`: net credits per model."""

    date: date
    used_credits: list[UsageCredits] = Field(default_factory=list)


class OrganizationUsage(_WireModel):
    """`POST /v1/organization/usage`: the whole API project's net credits per UTC day and
    model (refunds netted in), for the days asked for.

    Example:
        >>> usage = OrganizationUsage.model_validate({"models": ["gen4_turbo"], "results": [
        ...     {"date": "2026-03-02", "usedCredits": [{"model": "gen4_turbo", "amount": 50}]}]})
        >>> usage.credits()
        {(datetime.date(2026, 3, 2), 'gen4_turbo'): 50.0}
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )

    models: list[str] = Field(default_factory=list)
    results: list[UsageDay] = Field(default_factory=list)

    def credits(self) -> dict[tuple[date, str], float]:
        """Net credits by (UTC day, model), summed should a day list a model twice."""
        found: dict[tuple[date, str], float] = {}
        for day in self.results:
            for used in day.used_credits:
                found[(day.date, used.model)] = found.get((day.date, used.model), 0) + used.amount
        return found
