"""Reading the lock calls that conftest's `lock_calls` fixture records."""

from __future__ import annotations


def contenders(calls: list[tuple[str, str, bool]]) -> int:
    """The most holders that asked for one key: 2 once a second run reached a held lock."""
    holders: dict[str, set[str]] = {}
    for key, holder, _ in list(calls):
        holders.setdefault(key, set()).add(holder)
    return max((len(h) for h in holders.values()), default=0)
