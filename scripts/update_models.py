"""Regenerate the per-model rules tables from the official SDK's type file.

``make update-models`` runs this script, which lives outside the package (the wheel never
ships it). It reads ``src/runwayml/types/image_to_video_create_params.py`` from a
``runwayml`` sdist (downloaded with ``pip download`` unless ``--source`` names a type file),
extracts each model's fields, required fields, allowed values, ranges, prompt lengths and
frame positions, merges the facts the type file does not hold (prices, default durations,
retired models: `FACTS` below) and writes the table, as plain data, to
``prefect_runway/api/rules.py`` and the README's model table. The client's models and the
emulator's validation each read these facts with their own code.

The output is reviewed and committed like code; tests never run this module.

Example:
    ```bash
    python scripts/update_models.py --version 5.24.0
    python scripts/update_models.py --source /tmp/image_to_video_create_params.py
    ```
"""

from __future__ import annotations

import argparse
import ast
import pprint
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from prefect_runway.api import limits  # the published limits (the seed's range)

TYPE_FILE = "src/runwayml/types/image_to_video_create_params.py"
DEFAULT_SDK_VERSION = "5.24.0"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "prefect_runway" / "api" / "rules.py"  # prefect_runway/rules.py is an alias

# Facts the SDK's type file does not hold, kept here and reviewed with the output.
# credits: credits per second of output (1 credit = 0.01 USD); with audio where it matters.
# credits_no_audio: credits per second when ``audio`` is false (the model prices audio).
# default_duration: seconds generated when ``duration`` is omitted (estimates only).
# max_duration: seconds billed up front for ``duration: "auto"``.
# open_fields: the model passes unknown fields through (no ``additionalProperties: false``).
# fields: per-field additions to the SDK's spec (a range the type file only states in docs).
# price_verified: False marks a budget figure not confirmed by Runway's price list: the submit
#   answer's ``estimatedCost.credits`` is the price to record.
FACTS: dict[str, dict[str, Any]] = {
    "gen4.5": {"credits": 12, "max_duration": 10, "open_fields": True, "price_verified": True},
    "gen4_turbo": {
        "credits": 5,
        "default_duration": 10,
        "max_duration": 10,
        "open_fields": True,
        "price_verified": True,
        "fields": {"duration": {"min": 2, "max": 10}},
    },
    "veo3.1": {
        "credits": 40,
        "credits_no_audio": 20,
        "default_duration": 8,
        "max_duration": 8,
        "price_verified": True,
    },
    "veo3.1_fast": {
        "credits": 15,
        "credits_no_audio": 10,
        "default_duration": 8,
        "max_duration": 8,
        "price_verified": True,
    },
    "klingO3_4k": {"credits": 60, "default_duration": 5, "max_duration": 15},
    "klingO3_pro": {"credits": 30, "default_duration": 5, "max_duration": 15},
    "klingO3_standard": {"credits": 20, "default_duration": 5, "max_duration": 15},
    "kling3.0_4k": {"credits": 60, "default_duration": 5, "max_duration": 15},
    "kling3.0_pro": {"credits": 30, "default_duration": 5, "max_duration": 15},
    "kling3.0_standard": {"credits": 20, "default_duration": 5, "max_duration": 15},
    "kling2.5_turbo_pro": {"credits": 15, "default_duration": 5, "max_duration": 10},
    "kling_4": {"credits": 30, "default_duration": 5, "max_duration": 15},
    "hailuo3": {"credits": 20, "default_duration": 6, "max_duration": 10},
    "h3_max": {"credits": 20, "default_duration": 6, "max_duration": 10},
    "happyhorse_1_0": {"credits": 20, "default_duration": 5, "max_duration": 15},
    "seedance2": {"credits": 30, "default_duration": 5, "max_duration": 15},
    "seedance2_fast": {"credits": 15, "default_duration": 5, "max_duration": 15},
    "seedance2_mini": {"credits": 10, "default_duration": 5, "max_duration": 15},
    "seedance2_5": {"credits": 30, "default_duration": 5, "max_duration": 15},
    "gemini_omni_flash": {"credits": 20, "default_duration": 8, "max_duration": 10},
    "gemini_omni_flash_1.1": {"credits": 20, "default_duration": 8, "max_duration": 10},
    "grok_imagine_1_5": {"credits": 10, "default_duration": 6, "max_duration": 15},
    "grok_imagine_1_5_lite": {"credits": 5, "default_duration": 6, "max_duration": 15},
    "wan3": {"credits": 15, "default_duration": 5, "max_duration": 15},
    "wan3_prime": {"credits": 30, "default_duration": 5, "max_duration": 15},
}

