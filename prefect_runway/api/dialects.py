"""Runway's two wire dialects as objects: what differs between the official API and a proxy.

``runway`` is the official API at ``https://api.dev.runwayml.com``; ``proxy`` is a reseller
that mounts the same API under a ``/runwayml`` prefix (``https://www.anyapi.vip/runwayml``,
the seed's spec) and may wrap answers in ``{code, message, request_id, data}``. The strings
``"runway"`` and ``"proxy"`` stay the public spelling (the credentials block's field, the CLI's
``--dialect``); they are resolved once, to a `Dialect`, and every module asks the object
(`Dialect.uploads`, `Dialect.default_base_url`, ...) instead of comparing strings.

Paths and headers are the same in both: a proxy's prefix is part of its base URL, so
``/v1/...`` paths are joined to whichever base URL is in use.

The envelope (`envelope_data`, `task_fields`, `failure_code`) is read on every dialect, as
before: an official endpoint never sends one, and reading it leniently costs nothing.

Example:
    >>> Dialect("proxy").default_base_url
    'https://www.anyapi.vip/runwayml'
    >>> Dialect.RUNWAY.uploads, Dialect.PROXY.uploads
    (True, False)
    >>> Dialect.PROXY == "proxy", f"{Dialect.PROXY}"
    (True, 'proxy')
    >>> envelope_data({"code": 200, "message": "success", "data": {"task_id": "t1"}})
    {'task_id': 't1'}
    >>> failure_code({"code": "500", "message": "upstream channel error"})
    500
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CREATE_PATH = "/v1/image_to_video"
TASKS_PATH = "/v1/tasks"
UPLOADS_PATH = "/v1/uploads"
ORGANIZATION_PATH = "/v1/organization"
USAGE_PATH = "/v1/organization/usage"
VERSION_HEADER = "X-Runway-Version"


@dataclass(frozen=True)
class _Traits:
    default_base_url: str
    uploads: bool
    daily_limit_429: bool
    known_models_only: bool
    wraps_answers: bool


class Dialect(StrEnum):
    """A wire dialect; equal to (and formatted as) its public string, ``runway`` or ``proxy``."""

    RUNWAY = "runway"
    PROXY = "proxy"

    @classmethod
    def of(cls, value: Dialect | str) -> Dialect:
        """The dialect named `value` (a `Dialect` is returned as is).

        Raises:
            ValueError: `value` names no dialect; the message says which exist.
        """
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"dialect {value!r} is not supported; use 'runway' or 'proxy'"
            ) from None

    @property
    def _traits(self) -> _Traits:
        return _TRAITS[self]

    @property
    def default_base_url(self) -> str:
        """The public API root used when neither a base URL nor ``RUNWAYML_BASE_URL`` is set."""
        return self._traits.default_base_url

    @property
    def uploads(self) -> bool:
        """True when ephemeral uploads (``POST /v1/uploads``, ``runway://``) are offered."""
        return self._traits.uploads

    @property
    def daily_limit_429(self) -> bool:
        """True when a 429 on create means the daily generation limit unless its body says
        otherwise (the official API's rule; a proxy's 429 may be its own throttling)."""
        return self._traits.daily_limit_429

    @property
    def known_models_only(self) -> bool:
        """True when retired and unknown models are refused before any credit is spent (a
        proxy may serve retired models and models of its own)."""
        return self._traits.known_models_only

    @property
    def wraps_answers(self) -> bool:
        """True when answers may come in a ``{code, message, request_id, data}`` envelope,
        errors included (e.g. HTTP 200 with ``{"code": 500}``)."""
        return self._traits.wraps_answers

    @property
    def create_path(self) -> str:
        """The image-to-video create, relative to the base URL."""
        return CREATE_PATH

    def task_path(self, task_id: str) -> str:
        """A task's path (GET polls it, DELETE cancels or deletes it); `task_id` unchecked."""
        return f"{TASKS_PATH}/{task_id}"

    @property
    def uploads_path(self) -> str:
        """Where an ephemeral upload is requested (only where `uploads`)."""
        return UPLOADS_PATH

    @property
    def organization_path(self) -> str:
        """Credit balance, tier limits and today's usage."""
        return ORGANIZATION_PATH

    @property
    def usage_path(self) -> str:
        """Net credits per UTC day and model (``POST``, a date range in the body)."""
        return USAGE_PATH

    def headers(self, api_key: str, api_version: str) -> dict[str, str]:
        """The headers of every API request: bearer auth and the version header."""
        return {
            "Authorization": f"Bearer {api_key}",
            VERSION_HEADER: api_version,
            "Accept": "application/json",
            "User-Agent": "prefect-runway",
        }


_TRAITS: dict[Dialect, _Traits] = {
    Dialect.RUNWAY: _Traits(
        default_base_url="https://api.dev.runwayml.com",
        uploads=True,
        daily_limit_429=True,
        known_models_only=True,
        wraps_answers=False,
    ),
    Dialect.PROXY: _Traits(
        default_base_url="https://www.anyapi.vip/runwayml",
        uploads=False,
        daily_limit_429=False,
        known_models_only=False,
        wraps_answers=True,
    ),
}

SUCCESS_CODES = frozenset({0, 200, "0", "200", "success", "SUCCESS", "ok", "OK"})
"""A wrapped ``code`` that says success."""
_ID_KEYS = ("task_id", "id", "taskId")


def envelope_data(body: Any) -> dict[str, Any] | None:
    """The ``data`` of a proxy's ``{code, message, request_id, data: {...}}`` answer, else None.

    An answer counts as wrapped when its ``data`` is an object and it carries a ``code`` or
    its ``data`` a task ID (``task_id``, ``id`` or ``taskId``). The envelope's own fields
    (``code``, ``message``, ``request_id``) stay in `body` for the caller.
    """
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    if "code" in body or any(key in data for key in _ID_KEYS):
        return data
    return None


def task_fields(body: Any) -> Any:
    """A task answer as the official shape: unwrapped from a proxy's envelope, with the
    proxy's ``task_id`` as ``id`` and its ``task_status`` (upper-cased) as ``status``.

    Anything else is returned as is, for the caller's validation to judge.
    """
    data = envelope_data(body)
    if data is None:
        return body
    fields = dict(data)
    if "id" not in fields and "task_id" in fields:
        fields["id"] = fields["task_id"]
    if "status" not in fields and isinstance(fields.get("task_status"), str):
        fields["status"] = fields["task_status"].upper()
    return fields


def failure_code(body: Any) -> Any:
    """A wrapped ``code`` when it says failure (an int when numeric), else None."""
    if not isinstance(body, dict) or "code" not in body or body["code"] in SUCCESS_CODES:
        return None
    code = body["code"]
    return int(code) if isinstance(code, str) and code.strip().isdigit() else code


__all__ = [
    "CREATE_PATH",
    "ORGANIZATION_PATH",
    "USAGE_PATH",
    "SUCCESS_CODES",
    "TASKS_PATH",
    "UPLOADS_PATH",
    "VERSION_HEADER",
    "Dialect",
    "envelope_data",
    "failure_code",
    "task_fields",
]
