"""The query of ``POST /v1/organization/usage``: its UTC date range, read as Runway reads it.

``startDate`` and ``beforeDate`` are ISO-8601 dates (``YYYY-MM-DD``, UTC); ``beforeDate`` is
not included. Unspecified, ``startDate`` is 30 days before today and ``beforeDate`` 30 days
after ``startDate`` (so ``{}`` covers the 30 days before today, not today itself). The range
may be empty (``startDate == beforeDate``) and spans at most 90 days.

Example:
    >>> from datetime import date
    >>> usage_range({"startDate": "2026-03-01", "beforeDate": "2026-03-08"}, date(2026, 3, 9))
    (datetime.date(2026, 3, 1), datetime.date(2026, 3, 8))
    >>> usage_range({"startDate": "2026-03-01", "beforeDate": "2026-07-01"}, date(2026, 3, 9))
    [{'path': ['beforeDate'], 'message': 'beforeDate must be at most 90 days after startDate.'}]
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from prefect_runway.api import limits as LIMITS  # data only

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(body: dict[str, Any], name: str, issues: list[dict[str, Any]]) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    issues.append({"path": [name], "message": f"{name} must be a date as YYYY-MM-DD (UTC)."})
    return None


def usage_range(body: Any, today: date) -> tuple[date, date] | list[dict[str, Any]]:
    """The ``[start, before)`` range a usage query asks for, or its issues (a 400's).

    Args:
        body: The request's JSON body (``{}`` for none).
        today: The current UTC date (the emulator's clock).
    """
    if not isinstance(body, dict):
        return [{"path": [], "message": "The body must be a JSON object."}]
    issues: list[dict[str, Any]] = []
    start = _date(body, "startDate", issues)
    before = _date(body, "beforeDate", issues)
    if issues:
        return issues
    start = start or today - timedelta(days=LIMITS.DEFAULT_USAGE_DAYS)
    before = before or start + timedelta(days=LIMITS.DEFAULT_USAGE_DAYS)
    if before < start:
        return [{"path": ["beforeDate"], "message": "beforeDate must not be before startDate."}]
    if before - start > timedelta(days=LIMITS.MAX_USAGE_DAYS):
        message = f"beforeDate must be at most {LIMITS.MAX_USAGE_DAYS} days after startDate."
        return [{"path": ["beforeDate"], "message": message}]
    return start, before
