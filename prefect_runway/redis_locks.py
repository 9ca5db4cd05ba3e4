"""Moved to :mod:`prefect_runway.ledger.redis_locks`; this path goes away in 0.4."""

from prefect_runway._moved import alias

alias(__name__, "prefect_runway.ledger.redis_locks")
