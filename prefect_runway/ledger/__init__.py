"""The once-only engine: keys, the ledger of records, its stores and locks, and batches.

Every generation that may cost money goes through :mod:`prefect_runway.ledger.engine`, which
writes the record before the POST and after it; the other modules are its parts.
"""
