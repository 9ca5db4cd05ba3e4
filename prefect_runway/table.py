"""Batches driven by a table: a CSV, JSONL or Parquet file (local or on S3) read into
generation rows, each a request body of one of Runway's task endpoints.

Columns are request fields by their API names, camelCase or snake_case (``prompt_text`` is
``promptText``); a dotted column (``input.promptText``) sets a nested field, and the Model
Router's fields (``generate/*``) may be named without ``input.``. Three columns are not fields:
``id`` (else ``line-<n>``), ``endpoint`` (overrides the default endpoint on its row) and
``variants`` (the row becomes that many rows, each with its own seed). Columns whose name starts
with ``#`` are notes and are left out. Empty CSV cells and nulls mean "not given"; ``defaults``
fill what a row does not give, where the row's endpoint and model have that field. Input assets
stay as written (``s3://``, ``https://``, ``data:``, ``runway://``): turning them into what
Runway accepts is the flow's job.

Every row is checked against the endpoint's generated specs (`prefect_runway.api.endpoints`;
image-to-video: `prefect_runway.api.rules`) before anything is paid: required fields, types,
allowed values and ranges. A bad row does not stop the others: it becomes a `RejectedRow`
naming its line, column, value and what is allowed.

Example:
    ```python
    from prefect_runway.table import read_table

    read = read_table(
        [{"id": "cat", "prompt_image": "s3://stills/cat.png", "duration": 11},
         {"id": "dog", "promptImage": "https://example.com/dog.png", "variants": 2}],
        defaults={"model": "gen4_turbo", "ratio": "1280:720"},
    )   # or "s3://bucket/prompts.csv", "table.jsonl", "table.parquet"
    print([(row.id, row.body["seed"]) for row in read.rows])   # dog#1, dog#2: their own seeds
    print(read.rejected[0].message)
    # line 1 (id cat), column 'duration': 11 is out of range for model gen4_turbo; expected 2 to 10.
    ```
"""

from __future__ import annotations

import csv
import difflib
import gzip
import hashlib
import io
import json
import math
import os
import posixpath
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from prefect_runway.api import endpoints as _endpoints
from prefect_runway.api import rules as _rules
from prefect_runway.api.models import redact_url
from prefect_runway.errors import ImageSourceError, RunwayValidationError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
"""Table formats by file extension (``.csv.gz``, ``.jsonl.gz`` and ``.ndjson.gz`` too)."""
MAX_VARIANTS = 100
"""The most rows one table row may become (a typo should not order a thousand videos)."""
ID, ENDPOINT, VARIANTS = "id", "endpoint", "variants"
_SHOWN_CHARS = 80
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_FieldPath = tuple[str, ...]


class TableError(RunwayValidationError):
    """The table as a whole cannot be read (format, file, a bad sidecar, bad defaults).

    Defined here for now; a candidate for `prefect_runway.errors`.
    """


