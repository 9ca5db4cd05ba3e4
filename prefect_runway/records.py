"""Moved to :mod:`prefect_runway.ledger.records`; this path goes away in 0.4."""

from prefect_runway._moved import alias

alias(__name__, "prefect_runway.ledger.records")
