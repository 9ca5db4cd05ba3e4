"""The emulator's other task endpoints (``prefect_runway/api/endpoints.py``), over real HTTP:
the same task machine, costs, validation shape and faults as image-to-video."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from prefect_runway.api.endpoints import ENDPOINTS
from prefect_runway.testing.emulator import Emulator, Faults

KEY = "key_test"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
TEXT_TO_VIDEO = {"model": "gen4.5", "promptText": "a cat", "ratio": "1280:720", "duration": 5}
TEXT_TO_IMAGE = {"model": "gen4_image", "promptText": "a cat", "ratio": "1920:1080"}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=KEY, generation_seconds=0.2, credit_balance=1000) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=5) as c:
        yield c


def finish(c: httpx.Client, task_id: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll until the task is finished; return it, having seen it RUNNING or THROTTLED first."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = c.get(f"/v1/tasks/{task_id}").json()
        seen.add(task["status"])
        if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            assert seen & {"PENDING", "THROTTLED", "RUNNING"}, seen
            return task
        assert time.monotonic() < deadline, f"task stuck in {task['status']}"
        time.sleep(0.01)


def test_text_to_video_goes_through_the_lifecycle_to_a_video(client: httpx.Client) -> None:
    created = client.post("/v1/text_to_video", json=TEXT_TO_VIDEO)

    assert created.status_code == 200
    credits = ENDPOINTS["/v1/text_to_video"]["credits"]
    assert created.json()["estimatedCost"] == {"credits": credits}
    task = finish(client, created.json()["id"])
    assert task["status"] == "SUCCEEDED" and task["cost"] == {"credits": credits}
    [url] = task["output"]
    video = httpx.get(url)
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert client.get("/v1/organization").json()["creditBalance"] == 1000 - credits


def test_text_to_image_outputs_as_many_images_as_asked_and_costs_per_image(
    client: httpx.Client,
) -> None:
    created = client.post("/v1/text_to_image", json={**TEXT_TO_IMAGE, "outputCount": 3})

    assert created.status_code == 200, created.text
    credits = 3 * ENDPOINTS["/v1/text_to_image"]["credits"]
    assert created.json()["estimatedCost"] == {"credits": credits}
    task = finish(client, created.json()["id"])
    assert task["status"] == "SUCCEEDED" and task["cost"] == {"credits": credits}
    assert len(task["output"]) == 3
    for url in task["output"]:
        image = httpx.get(url)
        assert image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_audio_endpoints_output_audio_and_avatar_videos_send_no_estimate(
    client: httpx.Client,
) -> None:
    speech = client.post("/v1/sound_effect", json={"model": "eleven_text_to_sound_v2",
                                                   "promptText": "rain"})  # fmt: skip
    assert "estimatedCost" in speech.json()
    [url] = finish(client, speech.json()["id"])["output"]
    audio = httpx.get(url)
    assert audio.headers["content-type"] == "audio/wav" and audio.content[8:12] == b"WAVE"

    avatar = client.post("/v1/avatar_videos", json={
        "model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "game-character"},
        "speech": {"type": "text", "text": "hello"}})  # fmt: skip
    assert avatar.status_code == 200, avatar.text
    assert set(avatar.json()) == {"id"}


def test_an_unknown_model_is_the_apis_400_naming_the_field(
    emu: Emulator, client: httpx.Client
) -> None:
    r = client.post("/v1/text_to_video", json={**TEXT_TO_VIDEO, "model": "gen9"})

    assert r.status_code == 400
    payload = r.json()
    assert payload["error"] == "Validation of body failed"
    [issue] = payload["issues"]
    assert issue["path"] == ["model"] and "'gen9'" in issue["message"]
    assert emu.stats()["rejected"] == {"validation": 1}
    assert emu.stats()["tasks_created"] == 0


def test_a_value_outside_the_literals_is_the_apis_400_naming_the_field(
    client: httpx.Client,
) -> None:
    r = client.post("/v1/text_to_image", json={**TEXT_TO_IMAGE, "ratio": "7:3"})

    assert r.status_code == 400
    [issue] = r.json()["issues"]
    assert issue["path"] == ["ratio"]
    assert "ratio '7:3' is not supported by model gen4_image" in issue["message"]


def test_a_missing_required_field_and_a_bad_media_url_are_named(client: httpx.Client) -> None:
    r = client.post("/v1/video_to_hdr", json={"model": "ruby", "videoUri": "http://1.2.3.4/v.mp4"})
    assert r.status_code == 400
    assert [i["path"] for i in r.json()["issues"]] == [["videoUri"]]

    r = client.post("/v1/generate/image", json={"configId": "cfg", "input": {}})
    assert r.status_code == 400
    assert [i["path"] for i in r.json()["issues"]] == [["input", "promptText"]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/text_to_video", TEXT_TO_VIDEO),
        ("/v1/text_to_image", TEXT_TO_IMAGE),
        ("/v1/voice_isolation", {"model": "eleven_voice_isolation",
                                 "audioUri": "https://example.com/a.mp3"}),
    ],
)  # fmt: skip
def test_a_fault_injected_on_create_applies_to_any_endpoint(
    emu: Emulator, client: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    emu.set_faults(Faults(script=("429", "created:502", "ok")))

    assert client.post(path, json=body).status_code == 429  # before creating: no task
    lost = client.post(path, json=body)  # created, then a gateway's 502 without the API body
    assert lost.status_code == 502 and lost.headers["content-type"].startswith("text/html")
    assert client.post(path, json=body).status_code == 200
    assert emu.stats()["tasks_created"] == 2


def test_the_router_answers_with_its_routing(client: httpx.Client) -> None:
    r = client.post("/v1/generate/video", json={"configId": "cfg", "input": {"promptText": "x"}})

    assert r.status_code == 200, r.text
    routing = r.json()["routing"]
    assert routing["configId"] == "cfg" and routing["model"] == "gen4.5"
    assert routing["estimatedCost"] == {"credits": ENDPOINTS["/v1/generate/video"]["credits"]}
