"""A minimal valid body for every variant of every task endpoint, by this suite's own reading
of the generated table (required fields only, each at its first allowed value)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prefect_runway.api.endpoints import ENDPOINTS
from prefect_runway.api.requests import is_media_field, media_kind

URLS = {
    "image": "https://media.example.com/still.png",
    "video": "https://media.example.com/clip.mp4",
    "audio": "https://media.example.com/voice.wav",
    None: "https://media.example.com/clip.mp4",
}


def _value(key: str, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "enum":
        return spec["values"][0]
    if kind in ("integer", "integer_or_auto", "number"):
        return spec.get("min", 1)
    if kind == "boolean":
        return True
    if kind == "string":
        return URLS[media_kind(key)] if is_media_field(key) else "a lighthouse at dusk"
    if kind == "object":
        fields = spec.get("fields")
        return minimal(fields) if fields else {"type": "video", "uri": URLS["video"]}
    if kind in ("array", "string_or_array"):
        return [{"uri": URLS[media_kind(key)]}]
    return "x"


def minimal(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The required fields of `fields`, each with a valid value."""
    return {key: _value(key, spec) for key, spec in fields.items() if spec.get("required")}


def variant_bodies() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(endpoint, variant, body) for every variant of every endpoint but image_to_video."""
    for path, facts in ENDPOINTS.items():
        selector = facts["discriminator"]
        for name, variant in facts["variants"].items():
            body = minimal(variant["fields"])
            yield path.removeprefix("/v1/"), name, ({selector: name, **body} if selector else body)


def first_bodies() -> dict[str, dict[str, Any]]:
    """One minimal body per endpoint (its first variant)."""
    firsts: dict[str, dict[str, Any]] = {}
    for endpoint, _, body in variant_bodies():
        firsts.setdefault(endpoint, body)
    return firsts


def endpoint_table() -> str:
    """The README's endpoint table (between ``<!-- endpoints:begin -->`` and ``end``), from
    the generated data: each endpoint, its models (or modes), its inputs and what is checked
    locally."""
    from prefect_runway.api.requests import ENDPOINT_NAMES, endpoint_facts, is_media_field

    lines = [
        "| endpoint | models (or modes) | inputs | checked locally | outputs |",
        "|---|---|---|---|---|",
        "| `image_to_video` | 25 (see Models) | promptImage (first/last frames, references) "
        "| per-model ratios, durations, prompt length, image rules | video |",
    ]
    for name in ENDPOINT_NAMES[1:]:
        facts = endpoint_facts(name)
        variants = list(facts["variants"])
        selector = facts["discriminator"]
        shown = (", ".join(variants) if len(variants) <= 4
                 else f"{len(variants)}: {', '.join(variants[:3])}, ...")
        models = shown if selector == "model" else f"{selector}: {shown}" if selector else "-"
        fields: dict[str, dict] = {}
        for variant in facts["variants"].values():
            fields.update(variant["fields"])
        inputs = sorted(
            key for key, spec in fields.items()
            if is_media_field(key) or key.startswith("reference") or spec["type"] == "object"
            and key in ("character", "reference", "media", "avatar", "speech")
        )
        checks = sorted({
            "required fields" if any(s.get("required") for s in fields.values()) else "",
            "allowed values" if any(s["type"] == "enum" for s in fields.values()) else "",
            "ranges" if any("min" in s or "max" in s for s in fields.values()) else "",
            "prompt length" if any("max_length" in s for s in fields.values()) else "",
            "media URIs" if inputs else "",
        } - {""})
        lines.append(
            f"| `{name}` | {models} | {', '.join(inputs) or '-'} | "
            f"{', '.join(checks) or '-'}, unknown fields | {facts['output']} |"
        )
    return "\n".join(lines)


def mutations() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(endpoint, variant, what, body) of bodies each breaking one rule of the table: a
    required field left out, a value outside an enum, an integer out of its range, a media
    URI on plain http."""
    for endpoint, variant, body in variant_bodies():
        facts = ENDPOINTS["/v1/" + endpoint]
        fields = facts["variants"][variant]["fields"]
        for key, spec in fields.items():
            if spec.get("required") and key in body:
                yield endpoint, variant, f"no {key}", {k: v for k, v in body.items() if k != key}
            if spec["type"] == "enum":
                yield endpoint, variant, f"{key} not allowed", {**body, key: "no-such-value"}
            if spec["type"] == "integer" and spec.get("max") is not None:
                yield endpoint, variant, f"{key} too big", {**body, key: spec["max"] + 1}
            if spec["type"] == "string" and is_media_field(key):
                yield endpoint, variant, f"{key} http", {**body, key: "http://media.example.com/a"}