@dataclass(frozen=True)
class TableRow:
    """One generation the table asks for.

    Attributes:
        line: CSV: the file's line number (the header is line 1); JSONL: the line number;
            Parquet and lists: the row's index + 1.
        id: The row's ``id`` column, else ``line-<n>``; a row with variants: ``<id>#<k>``.
        endpoint: The endpoint's name: ``image_to_video``, ``generate/video``, ...
        body: The request body, wire names (camelCase), input assets as given.
        variant: ``k`` of ``<id>#<k>``, from 1 (1 for a row without variants).
        source: Where a person finds the row: ``<table>:<line> (id <id>)``.
        carried: The columns `read_table`'s ``carry`` asked to keep aside, as written (the
            ones that are no field of the table's endpoint are not in `body`).
    """

    line: int
    id: str
    endpoint: str
    body: dict[str, Any]
    variant: int = 1
    source: str = ""
    carried: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The API path: ``/v1/<endpoint>``."""
        return f"/v1/{self.endpoint}"


@dataclass(frozen=True)
class RejectedRow:
    """One problem of a row that cannot become a generation (a row may have several).

    Attributes:
        line: As `TableRow.line`.
        id: As `TableRow.id`.
        column: The column (or the field, when none gives it); None for the whole row.
        value: The value, shown short (a URL without its query); None when not given.
        reason: What is wrong and what is allowed.
        source: As `TableRow.source`.
    """

    line: int
    id: str
    column: str | None
    value: str | None
    reason: str
    source: str = ""

    @property
    def message(self) -> str:
        """``line 3 (id cat), column 'duration': 11 is out of range for ...; expected 2 to 10.``"""
        who = f"line {self.line}" + ("" if self.id == f"line-{self.line}" else f" (id {self.id})")
        if self.column is None:
            return f"{who}: {self.reason}"
        return f"{who}, column '{self.column}': {self.reason}"


@dataclass
class TableRead:
    """What a table asks for: the rows to generate and the rejected ones, in table order."""

    rows: list[TableRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


# -- the endpoints' specs ------------------------------------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    name: str
    discriminator: str | None
    variants: dict[str, dict[str, Any]]  # variant -> its fields' specs
    listed: tuple[str, ...]  # the variants named in messages (no retired models)

    @property
    def union(self) -> dict[str, dict[str, Any]]:
        """Every field of any variant (the first variant's spec of it)."""
        return _union(self.name)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@cache
def _all_endpoints() -> dict[str, _Endpoint]:
    found = {
        "image_to_video": _Endpoint(
            "image_to_video",
            "model",
            {m: r["fields"] for m, r in {**_rules.MODELS, **_rules.RETIRED}.items()},
            tuple(_rules.MODELS),
        )
    }
    for path, facts in _endpoints.ENDPOINTS.items():
        name = path.removeprefix("/v1/")
        variants = {v: spec["fields"] for v, spec in facts["variants"].items()}
        found[name] = _Endpoint(name, facts["discriminator"], variants, tuple(variants))
    return found


@cache
def _union(name: str) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for fields in _all_endpoints()[name].variants.values():
        for key, spec in fields.items():
            known = merged.setdefault(key, dict(spec))
            if "fields" in spec:
                known["fields"] = {**spec["fields"], **known.get("fields", {})}
    return merged


def normalize_endpoint(name: str) -> str:
    """The endpoint's name as this module spells it: ``"/v1/text_to_video"``,
    ``"text-to-video"`` and ``"text_to_video"`` are all ``"text_to_video"``.

    Raises:
        TableError: no task endpoint has that name (close matches are named).

    Example:
        >>> normalize_endpoint("/v1/recipes/product-ad")
        'recipes/product_ad'
    """
    found = _lookup_endpoint(name)
    if found is None:
        raise TableError(f"{name!r} is no task endpoint; {_unknown_endpoint(name)}")
    return found


def _endpoint_text(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").lstrip("/").removeprefix("v1/")


def _lookup_endpoint(name: str) -> str | None:
    text = _endpoint_text(name)
    return text if text in _all_endpoints() else None


def _unknown_endpoint(name: str) -> str:
    return _expected(_endpoint_text(name), list(_all_endpoints()))


def _expected(given: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(given, allowed, n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(close)}?"
    return f"expected one of {', '.join(allowed)}."


def _resolve(endpoint: _Endpoint, column: str) -> _FieldPath | None:
    """The field path a column names, or None."""
    union = endpoint.union
    parts = column.strip().split(".")
    by_norm = {_norm(k): k for k in union}
    if endpoint.discriminator:
        by_norm[_norm(endpoint.discriminator)] = endpoint.discriminator
    head = by_norm.get(_norm(parts[0]))
    if head is None:
        nested = union.get("input", {}).get("fields")  # the Model Router's model-agnostic input
        if len(parts) == 1 and nested:
            inner = {_norm(k): k for k in nested}.get(_norm(parts[0]))
            return ("input", inner) if inner else None
        return None
    path: _FieldPath = (head,)
    spec = union.get(head)
    for part in parts[1:]:
        nested = (spec or {}).get("fields")
        if not nested:
            return None
        key = {_norm(k): k for k in nested}.get(_norm(part))
        if key is None:
            return None
        path, spec = (*path, key), nested[key]
    return path


def _spec(fields: dict[str, Any], path: _FieldPath) -> dict[str, Any] | None:
    spec: dict[str, Any] | None = None
    for part in path:
        if fields is None or part not in fields:
            return None
        spec = fields[part]
        fields = spec.get("fields")  # type: ignore[assignment]
    return spec


def _close(endpoint: _Endpoint, column: str) -> str:
    """Fields of `endpoint` whose names are close to `column`, else all of them."""
    by_norm = {_norm(f): f for f in sorted(endpoint.union)}
    close = difflib.get_close_matches(_norm(column), list(by_norm), n=3, cutoff=0.6)
    if close:
        return f"did you mean {' or '.join(by_norm[c] for c in close)}?"
    return f"its fields are {', '.join(by_norm.values())}."


def _where(endpoint: _Endpoint, variant: str) -> str:
    if endpoint.discriminator is None:
        return endpoint.name
    if endpoint.discriminator == "model":
        return f"model {variant}"
    return f"{endpoint.name} {endpoint.discriminator} {variant}"


# -- values --------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """`value` as messages show it: short, a URL without its query, a data URI's head only.

    Example:
        >>> shown("https://b.s3.amazonaws.com/cat.png?X-Amz-Signature=abc")
        "'https://b.s3.amazonaws.com/cat.png?<redacted>'"
    """
    return repr(_short(value)) if isinstance(value, str) else _short(value)


def _short(value: Any) -> str:
    """`shown` without a string's quotes (`RejectedRow.value`)."""
    if isinstance(value, str):
        text = value
        secret = "?" in value or "@" in value or value.startswith("data:")
        if secret and re.match(r"[a-z][a-z0-9+.\-]*:", value):
            text = redact_url(value)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = json.dumps(value, default=str)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _coerce_cell(spec: dict[str, Any], cell: str) -> tuple[Any, str | None]:
    """A CSV cell as the field's type: (value, None), or (cell, reason) when it cannot be.

    A cell that is not of the type stays a string: the spec check says what is allowed.
    """
    kind, text = spec["type"], cell.strip()
    if kind == "enum":
        for allowed in spec["values"]:
            if str(allowed) == text:
                return allowed, None
        if all(_is_int(v) for v in spec["values"]) and re.fullmatch(r"[+-]?\d+", text):
            return int(text), None
        return cell, None
    if kind in ("integer", "integer_or_auto"):
        if kind == "integer_or_auto" and text.lower() == "auto":
            return "auto", None
        if re.fullmatch(r"[+-]?\d+(\.0*)?", text):
            return int(float(text)) if "." in text else int(text), None
        return cell, None
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            return cell, None
        if not math.isfinite(number):
            return cell, None
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else number, None
    if kind == "boolean":
        lowered = text.lower()
        return (True if lowered in _TRUE else False if lowered in _FALSE else cell), None
    if kind == "object":
        nested = spec.get("fields") or {}
        if not text.startswith("{") and set(nested) == {"uri"}:
            return {"uri": text}, None  # an asset: its URI alone
        return _json(text, dict, "a JSON object")
    if kind == "array":
        if text.startswith("["):
            return _json(text, list, "a JSON array")
        items = [item.strip() for item in text.split("|") if item.strip()]
        if items and all(re.match(r"[a-z][a-z0-9+.\-]*:", item) for item in items):
            return [{"uri": item} for item in items], None  # URIs separated by |
        return cell, f"must be a JSON array or URIs separated by |, got {shown(cell)}."
    if kind in ("image", "string_or_array", "any") and text.startswith(("[", "{")):
        return _json(text, (list, dict), "JSON")
    return cell, None


def _json(text: str, types: type | tuple[type, ...], what: str) -> tuple[Any, str | None]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return text, f"must be {what}, got {shown(text)} (not valid JSON: {exc})."
    if not isinstance(value, types):
        return text, f"must be {what}, got {shown(text)}."
    return value, None


def _typed(spec: dict[str, Any], value: Any) -> Any:
    """A typed value (JSONL, Parquet, defaults) as the field's type: integral floats of
    integer fields are ints (Parquet written from pandas stores ints with nulls as floats)."""
    numeric = spec["type"] in ("integer", "integer_or_auto") or (
        spec["type"] == "enum" and all(_is_int(v) for v in spec["values"])
    )
    if numeric and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check(
    where: str, fields: dict[str, Any], body: dict[str, Any], path: _FieldPath = ()
) -> Iterator[tuple[_FieldPath, str]]:
    """(path, reason) per problem of `body` against `fields`, in the emulator's words."""
    for key, spec in fields.items():
        at, value = (*path, key), body.get(key)
        if value is None:
            if spec.get("required"):
                yield at, f"is required for {where}."
            continue
        yield from _check_value(where, at, spec, value)


def _check_value(
    where: str, at: _FieldPath, spec: dict[str, Any], value: Any
) -> Iterator[tuple[_FieldPath, str]]:
    kind = spec["type"]
    if kind == "enum":
        if not any(value == v and type(value) is type(v) for v in spec["values"]):
            allowed = ", ".join(str(v) for v in spec["values"])
            yield at, f"{shown(value)} is not supported by {where}; expected one of {allowed}."
        return
    if kind in ("integer", "integer_or_auto"):
        if kind == "integer_or_auto" and value == "auto":
            return
        if not _is_int(value):
            extra = " or 'auto'" if kind == "integer_or_auto" else ""
            yield at, f"must be an integer{extra}, got {shown(value)}."
            return
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            yield at, f"{value} is out of range for {where}; expected {low} to {high}."
        return
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "boolean": (bool,),
        "number": (int, float),
        "array": (list,),
        "object": (dict,),
        "string_or_array": (str, list),
        "image": (str, list),
    }
    types = expected.get(kind)
    if types and (not isinstance(value, types) or (kind == "number" and isinstance(value, bool))):
        what = {
            "boolean": "a boolean (true/false, yes/no, 1/0)",
            "string_or_array": "a string or an array",
            "image": "a URI or an array of {uri, position}",
            "array": "an array",
            "object": "an object",
        }.get(kind, f"a {kind}")
        yield at, f"must be {what}, got {shown(value)}."
        return
    if kind == "string" and spec.get("max_length") is not None:
        units = len(value.encode("utf-16-le", "surrogatepass")) // 2
        if units > spec["max_length"]:
            yield at, f"is {units} UTF-16 code units long; the limit is {spec['max_length']}."
    if kind == "object" and spec.get("fields"):
        yield from _check(where, spec["fields"], value, at)


def variant_seed(row_id: str, variant: int) -> int:
    """The seed of variant `variant` of a row without one: from sha256 of ``<id>#<variant>``,
    0 to 4294967295, the same on every read of the same table (so a rerun asks for the same
    generations, which the ledger already has).

    Example:
        >>> variant_seed("cat", 1) == variant_seed("cat", 1) != variant_seed("cat", 2)
        True
    """
    digest = hashlib.sha256(f"{row_id}#{variant}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


# -- rows ----------------------------------------------------------------------------------


@dataclass
class _Row:
    """One raw row on its way to a body."""

    line: int
    values: dict[str, Any]  # column -> value, given ones only
    text: bool  # CSV: cells are strings, coerced by the field's type
    table: str  # the table's URI, or an image's (`image`)
    problems: list[RejectedRow] = field(default_factory=list)
    id: str = ""
    image: bool = False

    @property
    def source(self) -> str:
        return self.source_of(self.id)

    def source_of(self, row_id: str) -> str:
        """What a person sees: ``<table>:<line> (id <id>)``; an image's row: its URI."""
        if self.image:
            same = row_id.split("#", 1)[0] == self.table
            return self.table if same else f"{self.table} (id {row_id})"
        where = f"{self.table}:{self.line}"
        return where if row_id == f"line-{self.line}" else f"{where} (id {row_id})"

    def reject(self, column: str | None, value: Any, reason: str) -> None:
        text = None if value is None else _short(value)
        self.problems.append(RejectedRow(self.line, self.id, column, text, reason, self.source))


def _given(value: Any, text: bool) -> bool:
    if value is None:
        return False
    if text and isinstance(value, str):
        return bool(value.strip())
    return not (isinstance(value, float) and math.isnan(value))


class _Reader:
    def __init__(self, endpoint: str, defaults: Mapping[str, Any] | None,
                 carry: Collection[str] = ()) -> None:  # fmt: skip
        self.endpoint = normalize_endpoint(endpoint)
        self.defaults = dict(defaults or {})
        self.carry = set(carry)
        for key in self.defaults:
            if _norm(key) in (ID, ENDPOINT):
                raise TableError(
                    f"defaults cannot set {key!r}: it is a column of its own (pass endpoint=...)"
                )
            if _norm(key) != VARIANTS and not any(
                _resolve(e, key) for e in _all_endpoints().values()
            ):
                fields = sorted({k for n in _all_endpoints() for k in _union(n)})
                raise TableError(f"defaults: {key!r} is no request field; {_expected(key, fields)}")
        self.read = TableRead()
        self.seen: dict[str, int] = {}

    def add(self, row: _Row) -> None:
        carried: dict[str, Any] = {}
        for column in [c for c in row.values if str(c).strip() in self.carry]:
            carried[str(column).strip()] = row.values[column]
            if _resolve(_all_endpoints()[self.endpoint], column) is None:  # not a typo here
                del row.values[column]
        values = {k: v for k, v in row.values.items() if _given(v, row.text)}
        values = {k: v for k, v in values.items() if not str(k).startswith("#")}
        special = {_norm(str(k)): k for k in values if _norm(str(k)) in (ID, ENDPOINT, VARIANTS)}
        raw_id = values.pop(special[ID], None) if ID in special else None
        row.id = str(raw_id).strip() if raw_id is not None else f"line-{row.line}"
        if row.id in self.seen:
            row.reject(
                ID, row.id, f"{shown(row.id)} is already the id of line {self.seen[row.id]}."
            )
            self.read.rejected.extend(row.problems)
            return
        self.seen[row.id] = row.line
        bodies = self.bodies(row, values, special)
        for row_id, _, _ in bodies if len(bodies) > 1 else ():
            if row_id in self.seen:
                first = self.seen[row_id]
                reason = f"makes the id {shown(row_id)}, already the id of line {first}."
                row.reject(VARIANTS, len(bodies), reason)
        if row.problems:
            self.read.rejected.extend(row.problems)
            return
        for variant, (row_id, endpoint, body) in enumerate(bodies, start=1):
            self.seen.setdefault(row_id, row.line)
            self.read.rows.append(
                TableRow(row.line, row_id, endpoint, body, variant, row.source_of(row_id),
                         dict(carried))  # fmt: skip
            )

    def bodies(
        self, row: _Row, values: dict[str, Any], special: dict[str, str]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        name = self.endpoint
        if ENDPOINT in special:
            given = values.pop(special[ENDPOINT])
            found = _lookup_endpoint(str(given))
            if found is None:
                reason = f"{shown(given)} is no task endpoint; {_unknown_endpoint(str(given))}"
                row.reject(special[ENDPOINT], given, reason)
                return []
            name = found
        endpoint = _all_endpoints()[name]
        count = self.variants(
            row,
            values.pop(special[VARIANTS], None)
            if VARIANTS in special
            else self.defaults.get(VARIANTS),
            special.get(VARIANTS, VARIANTS),
        )
        paths = self.paths(row, endpoint, values)
        defaults: dict[_FieldPath, Any] = {}
        for key, value in self.defaults.items():
            path = _resolve(endpoint, key)
            if path is not None and _given(value, False):
                defaults[path] = value
        variant = self.variant(row, endpoint, paths, defaults)
        if variant is None:
            return []
        body, origin = self.body(row, endpoint, variant, paths, defaults)
        if row.problems or count is None:
            return []
        if count == 1:
            return [(row.id, name, body)]
        return self.expand(row, endpoint, variant, body, count, origin)

    def paths(
        self, row: _Row, endpoint: _Endpoint, values: dict[str, Any]
    ) -> dict[_FieldPath, tuple[str, Any]]:
        """The row's columns by the field path each names: path -> (column, value)."""
        paths: dict[_FieldPath, tuple[str, Any]] = {}
        name = endpoint.name
        for column, value in values.items():
            path = _resolve(endpoint, str(column))
            if path is None:
                row.reject(str(column), value, f"is no field of {name}; {_close(endpoint, column)}")
            elif path in paths:
                row.reject(
                    str(column),
                    value,
                    f"names {'.'.join(path)}, as column {paths[path][0]!r} does.",
                )
            else:
                paths[path] = (str(column), value)
        return paths

    def variant(
        self,
        row: _Row,
        endpoint: _Endpoint,
        paths: dict[_FieldPath, tuple[str, Any]],
        defaults: dict[_FieldPath, Any],
    ) -> str | None:
        """The variant the row's ``model`` or ``mode`` selects (``*``: none); None if bad."""
        selector, name = endpoint.discriminator, endpoint.name
        if selector is None:
            return "*"
        given_by, chosen = paths.pop((selector,), ("", defaults.get((selector,))))
        allowed = ", ".join(endpoint.listed)
        if chosen is None:
            row.reject(selector, None, f"is required for {name}; expected one of {allowed}.")
            return None
        chosen = chosen.strip() if isinstance(chosen, str) else chosen
        if not isinstance(chosen, str) or chosen not in endpoint.variants:
            tail = "." if given_by else " (from defaults)."
            reason = f"{shown(chosen)} is not supported by {name}; expected one of {allowed}"
            row.reject(given_by or selector, chosen, reason + tail)
            return None
        return chosen

    def body(
        self,
        row: _Row,
        endpoint: _Endpoint,
        variant: str,
        paths: dict[_FieldPath, tuple[str, Any]],
        defaults: dict[_FieldPath, Any],
    ) -> tuple[dict[str, Any], dict[_FieldPath, str]]:
        """The body: the row's values, then the defaults where the row gives nothing; checked.
        With it, the column each path came from."""
        selector = endpoint.discriminator
        fields = endpoint.variants[variant]
        where = _where(endpoint, variant)
        body: dict[str, Any] = {selector: variant} if selector else {}
        origin: dict[_FieldPath, str] = {}
        for path, (column, value) in sorted(paths.items(), key=lambda item: len(item[0])):
            spec = _spec(fields, path)
            if spec is None:
                row.reject(column, value, f"is no field of {where}.")
                continue
            if row.text and isinstance(value, str):
                value, problem = _coerce_cell(spec, value)
                if problem:
                    row.reject(column, value, problem)
                    continue
            _put(body, path, _typed(spec, value))
            origin[path] = column
        for path, value in defaults.items():
            spec = _spec(fields, path)
            if spec is None or path[0] == selector:
                continue  # a default applies where the row's endpoint and model have the field
            if not _has(body, path) or (
                isinstance(value, dict) and isinstance(_get(body, path), dict)
            ):  # an object: merged, the row's keys winning
                _put(body, path, _typed(spec, value))
                origin.setdefault(path, f"{'.'.join(path)} (from defaults)")
        for at, reason in _check(where, fields, body):
            column = next(
                (origin[at[:n]] for n in range(len(at), 0, -1) if at[:n] in origin), ".".join(at)
            )
            own = [p for p in origin if origin[p] == column]
            subject = "" if at in own or not own else f"{'.'.join(at)} "
            shown_column, _, note = column.partition(" (")
            if note:
                reason = f"{reason.removesuffix('.')} ({note.removesuffix(')')})."
            row.reject(shown_column, _get(body, at), subject + reason)
        return body, origin

    def variants(self, row: _Row, value: Any, column: str) -> int | None:
        if value is None:
            return 1
        count = _coerce_cell({"type": "integer"}, value)[0] if isinstance(value, str) else value
        if not _is_int(count) or not 1 <= count <= MAX_VARIANTS:
            row.reject(
                column, value, f"must be an integer from 1 to {MAX_VARIANTS}, got {shown(value)}."
            )
            return None
        return int(count)

    def expand(
        self,
        row: _Row,
        endpoint: _Endpoint,
        variant: str,
        body: dict[str, Any],
        count: int,
        origin: dict[_FieldPath, str],
    ) -> list[tuple[str, str, dict[str, Any]]]:
        fields = endpoint.variants[variant]
        seed_path: _FieldPath | None = next(
            (p for p in (("seed",), ("input", "seed")) if _spec(fields, p) is not None), None
        )
        if seed_path is None:
            row.reject(
                VARIANTS,
                count,
                f"{_where(endpoint, variant)} has no seed, so its "
                "variants could not differ; leave variants out.",
            )
            return []
        spec = _spec(fields, seed_path) or {}
        low, high = spec.get("min", 0), spec.get("max", 4_294_967_295)
        first = _get(body, seed_path)
        if first is not None and first + count - 1 > high:
            row.reject(
                origin.get(seed_path, "seed").partition(" (")[0],
                first,
                f"{count} variants from seed {first} pass the largest seed, {high}.",
            )
            return []
        out = []
        for k in range(1, count + 1):
            seed = (
                first + k - 1
                if first is not None
                else low + variant_seed(row.id, k) % (high - low + 1)
            )
            copy = deepcopy(body)
            _put(copy, seed_path, seed)
            out.append((f"{row.id}#{k}", endpoint.name, copy))
        return out


def _put(body: dict[str, Any], path: _FieldPath, value: Any) -> None:
    for part in path[:-1]:
        inner = body.get(part)
        if not isinstance(inner, dict):
            inner = body[part] = {}
        body = inner
    if isinstance(value, dict) and isinstance(body.get(path[-1]), dict):
        body[path[-1]] = {**value, **body[path[-1]]}
    else:
        body[path[-1]] = value


def _has(body: dict[str, Any], path: _FieldPath) -> bool:
    """True when `body` sets `path`, or something that is not an object above it."""
    node: Any = body
    for part in path:
        if not isinstance(node, dict):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


def _get(body: Any, path: _FieldPath) -> Any:
    for part in path:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


# -- reading -------------------------------------------------------------------------------


def read_table(
    table: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    endpoint: str = "image_to_video",
    defaults: Mapping[str, Any] | None = None,
    s3: S3Client | None = None,
    carry: Collection[str] = (),
) -> TableRead:
    """Read a table into generation rows, checked against the endpoints' specs.

    Args:
        table: ``s3://bucket/key``, a local path, or already-loaded rows (a list of dicts,
            line = index + 1). The format goes by the extension: ``.csv``, ``.jsonl`` or
            ``.ndjson``, ``.parquet`` (the ``table`` extra); ``.csv.gz`` and ``.jsonl.gz`` too.
        endpoint: The rows' endpoint where no ``endpoint`` column says otherwise.
        defaults: Fields for every row that does not give them (the row's value wins).
        s3: The client for an ``s3://`` table; None: ``boto3.client("s3")`` (the standard
            credential chain and ``AWS_ENDPOINT_URL``).
        carry: Columns to keep aside in each row's `TableRow.carried` (a pipeline's later
            stages read them); those that are no field of `endpoint` leave the body.

    Raises:
        TableError: the table cannot be read as a whole (extension, file, encoding), the
            endpoint is unknown, or `defaults` names no field.
        ImageSourceError: the S3 object cannot be read (missing, access denied).
        ImportError: a Parquet table without pyarrow.
    """
    reader = _Reader(endpoint, defaults, carry)
    if not isinstance(table, (str, os.PathLike)):
        for index, item in enumerate(table):
            _add_object(reader, index + 1, item, "<rows>")
        return reader.read
    name = os.fspath(table)
    kind = _format(name)
    data = _read_s3(s3, name) if name.startswith("s3://") else _read_local(name)
    if name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise TableError(f"{name} is not gzip data: {exc}") from None
    if kind == "parquet":
        for index, item in enumerate(_parquet(name, data)):
            _add_object(reader, index + 1, item, name)
        return reader.read
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"{name} is not UTF-8 text ({exc})") from None
    if kind == "csv":
        _read_csv(reader, text, name)
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                row = _Row(number, {}, False, name, id=f"line-{number}")
                row.reject(None, None, f"is not valid JSON ({exc}).")
                reader.read.rejected.extend(row.problems)
                continue
            _add_object(reader, number, item, name)
    return reader.read


def _format(name: str) -> str:
    lowered = name.lower()
    base = lowered.removesuffix(".gz")
    for extension, kind in FORMATS.items():
        if base.endswith(extension) and (base == lowered or kind != "parquet"):
            return kind
    allowed = ", ".join(FORMATS) + ", or .csv.gz, .jsonl.gz, .ndjson.gz"
    raise TableError(f"{name}: unknown table format; expected a file ending in {allowed}")


def _read_local(name: str) -> bytes:
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise TableError(f"{name} cannot be read: {exc.strerror or exc}") from None


def _read_s3(s3: S3Client | None, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise TableError(f"{uri} is no s3://bucket/key address")
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    try:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        raise ImageSourceError(_explain(exc, uri)) from None
    return body


def _explain(exc: ClientError, where: str) -> str:
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    reasons = {
        "NoSuchBucket": "the bucket does not exist",
        "NoSuchKey": "the object does not exist",
        "404": "the object does not exist",
        "AccessDenied": "access denied: check the AWS credentials and the bucket policy",
        "403": "access denied: check the AWS credentials and the bucket policy",
    }
    return f"{where}: {reasons.get(code, f'S3 error {code}')}"


def _parquet(name: str, data: bytes) -> list[Any]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"{name}: reading Parquet tables needs pyarrow: pip install 'prefect-runway[table]'"
        ) from None
    try:
        rows: list[Any] = pq.read_table(io.BytesIO(data)).to_pylist()
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise TableError(f"{name} is not a readable Parquet file: {exc}") from None
    return rows


def _read_csv(reader: _Reader, text: str, name: str) -> None:
    cells = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [column.strip() for column in next(cells)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise TableError(f"{name}: line 1 is not CSV ({exc})") from None
    twice = sorted({column for column in header if header.count(column) > 1 and column})
    if twice:
        raise TableError(f"{name}: the header names {', '.join(map(repr, twice))} twice")
    before = cells.line_num
    while True:
        try:
            record = next(cells)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TableError(f"{name}: line {before + 1} is not CSV ({exc})") from None
        line, before = before + 1, cells.line_num
        if not any(cell.strip() for cell in record):
            continue
        row = _Row(line, dict(zip(header, record, strict=False)), True, name)
        if len(record) > len(header):
            row.id = str(row.values.get(ID) or f"line-{line}").strip()
            row.reject(None, None, f"has {len(record)} cells; the header has {len(header)}.")
            reader.read.rejected.extend(row.problems)
            continue
        reader.add(row)


def _add_object(reader: _Reader, line: int, item: Any, table: str) -> None:
    if not isinstance(item, Mapping):
        row = _Row(line, {}, False, table, id=f"line-{line}")
        row.reject(None, None, f"must be an object of fields, got {shown(item)}.")
        reader.read.rejected.extend(row.problems)
        return
    reader.add(_Row(line, {str(k): v for k, v in item.items()}, False, table))


# -- images and their sidecars -------------------------------------------------------------


def rows_from_images(
    images: Sequence[tuple[str, Mapping[str, Any]]],
    endpoint: str = "image_to_video",
    defaults: Mapping[str, Any] | None = None,
) -> TableRead:
    """One row per image, its ``promptImage`` the image's URI, its other fields from `fields`
    (a sidecar's, `sidecar_fields`), then `defaults`.

    Args:
        images: ``(uri, fields)`` per image; its id is the URI unless `fields` gives one.
        endpoint: The rows' endpoint (it must have a ``promptImage`` field).
        defaults: As for `read_table`.

    Raises:
        TableError: the endpoint takes no ``promptImage``, or as for `read_table`.
    """
    reader = _Reader(endpoint, defaults)
    if _resolve(_all_endpoints()[reader.endpoint], "promptImage") != ("promptImage",):
        raise TableError(f"{reader.endpoint} takes no promptImage: rows cannot be its images")
    for index, (uri, fields) in enumerate(images):
        values = {k: v for k, v in fields.items() if _norm(str(k)) != "promptimage"}
        values.setdefault(ID, uri)
        reader.add(_Row(index + 1, {**values, "promptImage": uri}, False, uri, image=True))
    return reader.read


def sidecar_fields(s3: S3Client, bucket: str, key: str) -> dict[str, Any]:
    """The fields an image's sidecars give: ``cat.txt`` beside ``cat.png`` is its
    ``promptText``, ``cat.json`` an object of fields; both may be there; neither: ``{}``.

    Raises:
        TableError: a sidecar is not UTF-8, ``cat.json`` is not a JSON object, or both give
            ``promptText``.
        ImageSourceError: a sidecar cannot be read for another reason than its absence
            (access denied, throttling): that is not "no sidecar".
    """
    folder, base = posixpath.split(key)
    stem = posixpath.join(folder, posixpath.splitext(base)[0] or base)
    fields: dict[str, Any] = {}
    raw = _sidecar(s3, bucket, f"{stem}.json")
    if raw is not None:
        where = f"s3://{bucket}/{stem}.json"
        try:
            loaded = json.loads(raw)
        except ValueError as exc:
            raise TableError(f"{where} is not valid JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise TableError(f"{where} must hold a JSON object of fields, got {shown(loaded)}")
        fields.update(loaded)
    text = _sidecar(s3, bucket, f"{stem}.txt")
    if text is not None and text.strip():
        if any(_norm(k) == "prompttext" for k in fields):
            raise TableError(
                f"s3://{bucket}/{stem}.txt and s3://{bucket}/{stem}.json both give promptText"
            )
        fields["promptText"] = text.strip()
    return fields


def _sidecar(s3: S3Client, bucket: str, key: str) -> str | None:
    try:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "404", "NotFound"):
            return None
        raise ImageSourceError(_explain(exc, f"s3://{bucket}/{key}")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError(f"s3://{bucket}/{key} is not UTF-8 text") from None