# Models the official API no longer serves; proxies (the seed) may still offer them, so their
# last known rules stay, used on the proxy dialect only.
RETIRED: dict[str, dict[str, Any]] = {
    "gen3a_turbo": {
        "retired": "2026-07-30",
        "replacement": "gen4_turbo",
        "fields": {
            "promptImage": {"type": "image", "required": True},
            "promptText": {"type": "string", "required": True, "max_length": 1000},
            "ratio": {"type": "enum", "values": ["1280:768", "768:1280"]},
            "duration": {"type": "enum", "values": [5, 10]},
            "seed": {"type": "integer", "min": limits.MIN_SEED, "max": limits.MAX_SEED},
        },
        "positions": ["first", "last"],
        "position_required": True,
        "credits": 5,
        "default_duration": 10,
        "max_duration": 10,
        "open_fields": True,
        "price_verified": False,
    },
    "veo3": {
        "retired": "SDK 5.14 (2026-08)",
        "replacement": "veo3.1",
        "fields": {
            "promptImage": {"type": "image", "required": True},
            "promptText": {"type": "string", "max_length": 1000},
            "ratio": {
                "type": "enum",
                "required": True,
                "values": ["1280:720", "720:1280", "1080:1920", "1920:1080"],
            },
            "duration": {"type": "enum", "values": [8]},
            "seed": {"type": "integer", "min": limits.MIN_SEED, "max": limits.MAX_SEED},
        },
        "positions": ["first"],
        "position_required": True,
        "credits": 40,
        "default_duration": 8,
        "max_duration": 8,
        "open_fields": True,
        "price_verified": True,
    },
}

_SNAKE = re.compile(r"_([a-z0-9])")
_PROMPT_LIMIT = re.compile(r"up to ([\d,]+) characters")
_RANGE = re.compile(r"(?:from|between) (\d+) (?:to|and) (\d+)")


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return _name(node.value)
    return ""


def _args(node: ast.Subscript) -> list[ast.expr]:
    inner = node.slice
    return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


class _Field:
    def __init__(self, name: str, annotation: ast.expr, doc: str) -> None:
        self.wire = _camel(name)
        self.required = False
        self.doc = " ".join(doc.split())
        node = annotation
        while isinstance(node, ast.Subscript) and _name(node) in ("Required", "Annotated"):
            if _name(node) == "Required":
                self.required = True
                node = _args(node)[0]
            else:
                args = _args(node)
                for extra in args[1:]:
                    if isinstance(extra, ast.Call):
                        for kw in extra.keywords:
                            if kw.arg == "alias" and isinstance(kw.value, ast.Constant):
                                self.wire = str(kw.value.value)
                node = args[0]
        self.type = node


def _literal(node: ast.expr) -> list[Any] | None:
    if isinstance(node, ast.Subscript) and _name(node) == "Literal":
        return [a.value for a in _args(node) if isinstance(a, ast.Constant)]
    return None


def _iterable_item(node: ast.expr) -> str | None:
    """The item class name of ``Iterable[X]`` inside `node` (``object`` when untyped)."""
    if isinstance(node, ast.Subscript):
        if _name(node) == "Iterable":
            return _name(_args(node)[0]) or "object"
        for arg in _args(node):
            found = _iterable_item(arg)
            if found:
                return found
    return None


