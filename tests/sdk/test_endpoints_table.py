"""The committed endpoints table is what ``make update-models`` makes of the pinned sdist."""

from __future__ import annotations

import pytest

from prefect_runway.api import endpoints
from prefect_runway.api.rules import SDK_VERSION
from scripts import update_models
from tests.sdk import fetch


@pytest.fixture(scope="module")
def type_files() -> dict[str, str]:
    try:
        folder = fetch.fetch(SDK_VERSION)
    except fetch.Unavailable as exc:
        pytest.skip(f"the runwayml {SDK_VERSION} sdist is not here: {exc}")
    return update_models.read_type_files(folder / f"runwayml-{SDK_VERSION}.tar.gz")


def test_the_endpoints_table_is_regenerated_unchanged(type_files: dict[str, str]) -> None:
    assert endpoints.SDK_VERSION == SDK_VERSION
    assert update_models.build_endpoints(type_files) == endpoints.ENDPOINTS


def test_every_task_creating_type_file_of_the_sdist_is_in_the_table(
    type_files: dict[str, str],
) -> None:
    # Not tasks (runway-api.md): avatars, documents, realtime sessions, routers, voices; and
    # image_to_video, whose table is api/rules.py.
    not_tasks = {"avatar_create_params.py", "document_create_params.py",
                 "realtime_session_create_params.py", "router_create_params.py",
                 "voice_create_params.py", "image_to_video_create_params.py"}  # fmt: skip
    creating = {name for name in type_files
                if name.endswith("_create_params.py") or name.startswith("recipe_")
                and name.endswith("_params.py")} - not_tasks  # fmt: skip
    assert creating == set(update_models.ENDPOINT_FACTS)
