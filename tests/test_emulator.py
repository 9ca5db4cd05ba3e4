"""Tests of the local Runway API emulator, over real HTTP on loopback with plain httpx."""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from prefect_runway.testing.emulator import Emulator, Faults, main
from prefect_runway.testing.emulator.mp4 import VIDEO_MP4

KEY = "key_test"
HEADERS = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": "2024-11-06"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PNG_URI = "data:image/png;base64," + base64.b64encode(PNG).decode()
SUBMIT = "/v1/image_to_video"


def body(**overrides: Any) -> dict[str, Any]:
    """Return a valid gen4_turbo body with ``overrides`` applied (None removes a field)."""
    data: dict[str, Any] = {
        "promptImage": PNG_URI,
        "model": "gen4_turbo",
        "ratio": "1280:720",
        "duration": 5,
        "promptText": "a cat dancing",
    }
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


@pytest.fixture
def make_emulator(make_emulator: Callable[..., Emulator]) -> Callable[..., Emulator]:
    """conftest's factory with this module's defaults: the key KEY, 0.3 s generations."""

    def factory(**kwargs: Any) -> Emulator:
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("generation_seconds", 0.3)
        return make_emulator(**kwargs)

    return factory


@pytest.fixture
def emu(make_emulator: Callable[..., Emulator]) -> Emulator:
    return make_emulator()


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=5) as c:
        yield c


def wait_status(
    c: httpx.Client, task_id: str, wanted: set[str], timeout: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = c.get(f"/v1/tasks/{task_id}").json()
        if task["status"] in wanted:
            return task
        assert time.monotonic() < deadline, f"task stuck in {task['status']}"
        time.sleep(0.01)


# -- auth and version ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong_key", "Basic a2V5X3Rlc3Q=", "Bearer", KEY],
)
def test_bad_auth_is_401_without_echoing_the_key(emu: Emulator, auth: str | None) -> None:
    headers = {"X-Runway-Version": "2024-11-06"}
    if auth is not None:
        headers["Authorization"] = auth
    for method, path in [("POST", SUBMIT), ("GET", "/v1/tasks/x"), ("GET", "/v1/organization")]:
        r = httpx.request(method, emu.base_url + path, headers=headers, json=body())
        assert r.status_code == 401
        assert r.json() == {"error": "Invalid API key"}
        assert "wrong_key" not in r.text and KEY not in r.text
    assert emu.stats()["rejected"] == {"auth": 1}
    assert emu.stats()["tasks_created"] == 0