def _spec(field: _Field) -> dict[str, Any]:
    node = field.type
    spec: dict[str, Any] = {}
    values = _literal(node)
    if values is not None:
        spec = {"type": "enum", "values": values}
    elif isinstance(node, ast.Name) and node.id in ("int", "str", "bool", "float"):
        spec = {
            "type": {"int": "integer", "str": "string", "bool": "boolean", "float": "number"}[
                node.id
            ]
        }
    elif isinstance(node, ast.Subscript) and _name(node) == "Union":
        parts = _args(node)
        kinds = {_name(p) for p in parts}
        lits = [v for p in parts for v in (_literal(p) or [])]
        if "int" in kinds and lits == ["auto"]:
            spec = {"type": "integer_or_auto"}
        elif "str" in kinds and "Iterable" in kinds:
            spec = {"type": "string_or_array"}
        else:
            spec = {"type": "any"}
    elif isinstance(node, ast.Subscript) and _name(node) == "Iterable":
        spec = {"type": "array"}
    else:
        spec = {"type": "object"}
    if spec["type"] in ("integer", "integer_or_auto"):
        match = _RANGE.search(field.doc)
        if match:
            spec["min"], spec["max"] = int(match[1]), int(match[2])
    if field.wire == "seed":
        spec.update(min=limits.MIN_SEED, max=limits.MAX_SEED)
    if field.wire == "promptText":
        match = _PROMPT_LIMIT.search(field.doc)
        if match:
            spec["max_length"] = int(match[1].replace(",", ""))
    if field.wire == "promptImage":
        spec = {"type": "image"}
    if field.required:
        spec["required"] = True
    return spec


def _classes(tree: ast.Module) -> dict[str, dict[str, _Field]]:
    classes: dict[str, dict[str, _Field]] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields: dict[str, _Field] = {}
        body = node.body
        for index, item in enumerate(body):
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                doc = ""
                following = body[index + 1] if index + 1 < len(body) else None
                if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
                    doc = str(following.value.value)
                fields[item.target.id] = _Field(item.target.id, item.annotation, doc)
        classes[node.name] = fields
    return classes


def parse_type_file(source: str) -> dict[str, dict[str, Any]]:
    """Read every image-to-video model's rules from the SDK's type file.

    Args:
        source: The text of ``image_to_video_create_params.py``.

    Returns:
        model name -> {"fields": {wire name: spec}, "positions": [...],
        "position_required": bool, "sdk_class": str}.

    Example:
        ```python
        rules = parse_type_file(Path("image_to_video_create_params.py").read_text())
        rules["gen4.5"]["fields"]["duration"]  # {'type': 'integer', 'min': 2, ...}
        ```
    """
    tree = ast.parse(source)
    classes = _classes(tree)
    union: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and _name(node.target) == "ImageToVideoCreateParams":
            value = node.value
            if isinstance(value, ast.Subscript):
                union = [_name(arg) for arg in _args(value)]
    if not union:
        raise ValueError("ImageToVideoCreateParams union not found in the type file")
    models: dict[str, dict[str, Any]] = {}
    for class_name in union:
        fields = classes[class_name]
        model_values = _literal(fields["model"].type) or []
        if len(model_values) != 1:
            raise ValueError(f"{class_name}: model is not a single Literal")
        specs = {f.wire: _spec(f) for name, f in fields.items() if name != "model"}
        item = _iterable_item(fields["prompt_image"].type) or "object"
        item_fields = classes.get(item, {})
        position = item_fields.get("position")
        positions = (_literal(position.type) if position else None) or ["first", "last"]
        models[str(model_values[0])] = {
            "sdk_class": class_name,
            "fields": dict(sorted(specs.items())),
            "positions": positions,
            "position_required": bool(position and position.required),
        }
    return models


