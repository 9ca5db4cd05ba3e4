"""Runway's API as data and HTTP: models, the generated rules, and the sync/async clients.

Nothing here knows Prefect, S3 or the ledger; every other layer builds on this one.
"""