def test_any_key_accepted_when_no_key_configured(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    emu = make_emulator(api_key=None)
    headers = {**HEADERS, "Authorization": "Bearer anything"}
    r = httpx.get(emu.base_url + "/v1/organization", headers=headers)
    assert r.status_code == 200
    r = httpx.get(emu.base_url + "/v1/organization", headers={**HEADERS, "Authorization": ""})
    assert r.status_code == 401


def test_key_read_from_environment(
    make_emulator: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_env")
    emu = make_emulator(api_key=None)
    url = emu.base_url + "/v1/organization"
    assert httpx.get(url, headers={**HEADERS, "Authorization": "Bearer key_env"}).is_success
    assert httpx.get(url, headers=HEADERS).status_code == 401


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (None, "You must provide a X-Runway-Version header."),
        ("2020-01-01", "Unsupported API version: 2020-01-01."),
    ],
)
def test_version_header(emu: Emulator, version: str | None, message: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    if version is not None:
        headers["X-Runway-Version"] = version
    r = httpx.post(emu.base_url + SUBMIT, headers=headers, json=body())
    assert r.status_code == 400
    assert r.json() == {"error": message}
    assert emu.stats()["rejected"] == {"version": 1}


# -- validation ------------------------------------------------------------------------------

VALIDATION_CASES: list[tuple[str, dict[str, Any], list[Any], str]] = [
    ("missing image", body(promptImage=None), ["promptImage"], "promptImage is required"),
    ("http url", body(promptImage="http://example.com/a.png"), ["promptImage"], "HTTPS"),
    ("ip host", body(promptImage="https://10.0.0.1/a.png"), ["promptImage"], "IP address"),
    (
        "long url",
        body(promptImage="https://example.com/" + "a" * 2100),
        ["promptImage"],
        "the limit is 2048",
    ),
    (
        "gif data uri",
        body(promptImage="data:image/gif;base64,R0lGOD=="),
        ["promptImage"],
        "data:image/gif",
    ),
    (
        "bad base64",
        body(promptImage="data:image/png;base64,***not-base64***"),
        ["promptImage"],
        "not valid base64",
    ),
    (
        "data uri over 5,242,880 characters",
        body(promptImage="data:image/png;base64," + "A" * (5_242_880 - 21)),
        ["promptImage"],
        "data URI is 5242881 characters; the limit is 5242880 characters for the whole URI",
    ),
    (
        "runway uri over 5,000 characters",
        body(promptImage="runway://uploads/" + "a" * 4984),
        ["promptImage"],
        "runway:// URI is 5001 characters; the limit is 5000.",
    ),
    (
        "unknown runway uri",
        body(promptImage="runway://uploads/deadbeef"),
        ["promptImage"],
        "completed upload",
    ),
    ("image not a string", body(promptImage=5), ["promptImage"], "string or an array"),
    (
        "bad position",
        body(promptImage=[{"uri": PNG_URI, "position": "middle"}]),
        ["promptImage", 0, "position"],
        "'first' or 'last'",
    ),
    (
        "last frame on gen4_turbo",
        body(promptImage=[{"uri": PNG_URI, "position": "last"}]),
        ["promptImage", 0, "position"],
        "not supported by model gen4_turbo",
    ),
    ("missing model", body(model=None), ["model"], "model is required"),
    ("unknown model", body(model="gen2"), ["model"], "'gen2' is not supported"),
    ("missing ratio", body(ratio=None), ["ratio"], "ratio is required"),
    (
        "seed example ratio",
        body(ratio="1280:768"),
        ["ratio"],
        "ratio '1280:768' is not supported by model gen4_turbo",
    ),
    (
        "gen3a_turbo retired",
        body(model="gen3a_turbo", ratio="1280:768"),
        ["model"],
        "model 'gen3a_turbo' was retired (2026-07-30); use gen4_turbo instead.",
    ),
    (
        "veo3 retired",
        body(model="veo3", ratio="1280:720", duration=8),
        ["model"],
        "model 'veo3' was retired (SDK 5.14 (2026-08)); use veo3.1 instead.",
    ),
    (
        "gen4.5 needs duration",
        body(model="gen4.5", duration=None),
        ["duration"],
        "duration is required for model gen4.5.",
    ),
    (
        "veo3.1 refuses unknown fields",
        body(model="veo3.1", duration=8, watermark=False),
        ["watermark"],
        "Unrecognized key 'watermark' for model veo3.1.",
    ),
    (
        "contentModeration only on gen4",
        body(model="veo3.1", duration=8, contentModeration={"publicFigureThreshold": "low"}),
        ["contentModeration"],
        "Unrecognized key 'contentModeration' for model veo3.1.",
    ),
    (
        "last frame needs a first",
        body(model="veo3.1", duration=8, promptImage=[{"uri": PNG_URI, "position": "last"}]),
        ["promptImage"],
        "promptImage has a 'last' frame but no 'first' frame.",
    ),
    (
        "partner ratio",
        body(model="klingO3_pro", ratio="1280:720", duration=5),
        ["ratio"],
        "ratio '1280:720' is not supported by model klingO3_pro; expected one of "
        "1920:1080, 1080:1920, 1440:1440.",
    ),
    (
        "partner without ratio field",
        body(model="happyhorse_1_0", ratio="1280:720", duration=5),
        ["ratio"],
        "Unrecognized key 'ratio' for model happyhorse_1_0.",
    ),
    (
        "happyhorse prompt 2,501 units",
        body(model="happyhorse_1_0", ratio=None, duration=5, promptText="a" * 2501),
        ["promptText"],
        "promptText is 2501 UTF-16 code units long; the limit is 2500.",
    ),
    (
        "gemini_omni_flash duration 2",
        body(model="gemini_omni_flash", duration=2),
        ["duration"],
        "duration 2 is not supported by model gemini_omni_flash; expected an integer from 3 "
        "to 10.",
    ),
    (
        "seedance2 mixes keyframes and references",
        body(
            model="seedance2",
            promptImage=[{"uri": PNG_URI, "position": "first"}, {"uri": PNG_URI}],
        ),
        ["promptImage"],
        "cannot mix keyframes",
    ),
    ("duration too long", body(duration=11), ["duration"], "duration 11"),
    ("duration float", body(duration=5.5), ["duration"], "must be an integer"),
    ("veo3.1 duration 5", body(model="veo3.1", duration=5), ["duration"], "4, 6, 8"),
    ("seed negative", body(seed=-1), ["seed"], "0 to 4294967295"),
    ("seed too big", body(seed=4294967296), ["seed"], "4294967296"),
    ("seed bool", body(seed=True), ["seed"], "got true"),
    ("prompt text type", body(promptText=3), ["promptText"], "must be a string"),
    (
        "prompt text 1001 units",
        body(promptText="a" * 1001),
        ["promptText"],
        "1001 UTF-16 code units",
    ),
    (
        "prompt text emoji counts twice",
        body(promptText="\U0001f600" * 501),
        ["promptText"],
        "1002 UTF-16 code units",
    ),
    (
        "gen4.5 needs prompt text",
        body(model="gen4.5", promptText=None),
        ["promptText"],
        "required for model gen4.5",
    ),
    (
        "moderation threshold",
        body(contentModeration={"publicFigureThreshold": "high"}),
        ["contentModeration", "publicFigureThreshold"],
        "'auto' or 'low'",
    ),
]


@pytest.mark.parametrize(
    ("payload", "path", "fragment"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[case[0] for case in VALIDATION_CASES],
)
def test_validation_rules(
    client: httpx.Client, emu: Emulator, payload: dict[str, Any], path: list[Any], fragment: str
) -> None:
    r = client.post(SUBMIT, json=payload)
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "Validation of body failed"
    assert [issue["path"] for issue in data["issues"]] == [path]
    assert fragment in data["issues"][0]["message"]
    assert emu.stats()["tasks_created"] == 0
    assert emu.stats()["rejected"] == {"validation": 1}


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"'])
def test_body_must_be_a_json_object(client: httpx.Client, raw: bytes) -> None:
    r = client.post(SUBMIT, content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "Invalid JSON body."}


VALID_CASES: list[dict[str, Any]] = [
    body(),
    body(duration=None, watermark=False, seed=4294967295),
    body(model="gen4.5", duration=2, ratio="1584:672"),
    body(model="veo3.1_fast", ratio="1920:1080", duration=4),
    body(
        model="veo3.1",
        ratio="1280:720",
        duration=6,
        promptImage=[{"uri": PNG_URI, "position": "first"}, {"uri": PNG_URI, "position": "last"}],
    ),
    body(promptText="\U0001f600" * 500, contentModeration={"publicFigureThreshold": "low"}),
    body(promptImage="https://images.example.com/cat.png"),
]


@pytest.mark.parametrize("payload", VALID_CASES)
def test_valid_bodies_are_accepted(make_emulator: Callable[..., Emulator], payload: Any) -> None:
    emu = make_emulator(fetch_urls=False)
    r = httpx.post(emu.base_url + SUBMIT, headers=HEADERS, json=payload)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"id", "estimatedCost"}
    assert emu.tasks()[0]["body"] == payload


@pytest.mark.parametrize(
    ("model", "ratio", "duration", "credits"),
    [
        ("gen4_turbo", "1280:720", None, 50),
        ("gen4_turbo", "1280:720", 5, 25),
        ("gen4.5", "960:960", 10, 120),
        ("veo3.1", "1280:720", 4, 160),
        ("veo3.1_fast", "1280:720", None, 120),
        ("seedance2", "1280:720", "auto", 450),
        ("kling2.5_turbo_pro", None, None, 75),
    ],
)
def test_estimated_cost_and_credit_balance(
    client: httpx.Client,
    emu: Emulator,
    model: str,
    ratio: str | None,
    duration: int | str | None,
    credits: int,
) -> None:
    r = client.post(SUBMIT, json=body(model=model, ratio=ratio, duration=duration))
    assert r.status_code == 200
    assert r.json()["estimatedCost"] == {"credits": credits}
    assert client.get("/v1/organization").json()["creditBalance"] == 100000 - credits


def test_insufficient_credits(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(credit_balance=30)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        assert c.post(SUBMIT, json=body(duration=5)).status_code == 200
        r = c.post(SUBMIT, json=body(duration=5))
    assert r.status_code == 400
    assert r.json() == {"error": "You do not have enough credits to run this task."}
    assert emu.stats()["rejected"] == {"credits": 1}
    assert emu.stats()["tasks_created"] == 1


# -- lifecycle -------------------------------------------------------------------------------


def test_lifecycle_with_concurrency_one(make_emulator: Callable[..., Emulator]) -> None:
    # Generous timings: the lifecycle must hold on a loaded 2-core CI machine too.
    emu = make_emulator(concurrency=1, generation_seconds=1.0, pending_seconds=0.5)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        started = time.monotonic()
        first = c.post(SUBMIT, json=body()).json()["id"]
        second = c.post(SUBMIT, json=body(seed=1)).json()["id"]
        seen: list[tuple[str, str]] = []
        progress: dict[str, list[float]] = {first: [], second: []}
        while True:
            tasks = [c.get(f"/v1/tasks/{tid}").json() for tid in (first, second)]
            pair = (tasks[0]["status"], tasks[1]["status"])
            if not seen or seen[-1] != pair:
                seen.append(pair)
            for task in tasks:
                if task["status"] in ("PENDING", "THROTTLED", "RUNNING"):
                    assert task["estimatedCost"] == {"credits": 25}
                    assert "output" not in task
                if task["status"] == "RUNNING":
                    assert 0.0 <= task["progress"] <= 1.0
                    progress[task["id"]].append(task["progress"])
            if pair == ("SUCCEEDED", "SUCCEEDED"):
                break
            assert time.monotonic() - started < 6
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    assert seen[0] == ("PENDING", "PENDING")
    assert ("RUNNING", "THROTTLED") in seen
    assert ("SUCCEEDED", "RUNNING") in seen
    assert "RUNNING" not in {s[1] for s in seen[: seen.index(("RUNNING", "THROTTLED")) + 1]}
    for values in progress.values():
        assert values and values == sorted(values)
    assert 2.4 <= elapsed < 3.2
    final = c_get(emu, first)
    assert final["cost"] == {"credits": 25}
    assert final["createdAt"].endswith("Z")
    assert final["output"][0].startswith(f"{emu.root_url}/_emulator/videos/{first}.mp4?exp=")


def c_get(emu: Emulator, task_id: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{emu.base_url}/v1/tasks/{task_id}", headers=HEADERS).json()
    return result


def test_slots_are_scheduled_without_waiting_for_polls(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(concurrency=2, generation_seconds=1.0)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        ids = [c.post(SUBMIT, json=body(seed=i)).json()["id"] for i in range(5)]
        statuses = [c.get(f"/v1/tasks/{tid}").json()["status"] for tid in ids]
        assert statuses == ["RUNNING", "RUNNING", "THROTTLED", "THROTTLED", "THROTTLED"]
        time.sleep(2.5)  # nobody polls: tasks 3 and 4 must have run from 1 s to 2 s
        statuses = [c.get(f"/v1/tasks/{tid}").json()["status"] for tid in ids]
        assert statuses == ["SUCCEEDED"] * 4 + ["RUNNING"]
        assert c.get(f"/v1/tasks/{ids[4]}").json()["progress"] >= 0.4
        wait_status(c, ids[4], {"SUCCEEDED"}, timeout=3)
    assert emu.stats()["by_status"] == {"SUCCEEDED": 5}


def test_prompt_trigger_fails_task(client: httpx.Client, emu: Emulator) -> None:
    tid = client.post(SUBMIT, json=body(promptText="x [emulator:fail=SAFETY.INPUT.TEXT]")).json()
    task = wait_status(client, tid["id"], {"SUCCEEDED", "FAILED"})
    assert task["status"] == "FAILED"
    assert task["failureCode"] == "SAFETY.INPUT.TEXT"
    assert task["failure"] == "Generation failed (SAFETY.INPUT.TEXT)."
    assert task["cost"] == {"credits": 0}
    assert "output" not in task
    assert client.get("/v1/organization").json()["creditBalance"] == 100000


def test_unknown_task_is_404(client: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        r = client.request(method, "/v1/tasks/6f1c1a1e-0000-4000-8000-000000000000")
        assert r.status_code == 404
        assert r.json() == {"error": "Task not found."}


# -- outputs ---------------------------------------------------------------------------------


def test_output_video_download(client: httpx.Client, emu: Emulator) -> None:
    tid = client.post(SUBMIT, json=body()).json()["id"]
    url = wait_status(client, tid, {"SUCCEEDED"})["output"][0]
    r = httpx.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "video/mp4"
    assert int(r.headers["content-length"]) == len(r.content) == len(VIDEO_MP4)
    size = struct.unpack(">I", r.content[:4])[0]
    assert r.content[4:12] == b"ftypisom"
    boxes = []
    offset = 0
    while offset < len(r.content):
        box_size, kind = struct.unpack(">I4s", r.content[offset : offset + 8])
        boxes.append(kind)
        if kind == b"moov":
            assert r.content[offset + 12 : offset + 16] == b"mvhd"
            assert struct.unpack(">I", r.content[offset + 8 : offset + 12])[0] == 108
        offset += box_size
    assert offset == len(r.content) and size == 28
    assert boxes == [b"ftyp", b"moov", b"mdat"]
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(VIDEO_MP4))
    unknown = url.replace(tid, "00000000-0000-4000-8000-000000000000")
    assert httpx.get(unknown).status_code == 404


def test_expired_output_url_is_403(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(output_url_ttl=-10)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        url = wait_status(c, tid, {"SUCCEEDED"})["output"][0]
    assert httpx.get(url).status_code == 403
    assert httpx.get(url.split("?")[0]).status_code == 403


# -- cancel and delete -----------------------------------------------------------------------


def test_cancel_running_frees_slot_and_delete_finished(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(concurrency=1, generation_seconds=2.0)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        running = c.post(SUBMIT, json=body()).json()["id"]
        throttled = c.post(SUBMIT, json=body(seed=2)).json()["id"]
        queued = c.post(SUBMIT, json=body(seed=3)).json()["id"]
        assert c.get(f"/v1/tasks/{throttled}").json()["status"] == "THROTTLED"
        r = c.delete(f"/v1/tasks/{queued}")
        assert r.status_code == 204 and r.content == b""
        r = c.delete(f"/v1/tasks/{running}")
        assert r.status_code == 204
        cancelled = c.get(f"/v1/tasks/{running}").json()
        assert cancelled["status"] == "CANCELLED"
        assert cancelled["cost"] == {"credits": 0}
        assert "estimatedCost" not in cancelled
        assert c.get(f"/v1/tasks/{queued}").json()["status"] == "CANCELLED"
        assert c.get(f"/v1/tasks/{throttled}").json()["status"] == "RUNNING"
        assert c.get("/v1/organization").json()["creditBalance"] == 100000 - 25
        wait_status(c, throttled, {"SUCCEEDED"})
        assert c.delete(f"/v1/tasks/{throttled}").status_code == 204
        assert c.get(f"/v1/tasks/{throttled}").status_code == 404
        assert c.delete(f"/v1/tasks/{throttled}").status_code == 404
    stats = emu.stats()
    assert stats["cancels"] == 4
    assert stats["by_status"] == {"CANCELLED": 2}


# -- organization and uploads ----------------------------------------------------------------


def test_organization(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(concurrency=3, credit_balance=1000)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        c.post(SUBMIT, json=body())
        c.post(SUBMIT, json=body(model="veo3.1", duration=8))
        org = c.get("/v1/organization").json()
    assert org["creditBalance"] == 1000 - 25 - 320
    assert org["tier"]["maxMonthlyCreditSpend"] == 100000
    assert org["tier"]["models"]["gen4_turbo"] == {
        "maxConcurrentGenerations": 3,
        "maxDailyGenerations": 10000,
    }
    assert org["usage"]["models"]["gen4_turbo"] == {"dailyGenerations": 1}
    assert org["usage"]["models"]["veo3.1"] == {"dailyGenerations": 1}
    # Every model of every task endpoint, each with its own limits (25 image-to-video ones;
    # text_to_video shares most of them).
    assert len(org["tier"]["models"]) == len(org["usage"]["models"]) == 69
    assert org["tier"]["models"]["gen4_image"] == org["tier"]["models"]["act_two"]
    assert org["usage"]["models"]["seedance2_5"] == {"dailyGenerations": 0}
    assert org["usage"]["models"]["gen4.5"] == {"dailyGenerations": 0}
    assert emu.stats()["organization"] == 1


def test_organization_usage_nets_refunds(client: httpx.Client, emu: Emulator) -> None:
    today = datetime.now(timezone.utc).date()
    days = {"startDate": today.isoformat(), "beforeDate": (today + timedelta(1)).isoformat()}
    assert client.post("/v1/organization/usage", json=days).json() == {"models": [], "results": []}
    client.post(SUBMIT, json=body())
    cancelled = client.post(SUBMIT, json=body(model="veo3.1", duration=8)).json()["id"]
    client.delete(f"/v1/tasks/{cancelled}")
    assert client.post("/v1/organization/usage", json={}).json()["results"] == []  # not today
    usage = client.post("/v1/organization/usage", json=days).json()
    assert usage["models"] == ["gen4_turbo"]
    assert usage["results"][0]["usedCredits"] == [{"model": "gen4_turbo", "amount": 25}]


def test_proxy_dialect_still_serves_retired_models(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(dialect="proxy", proxy_submit_shape="plain")
    seed = body(model="gen3a_turbo", ratio="1280:768", duration=10, watermark=False)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        assert c.post(SUBMIT, json=seed).status_code == 200
        r = c.post(SUBMIT, json=body(model="gen3a_turbo", ratio="1280:720"))
    assert r.status_code == 400
    assert "ratio '1280:720' is not supported by model gen3a_turbo" in r.text


def test_upload_roundtrip(client: httpx.Client, emu: Emulator) -> None:
    r = client.post("/v1/uploads", json={"filename": "cat.png", "type": "ephemeral"})
    assert r.status_code == 200
    slot = r.json()
    token = slot["fields"]["key"]
    assert slot["uploadUrl"] == f"{emu.root_url}/_emulator/uploads/{token}"
    assert slot["runwayUri"] == f"runway://uploads/{token}"
    early = client.post(SUBMIT, json=body(promptImage=slot["runwayUri"]))
    assert early.status_code == 400 and "completed upload" in early.text

    bad = httpx.post(slot["uploadUrl"], data=slot["fields"], files={"file": ("a.gif", b"GIF89a")})
    assert bad.status_code == 400 and "not a JPEG, PNG or WebP" in bad.text
    image = PNG + b"\r\n--tail\r\n"
    up = httpx.post(slot["uploadUrl"], data=slot["fields"], files={"file": ("cat.png", image)})
    assert up.status_code == 204
    r = client.post(SUBMIT, json=body(promptImage=slot["runwayUri"]))
    assert r.status_code == 200, r.text
    assert emu.stats()["uploads"] == 1

    assert client.post("/v1/uploads", json={"filename": "x.png"}).status_code == 400
    unknown = f"{emu.root_url}/_emulator/uploads/00ff"
    assert httpx.post(unknown, files={"file": ("a.png", PNG)}).status_code == 404
    assert httpx.post(slot["uploadUrl"], content=PNG).status_code == 400


# -- faults ----------------------------------------------------------------------------------


def fresh_post(emu: Emulator, payload: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=5) as c:
        return c.post(SUBMIT, json=payload)


def test_fault_429(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_429=1.0, retry_after=0.05, seed=1))
    r = fresh_post(emu, body())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "0.05"
    assert "error" in r.json()
    stats = emu.stats()
    assert stats["rejected"] == {"fault_429": 1}
    assert stats["posts"] == 1 and stats["tasks_created"] == 0


def test_fault_5xx(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_5xx=1.0, seed=2))
    codes = {fresh_post(emu, body()).status_code for _ in range(12)}
    assert codes <= {502, 503, 504} and len(codes) >= 2
    assert emu.stats()["rejected"] == {"fault_5xx": 12}
    assert emu.stats()["tasks_created"] == 0


def test_fault_malformed(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_malformed=1.0, seed=3))
    r = fresh_post(emu, body())
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    assert emu.stats()["rejected"] == {"fault_malformed": 1}
    assert emu.stats()["tasks_created"] == 0


def test_fault_reset_creates_no_task(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_reset=1.0, seed=4))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        fresh_post(emu, body())
    stats = emu.stats()
    assert stats["rejected"] == {"fault_reset": 1}
    assert stats["posts"] == 1 and stats["tasks_created"] == 0
    assert emu.tasks() == []


def test_fault_lost_response_creates_task(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_lost_response=1.0, seed=5))
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        fresh_post(emu, body())
    stats = emu.stats()
    assert stats["lost_responses"] == 1 and stats["tasks_created"] == 1
    assert len(emu.tasks()) == 1
    emu.set_faults(Faults())
    assert fresh_post(emu, body()).status_code == 200
    assert emu.stats()["duplicates"] == 1


def test_held_submits_wait_at_the_gate_uncounted_until_released(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator()
    emu.hold_submits()
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(fresh_post, emu, body(seed=i)) for i in range(2)]
        deadline = time.monotonic() + 10
        while emu.held_submits < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert emu.stats()["posts"] == 0 and emu.tasks() == []
        assert httpx.get(emu.base_url + "/v1/organization", headers=HEADERS).status_code == 200
        emu.release_submits()
        assert [a.result(timeout=10).status_code for a in answers] == [200, 200]
    assert emu.held_submits == 0 and emu.stats()["tasks_created"] == 2


def test_fault_task_failure(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_task_failure=1.0, failure_code="INTERNAL.X", seed=6))
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        task = wait_status(c, tid, {"SUCCEEDED", "FAILED"})
    assert task["status"] == "FAILED" and task["failureCode"] == "INTERNAL.X"
    assert emu.stats()["by_status"] == {"FAILED": 1}


def test_latency_applies_to_api_requests(make_emulator: Callable[..., Emulator]) -> None:
    # A whole second: the health check stays under it even on a busy machine.
    emu = make_emulator(faults=Faults(latency=1.0))
    started = time.monotonic()
    assert httpx.get(emu.base_url + "/v1/organization", headers=HEADERS).status_code == 200
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    assert httpx.get(emu.root_url + "/_emulator/health").status_code == 200
    assert time.monotonic() - started < 1.0


def test_faults_are_reproducible_with_a_seed(make_emulator: Callable[..., Emulator]) -> None:
    def run() -> list[int]:
        emu = make_emulator(faults=Faults(rate_429=0.5, seed=42))
        with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
            return [c.post(SUBMIT, json=body(seed=i)).status_code for i in range(20)]

    first, second = run(), run()
    assert first == second
    assert {200, 429} == set(first)


def test_faults_and_reset_over_http(client: httpx.Client, emu: Emulator) -> None:
    r = httpx.post(emu.root_url + "/_emulator/faults", json={"rate_429": 1.0, "seed": 1})
    assert r.status_code == 200 and r.json()["rate_429"] == 1.0
    assert emu.faults.rate_429 == 1.0
    assert client.post(SUBMIT, json=body()).status_code == 429
    bad = httpx.post(emu.root_url + "/_emulator/faults", json={"rate_nope": 1})
    assert bad.status_code == 400
    assert httpx.post(emu.root_url + "/_emulator/faults", json={"rate_429": 2}).status_code == 400
    httpx.post(emu.root_url + "/_emulator/faults", json={})
    assert client.post(SUBMIT, json=body()).status_code == 200
    assert httpx.post(emu.root_url + "/_emulator/reset").status_code == 200
    stats = httpx.get(emu.root_url + "/_emulator/stats").json()
    assert stats["posts"] == 0 and stats["tasks_created"] == 0 and stats["by_status"] == {}
    assert emu.tasks() == []
    assert httpx.get(emu.root_url + "/_emulator/health").json() == {"ok": True}


def test_duplicates_and_stats_invariant(client: httpx.Client, emu: Emulator) -> None:
    for _ in range(3):
        client.post(SUBMIT, json=body())
    client.post(SUBMIT, json=dict(reversed(list(body().items()))))  # same body, other key order
    client.post(SUBMIT, json=body(seed=9))
    client.post(SUBMIT, json=body(ratio="1:1"))
    stats = emu.stats()
    assert stats["tasks_created"] == 5
    assert stats["duplicates"] == 3
    assert stats["posts"] == stats["tasks_created"] + sum(stats["rejected"].values())


def test_many_concurrent_keep_alive_connections(emu: Emulator) -> None:
    def worker(i: int) -> int:
        with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
            tid = c.post(SUBMIT, json=body(seed=i)).json()["id"]
            return sum(c.get(f"/v1/tasks/{tid}").status_code == 200 for _ in range(10))

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(worker, range(64)))
    assert results == [10] * 64
    stats = emu.stats()
    assert stats["tasks_created"] == 64 and stats["polls"] == 64 * 10


# -- proxy dialect ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["wrapped", "state", "plain"])
def test_proxy_submit_shapes(make_emulator: Callable[..., Emulator], shape: str) -> None:
    emu = make_emulator(dialect="proxy", proxy_submit_shape=shape)
    assert emu.base_url == emu.root_url + "/runwayml"
    headers = {"Authorization": f"Bearer {KEY}"}  # no version header needed
    with httpx.Client(base_url=emu.base_url, headers=headers) as c:
        r = c.post(SUBMIT, json=body())
        assert r.status_code == 200
        data = r.json()
        if shape == "wrapped":
            assert data["code"] == 200 and data["message"] == "success"
            assert data["request_id"]
            assert data["data"]["task_status"] == "PENDING"
            assert isinstance(data["data"]["created_at"], int)
            task_id = data["data"]["task_id"]
        elif shape == "state":
            assert data["state"] == "pending" and data["video"] is None
            assert data["created_at"].endswith("Z")
            task_id = data["id"]
        else:
            assert list(data) == ["id"]
            task_id = data["id"]
        task = c.get(f"/v1/tasks/{task_id}").json()
        assert task["id"] == task_id and task["status"] in ("PENDING", "RUNNING")
        r = c.post(SUBMIT, json=body(ratio="1280:768"))
        assert r.status_code == 400
        if shape == "wrapped":
            err = r.json()
            assert err["code"] == 400 and err["data"] is None and err["request_id"]
            assert "1280:768" in err["message"]
        else:
            assert r.json()["error"] == "Validation of body failed"
        assert c.get("/v1/organization").status_code == 200
    assert httpx.post(emu.root_url + SUBMIT, headers=HEADERS, json=body()).status_code == 404


def test_proxy_wrapped_error_fault(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(dialect="proxy", faults=Faults(rate_wrapped_error=1.0, seed=7))
    r = fresh_post(emu, body())
    assert r.status_code == 200
    data = r.json()
    assert data["code"] == 500 and data["message"] == "upstream channel error"
    assert data["data"] is None and data["request_id"]
    assert emu.stats()["rejected"] == {"fault_wrapped_error": 1}
    assert emu.tasks() == []


def test_wrapped_error_fault_is_ignored_by_official_dialect(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(faults=Faults(rate_wrapped_error=1.0))
    assert fresh_post(emu, body()).status_code == 200


def test_proxy_not_found_window_and_no_delete(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(dialect="proxy", proxy_submit_shape="plain", proxy_not_found_seconds=1.0)
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        assert c.get(f"/v1/tasks/{tid}").status_code == 404
        time.sleep(1.05)
        assert c.get(f"/v1/tasks/{tid}").status_code == 200
        r = c.delete(f"/v1/tasks/{tid}")
        assert r.status_code == 405 and r.json() == {"error": "Method not allowed"}
        r = c.post("/v1/uploads", json={"filename": "a.png", "type": "ephemeral"})
        assert r.status_code == 404 and r.json() == {"error": "Not found"}


# -- GET faults (polls) ----------------------------------------------------------------------


def test_get_script_answers_the_next_polls_in_order_and_counts_them(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator()
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        emu.set_faults(Faults(get_script=("500", "404", "5xx", "ok", "slow"),
                              get_statuses_5xx=(503,), slow_seconds=0.3))  # fmt: skip
        codes = [c.get(f"/v1/tasks/{tid}").status_code for _ in range(4)]
        started = time.monotonic()
        slow = c.get(f"/v1/tasks/{tid}")
        took = time.monotonic() - started
        assert c.get(f"/v1/tasks/{tid}").status_code == 200  # the script is used up
        assert c.delete(f"/v1/tasks/{tid}").status_code == 204  # DELETE takes no GET fault
    assert codes == [500, 404, 503, 200]
    assert slow.status_code == 200 and slow.json()["id"] == tid and took >= 0.3
    stats = emu.stats()
    assert stats["get_faults"] == {"500": 1, "404": 1, "503": 1, "slow": 1}
    assert stats["polls"] == 6


def test_get_not_found_seconds_hides_each_fresh_task_in_any_dialect(
    make_emulator: Callable[..., Emulator],
) -> None:
    emu = make_emulator(faults=Faults(get_not_found_seconds=0.5))
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        assert c.get(f"/v1/tasks/{tid}").status_code == 404
        time.sleep(0.55)
        assert c.get(f"/v1/tasks/{tid}").status_code == 200
        other = c.post(SUBMIT, json=body(seed=2)).json()["id"]
        assert c.get(f"/v1/tasks/{other}").status_code == 404  # its own window, from creation
    assert emu.stats()["get_faults"] == {"404": 2}


def test_get_bursts_cover_a_window_of_emulator_time(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator()
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        r = httpx.post(emu.root_url + "/_emulator/faults",
                       json={"get_bursts": [["503", 0, 0.4], ["404", 0.4, 100]]})  # fmt: skip
        assert r.status_code == 200
        assert r.json()["get_bursts"] == [["503", 0, 0.4], ["404", 0.4, 100]]
        assert c.get(f"/v1/tasks/{tid}").status_code == 503
        time.sleep(0.45)
        assert c.get(f"/v1/tasks/{tid}").status_code == 404
        emu.advance_clock(100)  # past the second window
        assert c.get(f"/v1/tasks/{tid}").status_code == 200
    assert emu.stats()["get_faults"] == {"503": 1, "404": 1}


def test_get_fault_rates_and_reset(make_emulator: Callable[..., Emulator]) -> None:
    emu = make_emulator(faults=Faults(rate_get_5xx=1.0, get_statuses_5xx=(500,)))
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as c:
        tid = c.post(SUBMIT, json=body()).json()["id"]
        assert [c.get(f"/v1/tasks/{tid}").status_code for _ in range(3)] == [500] * 3
        emu.set_faults(Faults(rate_get_reset=1.0))
        with pytest.raises(httpx.TransportError):
            c.get(f"/v1/tasks/{tid}")
    assert emu.stats()["get_faults"] == {"500": 3, "reset": 1}


@pytest.mark.parametrize("bad", [
    {"get_script": ["418"]}, {"get_script": "500"}, {"get_bursts": [["503", 0]]},
    {"get_bursts": [["nope", 0, 1]]}, {"get_bursts": [["503", -1, 1]]},
    {"get_statuses_5xx": [404]}, {"rate_get_404": 2}, {"get_not_found_seconds": -1},
])  # fmt: skip
def test_bad_get_faults_are_refused_naming_the_field(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        Faults.from_mapping(bad)


# -- HEAD check of image URLs ----------------------------------------------------------------


class _ImageHandler(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:
        path = self.path.split("?")[0]
        if path == "/ok.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", "1234")
        elif path == "/s3-default.png":
            self.send_response(200)
            self.send_header("Content-Type", "binary/octet-stream")
            self.send_header("Content-Length", "1234")
        elif path == "/huge.png":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(16 * 1024 * 1024 + 1))
        elif path == "/moved.png":
            self.send_response(302)
            self.send_header("Location", "/ok.png")
            self.send_header("Content-Length", "0")
        else:
            self.send_response(403)
            self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/ok.png", 200, None),
        ("/s3-default.png", 400, "Content-Type 'binary/octet-stream'"),
        ("/huge.png", 400, "16 MB"),
        ("/moved.png", 400, "returned 302"),
        ("/presigned.png", 400, "returned 403."),
    ],
)
def test_head_check_of_image_urls(
    make_emulator: Callable[..., Emulator],
    image_server: str,
    path: str,
    status: int,
    fragment: str | None,
) -> None:
    emu = make_emulator(allow_http_loopback=True)
    url = f"{image_server}{path}?X-Amz-Signature=SECRETSIG&X-Amz-Credential=AKIA"
    r = fresh_post(emu, body(promptImage=url))
    assert r.status_code == status, r.text
    if fragment is not None:
        message = r.json()["error"]
        assert fragment in message
        assert "SECRETSIG" not in r.text and "X-Amz" not in r.text and "?" not in message
        assert message.startswith(("Failed to fetch image: HEAD ", "Image at "))
        assert f"{image_server}{path}" in message
        assert emu.stats()["rejected"] == {"validation": 1}


def test_http_loopback_refused_unless_allowed(emu: Emulator, image_server: str) -> None:
    r = fresh_post(emu, body(promptImage=f"{image_server}/ok.png"))
    assert r.status_code == 400 and "HTTPS" in r.text


def test_unreachable_https_url_fails_fetch(emu: Emulator) -> None:
    r = fresh_post(emu, body(promptImage="https://img.example.invalid/a.png?token=SECRET"))
    assert r.status_code == 400
    assert r.json()["error"].startswith(
        "Failed to fetch image: HEAD https://img.example.invalid/a.png"
    )
    assert "SECRET" not in r.text


# -- CLI -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_cli_serves_and_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "RUNWAYML_API_SECRET": "key_cli"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect_runway.testing.emulator",
         "--port", str(port), "--seed", "1"],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == f"Runway emulator (runway) listening on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/_emulator/health").json() == {"ok": True}
        headers = {**HEADERS, "Authorization": "Bearer key_cli"}
        org = httpx.get(f"http://127.0.0.1:{port}/v1/organization", headers=headers)
        assert org.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_main_rejects_bad_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rate-429", "1.5", "--port", "0"]) == 2
    assert "rate_429" in capsys.readouterr().err


def test_stop_closes_idle_keep_alive_connections() -> None:
    emu = Emulator(api_key=KEY).start()
    c = httpx.Client(base_url=emu.base_url, headers=HEADERS)
    assert c.get("/v1/organization").status_code == 200
    before = threading.active_count()
    emu.stop()
    deadline = time.monotonic() + 2
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() < before
    with pytest.raises(httpx.TransportError):
        httpx.get(emu.root_url + "/_emulator/health")
    c.close()


def test_a_fresh_emulator_never_gets_an_earlier_ones_port(monkeypatch) -> None:
    """A ledger keys the account on the base URL: a fresh emulator on an earlier one's port
    would be answered from the ledger with task IDs it never created (seen in CI as 404s)."""
    from prefect_runway.testing.emulator import app
    from prefect_runway.testing.emulator.server import EmulatorHTTPServer

    with Emulator(api_key=KEY) as first:
        earlier = first.port
    offered: list[int] = []

    class HandsOutAPortTwice(EmulatorHTTPServer):
        """What the OS may do for port 0: offer the port the earlier emulator had."""

        def __init__(self, address: tuple[str, int], *args: Any) -> None:
            if address[1] == 0 and not offered:
                address = (address[0], earlier)
            super().__init__(address, *args)
            offered.append(int(self.server_address[1]))

    monkeypatch.setattr(app, "EmulatorHTTPServer", HandsOutAPortTwice)
    with Emulator(api_key=KEY) as second:
        assert offered[0] == earlier and second.port == offered[-1] != earlier
        answer = httpx.get(f"{second.base_url}/v1/organization", headers=HEADERS)
        assert answer.status_code == 200
    with Emulator(api_key=KEY, port=earlier) as chosen:  # a port asked for is honoured
        assert chosen.port == earlier