def build_table(models: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Merge the SDK's per-model facts with `FACTS`; fail when a model lacks its facts."""
    missing = sorted(set(models) - set(FACTS))
    if missing:
        raise SystemExit(f"add prices and durations to FACTS for new models: {missing}")
    table: dict[str, dict[str, Any]] = {}
    for name, rules in models.items():
        facts = {"price_verified": False, "open_fields": False, **FACTS[name]}
        fields = {key: dict(spec) for key, spec in rules["fields"].items()}
        for key, extra in facts.pop("fields", {}).items():
            fields[key].update(extra)
        table[name] = {**rules, "fields": fields, **facts}
    return table


def render(table: dict[str, Any], retired: dict[str, Any], version: str, owner: str) -> str:
    """The text of one generated rules module."""
    body = pprint.pformat(table, width=96, sort_dicts=False)
    old = pprint.pformat(retired, width=96, sort_dicts=False)
    return (
        f'"""Per-model image-to-video rules ({owner}), generated from runwayml {version}.\n\n'
        "Do not edit by hand: run ``make update-models`` and review the diff. Prices, default\n"
        "durations and retired models come from ``scripts/update_models.py``'s FACTS.\n"
        '"""\n\n'
        "from typing import Any\n\n"
        f'SDK_VERSION = "{version}"\n\n'
        f"MODELS: dict[str, dict[str, Any]] = {body}\n\n"
        f"RETIRED: dict[str, dict[str, Any]] = {old}\n"
    )


README = ROOT / "README.md"
README_BEGIN = "<!-- models:begin -->"
README_END = "<!-- models:end -->"
_COMMON = {"promptImage", "promptText", "ratio", "resolution", "duration", "seed"}


def _snake(wire: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), wire)


def _durations(spec: dict[str, Any] | None) -> str:
    if spec is None:
        return "-"
    if spec["type"] == "enum":
        text = ", ".join(str(v) for v in spec["values"])
    elif "min" in spec:
        text = f"{spec['min']}-{spec['max']}"
    else:
        text = "any integer"
    if spec["type"] == "integer_or_auto":
        text += ", auto"
    return text + (" (required)" if spec.get("required") else "")


def _shapes(fields: dict[str, Any]) -> str:
    parts = []
    for key in ("ratio", "resolution"):
        spec = fields.get(key)
        if spec:
            values = spec["values"]
            shown = ", ".join(values) if len(values) <= 4 else f"{len(values)} values"
            parts.append(f"{key}: {shown}")
    return "; ".join(parts) or "follows the image"


def readme_table(table: dict[str, dict[str, Any]]) -> str:
    """The README's model table, one row per model, from the rules table."""
    rows = [
        "| model | ratio / resolution | duration (s) | prompt_text | frames | other fields "
        "| credits/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rules in table.items():
        fields = rules["fields"]
        prompt = fields.get("promptText", {})
        text = ("required, " if prompt.get("required") else "") + (
            f"≤{prompt['max_length']}" if "max_length" in prompt else "no local limit"
        )
        frames = "/".join(rules["positions"]) + ("" if rules["position_required"] else ", refs")
        others = ", ".join(_snake(key) for key in fields if key not in _COMMON) or "-"
        price = f"{rules['credits']:g}"
        if rules.get("credits_no_audio") is not None:
            price += f" ({rules['credits_no_audio']:g} without audio)"
        if not rules["price_verified"]:
            price += " (est.)"
        rows.append(
            f"| {name} | {_shapes(fields)} | {_durations(fields.get('duration'))} | {text} "
            f"| {frames} | {others} | {price} |"
        )
    return "\n".join(rows)


def update_readme(table: dict[str, dict[str, Any]], path: Path = README) -> bool:
    """Rewrite the README's table between its markers; False when the markers are absent."""
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_BEGIN}\n{readme_table(table)}\n{README_END}{tail}")
    return True


