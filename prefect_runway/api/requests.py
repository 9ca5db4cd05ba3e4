"""A request for any task endpoint, checked by the SDK's own field tables before it is paid.

`GenerationRequest` names an endpoint (``text_to_video``, ``video_to_video``,
``generate/video``, ``recipes/product_ad``, ...) and its body in the API's field names
(camelCase; snake_case is accepted and renamed). It is checked when built, by the rules
``make update-models`` generates from runwayml 5.24.0's ``*_create_params.py``
(`prefect_runway.api.endpoints`): the variant selector (``model`` or ``mode``), required
fields, types, allowed values, ranges, ``promptText``'s length in UTF-16 units and every
media URI (https on a domain host, ``runway://``, base64 data URIs within their media
type's limit). ``image_to_video`` keeps its own, stricter model (`ImageToVideoRequest`,
with per-model ratios and durations): a `GenerationRequest` for it is checked by that
model, so both spellings reach the same task and the same ledger record.

The emulator reads the same table with its own code; ``tests/test_contract.py`` pins the
two readings to the same verdicts.

Example:
    ```python
    from prefect_runway.api.requests import GenerationRequest

    request = GenerationRequest(
        endpoint="text_to_video",
        body={"model": "veo3.1_fast", "prompt_text": "a red kite over the sea",
              "ratio": "1280:720", "duration": 4},
    )
    print(request.path, request.model, request.body["promptText"])
    ```
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from prefect_runway.api import limits
from prefect_runway.api.endpoints import ENDPOINTS
from prefect_runway.api.models import (
    ImageToVideoRequest,
    check_image_uri,
    parse_data_uri,
    redact_url,
    utf16_length,
)
from prefect_runway.errors import validation_messages

IMAGE_TO_VIDEO = "image_to_video"
ENDPOINT_NAMES: tuple[str, ...] = (IMAGE_TO_VIDEO, *(p.removeprefix("/v1/") for p in ENDPOINTS))
"""Every task endpoint of SDK 5.24.0, by the name `GenerationRequest.endpoint` takes."""

_DATA_URI_LIMITS = {
    "video": limits.MAX_VIDEO_DATA_URI_CHARS,
    "audio": limits.MAX_AUDIO_DATA_URI_CHARS,
}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
    "string_or_array": (str, list),
}


def endpoint_name(value: str) -> str:
    """The endpoint's canonical name: ``/v1/text_to_video``, ``text-to-video`` and
    ``TextToVideo``-free spellings become ``text_to_video``.

    Raises:
        ValueError: for an endpoint SDK 5.24.0 does not have, listing the close ones.
    """
    if not isinstance(value, str):
        raise ValueError(f"endpoint must be a string, got {type(value).__name__}")
    name = value.strip().removeprefix("/").removeprefix("v1/").replace("-", "_").lower()
    if name in ENDPOINT_NAMES:
        return name
    import difflib

    close = difflib.get_close_matches(name, ENDPOINT_NAMES, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ValueError(
        f"endpoint {value!r} is not a Runway task endpoint (SDK 5.24.0).{hint} Known: "
        f"{', '.join(ENDPOINT_NAMES)}."
    )


def endpoint_facts(name: str) -> dict[str, Any]:
    """The generated facts of an endpoint other than image_to_video (path, variants, ...)."""
    return ENDPOINTS["/v1/" + endpoint_name(name)]


def is_media_field(key: str) -> bool:
    """True when a string under `key` is a media URI (the rule the emulator applies too)."""
    return key == "uri" or key.endswith("Uri") or key in ("promptVideo", "promptImage")


def media_kind(key: str) -> str | None:
    """The media type a field takes by its name: ``image``, ``video``, ``audio`` or None (any)."""
    lowered = key.lower()
    for kind in ("image", "video", "audio"):
        if kind in lowered:
            return kind
    return None


def iter_assets(body: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Every media URI in `body` with its path (``promptImage``, ``references.0.uri``, ...),
    in a stable order: the inputs whose identities the ledger's key covers."""

    def walk(value: Any, path: list[str]) -> Iterator[tuple[str, str]]:
        key = path[-1] if path else ""
        if isinstance(value, str):
            parent = next((p for p in reversed(path) if not p.isdigit()), "")
            if (
                is_media_field(key)
                or (key.isdigit() and parent.startswith("reference"))
                or (key.isdigit() and is_media_field(parent))
            ):
                yield ".".join(path), value
        elif isinstance(value, Mapping):
            for name in sorted(value):
                yield from walk(value[name], [*path, str(name)])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, [*path, str(index)])

    yield from walk(body, [])


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(redact_url(value) if "://" in value or value.startswith("data:") else value)
    return repr(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _renamed(body: Mapping[str, Any], specs: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with snake_case keys that name a field in camelCase renamed (nested too)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = key if key in specs or _camel(key) not in specs else _camel(key)
        nested = specs.get(name, {}).get("fields")
        if nested and isinstance(value, Mapping):
            value = _renamed(value, nested)
        if name in out:
            raise ValueError(f"{key} and {name} are the same field; give it once")
        out[name] = value
    return out


class _Checker:
    """The table's rules over one body; collects every problem before raising."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def fields(self, path: list[str], specs: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        for key, spec in specs.items():
            value = body.get(key)
            if value is None:
                if spec.get("required"):
                    self.problems.append(f"{'.'.join([*path, key])} is required for {self.where}")
                continue
            self.value([*path, key], spec, value)

    def value(self, path: list[str], spec: Mapping[str, Any], value: Any) -> None:
        name, key, kind = ".".join(path), path[-1], spec["type"]
        if kind == "enum":
            if not any(value == v and type(value) is type(v) for v in spec["values"]):
                allowed = ", ".join(str(v) for v in spec["values"])
                self.problems.append(
                    f"{name} {_describe(value)} is not supported by {self.where}; "
                    f"expected one of {allowed}"
                )
            return
        if kind in ("integer", "integer_or_auto"):
            if kind == "integer_or_auto" and value == "auto":
                return
            if isinstance(value, bool) or not isinstance(value, int):
                extra = " or 'auto'" if kind == "integer_or_auto" else ""
                self.problems.append(f"{name} must be an integer{extra}, got {_describe(value)}")
                return
            low, high = spec.get("min"), spec.get("max")
            if (low is not None and value < low) or (high is not None and value > high):
                self.problems.append(
                    f"{name} {value} is out of range for {self.where}; expected {low} to {high}"
                )
            return
        expected = _TYPES.get(kind)
        if expected is not None and (
            not isinstance(value, expected) or (kind == "number" and isinstance(value, bool))
        ):
            shown = kind.replace("_", " ")
            article = "an" if shown[0] in "aeio" else "a"
            self.problems.append(f"{name} must be {article} {shown}, got {_describe(value)}")
            return
        if isinstance(value, str):
            if is_media_field(key):
                self.media(name, value, media_kind(key))
            elif key == "promptText" and spec.get("max_length") is not None:
                units = utf16_length(value)
                if units > spec["max_length"]:
                    self.problems.append(
                        f"{name} is {units} UTF-16 code units long; the limit is "
                        f"{spec['max_length']}"
                    )
        elif isinstance(value, dict):
            nested = spec.get("fields")
            if nested:
                self.fields(path, nested, value)
            elif isinstance(value.get("uri"), str):
                self.media(f"{name}.uri", value["uri"], media_kind(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict) and "uri" in item:
                    self.media(f"{name}.{index}.uri", item["uri"], media_kind(key))
                elif isinstance(item, str) and key.startswith("reference"):
                    self.media(f"{name}.{index}", item, media_kind(key))

    def media(self, name: str, uri: object, kind: str | None) -> None:
        if isinstance(uri, str) and _is_s3(uri):
            bucket, _, key = uri[5:].partition("/")
            if uri[:5].lower() == "s3://" and (not bucket or not key or key.endswith("/")):
                self.problems.append(f"{name} {uri!r} must name an object: s3://bucket/key")
            return  # an input to resolve before sending (`submit_generation` does)
        if isinstance(uri, str) and uri.startswith("data:"):
            data_kind = uri[5:].split("/", 1)[0].lower()
            limit = _DATA_URI_LIMITS.get(data_kind)
            if limit is not None:  # video and audio: their own, larger data-URI limit
                parsed = parse_data_uri(uri)
                if parsed is None or not parsed.is_base64:
                    self.problems.append(f"{name} data URI must be base64-encoded")
                elif len(uri) > limit:
                    self.problems.append(
                        f"{name} data URI is {len(uri)} characters; the limit is {limit} "
                        f"characters for {data_kind}: use an upload or a URL"
                    )
                return
        try:
            check_image_uri(uri, name)  # type: ignore[arg-type]  # checked: a str or refused
        except ValueError as exc:
            self.problems.append(str(exc))


class GenerationRequest(BaseModel):
    """One paid generation on any task endpoint, checked locally when built.

    Attributes:
        endpoint: The endpoint's name (`ENDPOINT_NAMES`); ``/v1/...`` and dashes accepted.
        body: The request body in the API's field names (snake_case keys are renamed to the
            camelCase field they name).

    Raises:
        pydantic.ValidationError: naming every field that breaks a rule, its value (URLs
            redacted) and what is allowed; nothing is sent.
    """

    model_config = ConfigDict(frozen=True)

    endpoint: str
    body: dict[str, Any]

    @field_validator("endpoint", mode="before")
    @classmethod
    def _endpoint(cls, value: Any) -> str:
        return endpoint_name(value)

    @model_validator(mode="after")
    def _check(self) -> GenerationRequest:
        if self.endpoint == IMAGE_TO_VIDEO:
            s3_inputs = {path: uri for path, uri in iter_assets(self.body) if _is_s3(uri)}
            checked = self.image_settings()
            object.__setattr__(self, "body", _replace(checked.to_wire(), s3_inputs))
            return self
        facts = endpoint_facts(self.endpoint)
        selector: str | None = facts["discriminator"]
        variants: dict[str, Any] = facts["variants"]
        chosen: Any = "*"
        where = self.endpoint
        if selector is not None:
            chosen = self.body.get(selector)
            if chosen is None:
                chosen = self.body.get(_snake(selector))
            if not isinstance(chosen, str) or chosen not in variants:
                given = "is required" if chosen is None else f"{_describe(chosen)} is not supported"
                raise ValueError(
                    f"{selector} {given} by {self.endpoint}; expected one of {', '.join(variants)}"
                )
            where = (
                f"model {chosen}" if selector == "model" else f"{self.endpoint} {selector} {chosen}"
            )
        specs = variants[chosen]["fields"]
        known = {**specs, **({selector: {}} if selector else {})}
        body = _renamed(self.body, known)
        unknown = [key for key in body if key not in known]
        if unknown:  # a misspelt field would be dropped by the API, and the task still paid
            import difflib

            hints = [
                f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                for key in unknown
                for close in [difflib.get_close_matches(key, known, n=1)]
            ]
            raise ValueError(
                f"{', '.join(hints)} {'is no field' if len(unknown) == 1 else 'are no fields'} "
                f"of {where}; its fields: {', '.join(sorted(known))}"
            )
        checker = _Checker(where)
        checker.fields([], specs, body)
        if checker.problems:
            raise ValueError("; ".join(checker.problems))
        object.__setattr__(self, "body", body)
        return self

    @property
    def path(self) -> str:
        """The API path the request is POSTed to, relative to the base URL."""
        return "/v1/" + self.endpoint

    @property
    def output(self) -> str:
        """What the task's outputs are: ``video``, ``image`` or ``audio``."""
        return (
            "video" if self.endpoint == IMAGE_TO_VIDEO else endpoint_facts(self.endpoint)["output"]
        )

    @property
    def model(self) -> str:
        """The model the request asks for, its usage name: the ``model`` field; the endpoint
        and its ``mode`` where a mode selects; the recipe's name; ``router`` for the Model
        Router, which chooses one itself. Daily limits and concurrency are counted by it."""
        model = self.body.get("model")
        if isinstance(model, str):
            return model
        if self.endpoint.startswith("generate/"):
            return "router"
        mode = self.body.get("mode")
        name = self.endpoint.rsplit("/", 1)[-1]
        return f"{name}:{mode}" if isinstance(mode, str) else name

    def assets(self) -> list[tuple[str, str]]:
        """Every media URI of the body with its path (`iter_assets`)."""
        return list(iter_assets(self.body))

    def with_assets(self, uris: Mapping[str, str]) -> GenerationRequest:
        """A copy with the media URIs at the given paths replaced (presigned URLs, uploads),
        checked again."""
        body = _replace(self.body, uris)
        return GenerationRequest(endpoint=self.endpoint, body=body)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body sent to Runway."""
        return dict(self.body)

    def image_to_video(self) -> ImageToVideoRequest:
        """This request as `ImageToVideoRequest` (only for the ``image_to_video`` endpoint,
        its ``s3://`` inputs resolved)."""
        if self.endpoint != IMAGE_TO_VIDEO:
            raise ValueError(f"{self.endpoint} is not image_to_video")
        unresolved = [path for path, uri in self.assets() if _is_s3(uri)]
        if unresolved:
            raise ValueError(f"{', '.join(unresolved)}: resolve s3:// inputs before sending")
        return ImageToVideoRequest.model_validate(self.body)

    def image_settings(self) -> ImageToVideoRequest:
        """The image_to_video request as checked, each ``s3://`` input stood in for by an
        HTTPS placeholder: its settings and image positions, for keys and records."""
        body = _replace(
            self.body,
            {path: _S3_PLACEHOLDER for path, uri in iter_assets(self.body) if _is_s3(uri)},
        )
        try:
            return ImageToVideoRequest.model_validate(body)
        except ValidationError as exc:  # one clean line, not a nested pydantic report
            raise ValueError("; ".join(validation_messages(exc))) from None


_S3_PLACEHOLDER = "https://s3.amazonaws.com/placeholder/input.png"


def _is_s3(uri: str) -> bool:
    """An input to resolve before sending: ``s3://`` objects and ``file://`` files."""
    return uri[:5].lower() == "s3://" or uri[:7].lower() == "file://"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _replace(value: Any, uris: Mapping[str, str], path: str = "") -> Any:
    if path in uris:
        return uris[path]
    if isinstance(value, Mapping):
        return {k: _replace(v, uris, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, uris, f"{path}.{i}" if path else str(i)) for i, v in enumerate(value)]
    return value
