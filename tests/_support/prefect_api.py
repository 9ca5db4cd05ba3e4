"""Reading back from the Prefect API what flow runs published: artifacts and events."""

from __future__ import annotations

import asyncio

import httpx


async def read_artifact(key: str):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        [artifact] = await client.read_latest_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return artifact


async def read_events(prefix: str, task_ids: set[str], expected: int) -> list[dict]:
    """The events under ``prefix`` about ``task_ids``, once ``expected`` of them arrived.

    Events are delivered asynchronously, and the harness's server keeps those of earlier
    tests, so the count that matters is the count about these tasks.
    """
    return await read_resource_events(prefix, {f"runway.task.{t}" for t in task_ids}, expected)


async def read_resource_events(
    prefix: str, resource_ids: set[str], expected: int, tries: int = 300
) -> list[dict]:
    """The events under ``prefix`` about the resources ``resource_ids``, once ``expected`` of
    them arrived (or after `tries` reads, 0.2 s apart)."""
    from prefect.settings import PREFECT_API_URL

    async with httpx.AsyncClient(base_url=PREFECT_API_URL.value()) as http:
        for _ in range(tries):
            response = await http.post("/events/filter", json={"filter": {
                "event": {"prefix": [prefix]}, "resource": {"id": sorted(resource_ids)}}})
            response.raise_for_status()
            events = response.json()["events"]
            if len(events) >= expected:
                return events
            await asyncio.sleep(0.2)
    return events


async def read_asset_events(keys: set[str], expected: int, tries: int = 300) -> list[dict]:
    """The asset materialization events of the assets `keys`, once `expected` arrived (or
    after `tries` reads, 0.2 s apart)."""
    from prefect.settings import PREFECT_API_URL

    async with httpx.AsyncClient(base_url=PREFECT_API_URL.value()) as http:
        for _ in range(300):
            response = await http.post("/events/filter", json={"filter": {
                "event": {"prefix": ["prefect.asset.materialization"]},
                "resource": {"id": sorted(keys)}}})  # fmt: skip
            response.raise_for_status()
            events = response.json()["events"]
            if len(events) >= expected or tries <= 1:
                return events
            tries -= 1
            await asyncio.sleep(0.2)
    return events