def format_module(path: Path) -> None:
    """Format the written module with the repository's formatter (ruff, a dev dependency).

    pprint's layout differs from the committed file's; formatting here makes an unchanged
    table an unchanged file, so the review diff shows only what the SDK changed.
    """
    try:
        subprocess.run([sys.executable, "-m", "ruff", "format", "-q", str(path)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"warning: {path} left unformatted ({exc}); run `ruff format {path}`")


# -- every task endpoint ---------------------------------------------------------------------

ENDPOINTS_OUTPUT = ROOT / "prefect_runway" / "api" / "endpoints.py"

# Facts the type files do not hold, per task endpoint (type file, relative to
# src/runwayml/types/ -> facts). output: what a finished task's ``output`` holds (video, image or
# audio URLs); estimate: the create answer carries ``estimatedCost`` (avatar_videos sends none);
# routing: the Model Router's answer (``routing`` instead of a top-level estimate);
# credits: a flat budget per task (not Runway's price list: the answer's estimate is the figure).
ENDPOINT_FACTS: dict[str, dict[str, Any]] = {
    "text_to_video_create_params.py": {"output": "video", "credits": 60},
    "video_to_video_create_params.py": {"output": "video", "credits": 60},
    "text_to_image_create_params.py": {"output": "image", "credits": 5},
    "image_upscale_create_params.py": {"output": "image", "credits": 10},
    "video_upscale_create_params.py": {"output": "video", "credits": 40},
    "video_to_hdr_create_params.py": {"output": "video", "credits": 40},
    "video_to_audio_create_params.py": {"output": "audio", "credits": 10},
    "character_performance_create_params.py": {"output": "video", "credits": 25},
    "text_to_speech_create_params.py": {"output": "audio", "credits": 2},
    "sound_effect_create_params.py": {"output": "audio", "credits": 2},
    "voice_isolation_create_params.py": {"output": "audio", "credits": 2},
    "voice_dubbing_create_params.py": {"output": "audio", "credits": 10},
    "speech_to_speech_create_params.py": {"output": "audio", "credits": 2},
    "generate/video_create_params.py": {"output": "video", "credits": 60, "routing": True},
    "generate/image_create_params.py": {"output": "image", "credits": 5, "routing": True},
    "generate/audio_create_params.py": {"output": "audio", "credits": 2, "routing": True},
    "recipe_ad_localization_params.py": {"output": "video", "credits": 100},
    "recipe_marketing_stock_image_params.py": {"output": "image", "credits": 20},
    "recipe_multi_shot_video_params.py": {"output": "video", "credits": 150},
    "recipe_product_ad_params.py": {"output": "video", "credits": 150},
    "recipe_product_campaign_image_params.py": {"output": "image", "credits": 20},
    "recipe_product_swap_params.py": {"output": "image", "credits": 20},
    "recipe_product_ugc_params.py": {"output": "video", "credits": 150},
    "avatar_video_create_params.py": {"output": "video", "credits": 30, "estimate": False},
}


def endpoint_path(type_file: str) -> str:
    """The API path of a task endpoint's type file (the SDK's resources name the same paths)."""
    if type_file.startswith("generate/"):
        return "/v1/generate/" + type_file.split("/")[1].removesuffix("_create_params.py")
    if type_file.startswith("recipe_"):
        return "/v1/recipes/" + type_file.removeprefix("recipe_").removesuffix("_params.py")
    name = type_file.removesuffix("_create_params.py")
    return "/v1/" + ("avatar_videos" if name == "avatar_video" else name)


def _params_name(type_file: str) -> str:
    stem = type_file.split("/")[-1].removesuffix(".py")
    return "".join(part.capitalize() for part in stem.split("_"))


def _nested(field: _Field, classes: dict[str, dict[str, _Field]]) -> dict[str, Any] | None:
    """Required and literal-valued members of a field typed as one of the file's classes."""
    node = field.type
    iterable = isinstance(node, ast.Subscript) and _name(node) == "Iterable"
    name = "" if iterable else _name(node)
    members = classes.get(name) if name else None
    if not members:
        return None
    return {f.wire: _spec(f) for f in members.values()}


def parse_endpoint_file(source: str, params_name: str) -> dict[str, Any]:
    """Read one task endpoint's variants (per model, per mode, or one) from its type file."""
    tree = ast.parse(source)
    classes = _classes(tree)
    members = [params_name]
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and _name(node.target) == params_name:
            if isinstance(node.value, ast.Subscript):
                members = [_name(arg) for arg in _args(node.value)]
    if members == [params_name] and params_name not in classes:
        raise ValueError(f"{params_name} not found in its type file")
    key = None
    for candidate in ("model", "mode"):
        if all(candidate in classes[m] for m in members):
            key = candidate
            break
    variants: dict[str, Any] = {}
    for class_name in members:
        fields = classes[class_name]
        specs: dict[str, Any] = {}
        for name, field in fields.items():
            if key is not None and name == key:
                continue
            spec = _spec(field)
            if _name(field.type) in ("SequenceNotStr", "Sequence", "List"):
                spec = {"type": "array"} | ({"required": True} if field.required else {})
            if spec.get("type") == "image":  # promptImage: a URI or frames, not image_to_video's
                spec = {"type": "string_or_array"} | ({"required": True} if field.required else {})
            nested = _nested(field, classes)
            if nested:
                spec["fields"] = dict(sorted(nested.items()))
            specs[field.wire] = spec
        value = "*"
        if key is not None:
            values = _literal(fields[key].type) or []
            if len(values) != 1:
                raise ValueError(f"{class_name}: {key} is not a single Literal")
            value = str(values[0])
        variants[value] = {"sdk_class": class_name, "fields": dict(sorted(specs.items()))}
    return {"discriminator": key, "variants": variants}


def build_endpoints(sources: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every task endpoint but image_to_video (``MODELS`` holds it), keyed by API path."""
    missing = sorted(set(ENDPOINT_FACTS) - set(sources))
    if missing:
        raise SystemExit(f"type files missing from the sdist: {missing}")
    table: dict[str, dict[str, Any]] = {}
    for type_file, facts in ENDPOINT_FACTS.items():
        parsed = parse_endpoint_file(sources[type_file], _params_name(type_file))
        table[endpoint_path(type_file)] = {
            "type_file": type_file,
            "output": facts["output"],
            "estimate": facts.get("estimate", True),
            "routing": facts.get("routing", False),
            "credits": facts["credits"],
            **parsed,
        }
    return table


def render_endpoints(table: dict[str, Any], version: str) -> str:
    """The text of the generated endpoints module."""
    body = pprint.pformat(table, width=96, sort_dicts=False)
    return (
        '"""Every task endpoint but image-to-video (client and emulator), from runwayml '
        f"{version}.\n\n"
        "Do not edit by hand: run ``make update-models`` and review the diff. Per API path: the\n"
        "SDK type file, what a finished task outputs, whether the create answer carries an\n"
        "estimate or the Model Router's ``routing``, a flat credit budget (``update_models.py``'s\n"
        "ENDPOINT_FACTS, not Runway's price list), and the variants the body's ``discriminator``\n"
        "field (``model``, ``mode`` or none: ``*``) selects, each with its fields' specs.\n"
        '"""\n\n'
        "from typing import Any\n\n"
        f'SDK_VERSION = "{version}"\n\n'
        f"ENDPOINTS: dict[str, dict[str, Any]] = {body}\n"
    )


def fetch_type_files(version: str) -> dict[str, str]:
    """Download the ``runwayml`` sdist of `version` and return its ``types/`` files by path."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "-q", "-d", tmp, f"runwayml=={version}"],
            check=True,
        )  # fmt: skip
        sdist = next(Path(tmp).glob("runwayml-*.tar.gz"))
        return read_type_files(sdist)


def read_type_files(sdist: Path) -> dict[str, str]:
    """The ``src/runwayml/types/`` files of an sdist, keyed by their path below that folder."""
    files: dict[str, str] = {}
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            _, sep, rel = member.name.partition("/src/runwayml/types/")
            handle = archive.extractfile(member) if sep and rel.endswith(".py") else None
            if handle is not None:
                files[rel] = handle.read().decode()
    return files


def main(argv: list[str] | None = None) -> int:
    """Regenerate the rules and endpoints modules; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--version", default=DEFAULT_SDK_VERSION, help="runwayml SDK version")
    parser.add_argument("--source", type=Path, help="a local image_to_video_create_params.py")
    parser.add_argument("--sdist", type=Path, help="a local runwayml sdist (.tar.gz)")
    args = parser.parse_args(argv)
    if args.source:
        files = {"image_to_video_create_params.py": args.source.read_text()}
    elif args.sdist:
        files = read_type_files(args.sdist)
    else:
        files = fetch_type_files(args.version)
    source = files["image_to_video_create_params.py"]
    table = build_table(parse_type_file(source))
    OUTPUT.write_text(render(table, RETIRED, args.version, "client and emulator"))
    format_module(OUTPUT)
    print(f"wrote {OUTPUT} ({len(table)} models)")
    if update_readme(table):
        print(f"updated the model table in {README}")
    if len(files) > 1:
        endpoints = build_endpoints(files)
        ENDPOINTS_OUTPUT.write_text(render_endpoints(endpoints, args.version))
        format_module(ENDPOINTS_OUTPUT)
        print(f"wrote {ENDPOINTS_OUTPUT} ({len(endpoints)} endpoints)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
