"""Local validation: every rule that can be checked before paying, with its exact message."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from prefect_runway.api.models import (
    ImageToVideoRequest,
    PromptImage,
    SubmittedTask,
    Task,
    TaskStatus,
    redact_url,
    utf16_length,
)

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 32).decode()
URL = "https://images.example.com/cat.png"


def make(**fields):
    base = {"prompt_image": URL, "model": "gen4_turbo", "ratio": "1280:720"}
    return ImageToVideoRequest(**{**base, **fields})


VALID = [
    {},
    {"prompt_image": PNG},
    {"prompt_image": "runway://uploads/abc"},
    {"prompt_image": [{"uri": URL, "position": "first"}]},
    {"duration": 2},
    {"duration": 10},
    {"seed": 0},
    {"seed": 4294967295},
    {"prompt_text": "x" * 1000},
    {"prompt_text": "🎬" * 500},
    {"model": "gen4.5", "prompt_text": "a cat", "ratio": "1584:672", "duration": 2},
    {"model": "gen3a_turbo", "ratio": "1280:768", "duration": 5, "prompt_text": "cat"},
    {"model": "gen3a_turbo", "ratio": "768:1280", "prompt_text": "cat",
     "prompt_image": [{"uri": URL, "position": "first"}, {"uri": PNG, "position": "last"}]},
    {"model": "veo3", "ratio": "1920:1080", "duration": 8},
    {"model": "veo3.1", "ratio": "1080:1920", "duration": 4},
    {"model": "veo3.1_fast", "ratio": "720:1280", "duration": 6},
    {"model": "some_proxy_model", "ratio": "1280:768", "duration": 7},
    {"content_moderation": {"public_figure_threshold": "low"}},
    {"watermark": False},
]


def camel(value):
    """snake_case keys to the API's camelCase, at every depth."""
    if isinstance(value, dict):
        return {k.split("_")[0] + "".join(w.title() for w in k.split("_")[1:]): camel(v)
                for k, v in value.items()}  # fmt: skip
    return [camel(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("fields", VALID)
def test_valid_requests(fields):
    """Accepted, and sent exactly as given: camelCase keys, nothing added or dropped."""
    given = {"prompt_image": URL, "model": "gen4_turbo", "ratio": "1280:720", **fields}
    assert make(**fields).to_wire() == camel(given)


INVALID = [
    ({"ratio": "1280:768"}, "ratio '1280:768' is not supported by gen4_turbo; use one of "
     "1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672"),
    ({"model": "gen3a_turbo", "ratio": "1280:720", "prompt_text": "x"},
     "ratio '1280:720' is not supported by gen3a_turbo; use one of 1280:768, 768:1280"),
    ({"model": "veo3", "ratio": "1280:720", "duration": 5},
     "duration 5 is not supported by veo3; use one of 8"),
    ({"model": "veo3.1", "ratio": "1280:720", "duration": 5},
     "duration 5 is not supported by veo3.1; use one of 4, 6, 8"),
    ({"duration": 11}, "duration 11 is not supported by gen4_turbo; use an integer from 2 to 10"),
    ({"model": "gen3a_turbo", "ratio": "1280:768", "duration": 7, "prompt_text": "x"},
     "duration 7 is not supported by gen3a_turbo; use one of 5, 10"),
    ({"duration": 0}, "duration 0 must be a positive number of seconds or 'auto'"),
    ({"duration": "auto"}, "duration 'auto' is not supported by gen4_turbo; use an integer "
     "from 2 to 10"),
    ({"ratio": "wide"}, "ratio 'wide' is not supported by gen4_turbo; use one of 1280:720"),
    ({"ratio": None}, "ratio is required by gen4_turbo; use one of 1280:720, 720:1280"),
    ({"seed": -1}, "seed -1 is out of range; use an integer 0..4294967295"),
    ({"seed": 4294967296}, "seed 4294967296 is out of range; use an integer 0..4294967295"),
    ({"prompt_text": "x" * 1001}, "prompt_text is 1001 UTF-16 code units long; gen4_turbo "
     "accepts at most 1000 (emoji and other astral characters count as 2)"),
    ({"prompt_text": "🎬" * 501}, "prompt_text is 1002 UTF-16 code units long"),
    ({"model": "gen4.5", "prompt_text": "x"},
     "duration is required by gen4.5; use an integer from 2 to 10"),
    ({"model": "gen4.5", "duration": 5},
     "prompt_text is required by gen4.5; use a string of at most 1000 UTF-16 code units"),
    ({"model": "gen4.5", "duration": 5, "prompt_text": "  "},
     "prompt_text is required by gen4.5 and must not be empty"),
    ({"model": "veo3.1", "watermark": False}, "watermark is not accepted by veo3.1 (it refuses "
     "unknown fields); it accepts audio, duration, negative_prompt, prompt_image, prompt_text, "
     "ratio, seed"),
    ({"model": "veo3.1", "content_moderation": {"public_figure_threshold": "low"}},
     "content_moderation is not accepted by veo3.1"),
    ({"model": "veo3.1", "prompt_image": [{"uri": URL, "position": "last"}]},
     "prompt_image has a 'last' frame without a 'first' one; veo3.1 needs a first frame"),
    ({"model": "seedance2", "ratio": "1280:720",
      "prompt_image": [{"uri": URL, "position": "first"}, {"uri": URL, "position": None}]},
     "prompt_image positions ['first', None] mix keyframes and reference images; seedance2 "
     "takes either first/last frames or images without a position"),
    ({"prompt_image": [{"uri": URL, "position": None}]},
     "prompt_image position None (a reference image) is not supported by gen4_turbo; use one "
     "of first"),
    ({"prompt_image": "runway://uploads/" + "a" * 4984},
     "prompt_image runway:// URI is 5001 characters long; Runway accepts at most 5000"),
    ({"model": "gen3a_turbo", "ratio": "1280:768"}, "prompt_text is required by gen3a_turbo"),
    ({"prompt_image": "http://images.example.com/cat.png"},
     "prompt_image 'http://images.example.com/cat.png' must be an https:// URL, a "
     "data:image/...;base64 URI or a runway:// upload URI (got scheme 'http')"),
    ({"prompt_image": "https://10.0.0.7/cat.png"},
     "prompt_image 'https://10.0.0.7/cat.png' uses an IP address host (10.0.0.7); Runway "
     "requires a domain name"),
    ({"prompt_image": "https://[::1]/cat.png"}, "uses an IP address host (::1)"),
    ({"prompt_image": "https://example.com/" + "a" * 2040},
     "prompt_image URL is 2060 characters long; Runway accepts at most 2048"),
    ({"prompt_image": "data:image/gif;base64,R0lGODlh"},
     "prompt_image data URI has content type 'image/gif'; use one of image/jpeg, image/png, "
     "image/webp"),
    ({"prompt_image": "data:image/png,rawbytes"},
     "prompt_image data URI must be base64-encoded (data:image/png;base64,...)"),
    ({"prompt_image": "data:image/png;base64,***"},
     "prompt_image data URI does not hold valid base64 data"),
    ({"prompt_image": "data:image/png;base64," + "A" * (5_242_880 - 21)},
     "prompt_image data URI is 5242881 characters long; Runway accepts at most 5242880 "
     "characters (the whole URI, about 3.9 MB of image): use an upload or a URL for larger "
     "images"),
    ({"prompt_image": []}, "prompt_image list must hold at least one {uri, position} image"),
    ({"prompt_image": [{"uri": URL, "position": "last"}]},
     "prompt_image position 'last' is not supported by gen4_turbo; only 'first' is allowed"),
    ({"prompt_image": [{"uri": URL}, {"uri": URL}]}, "positions ['first', 'first'] repeat"),
    ({"prompt_image": [{"uri": "ftp://x.com/a.png"}]}, "prompt_image.uri 'ftp://x.com/a.png'"),
    ({"content_moderation": {"public_figure_threshold": "high"}}, "'auto' or 'low'"),
]


@pytest.mark.parametrize(("fields", "message"), INVALID)
def test_invalid_requests_name_field_value_and_allowed(fields, message):
    with pytest.raises(ValidationError) as info:
        make(**fields)
    assert message in str(info.value)


def test_data_uri_limit_counts_the_whole_uri():
    head = "data:image/png;xyz=1;base64,"  # 28 characters: the payload stays valid base64
    at_limit = head + "A" * (5_242_880 - len(head))
    assert len(make(prompt_image=at_limit).prompt_image) == 5_242_880
    with pytest.raises(ValidationError, match="5242881 characters long"):
        make(prompt_image=at_limit + "A")


def test_presigned_query_never_appears_in_errors():
    url = "http://bucket.s3.amazonaws.com/cat.png?X-Amz-Signature=deadbeefsecret"
    with pytest.raises(ValidationError) as info:
        make(prompt_image=url)
    assert "deadbeefsecret" not in str(info.value)
    assert "?<redacted>" in str(info.value)


def test_wire_format_is_camel_case_and_keeps_extras():
    request = make(prompt_text="cat", seed=7, duration=5, watermark=False,
                   content_moderation={"public_figure_threshold": "low"})
    assert request.to_wire() == {
        "promptImage": URL, "model": "gen4_turbo", "ratio": "1280:720", "seed": 7,
        "promptText": "cat", "duration": 5, "watermark": False,
        "contentModeration": {"publicFigureThreshold": "low"},
    }
    assert ImageToVideoRequest.model_validate(request.to_wire()) == request


def test_multi_image_wire_format():
    request = make(prompt_image=[PromptImage(uri=URL)])
    assert request.to_wire()["promptImage"] == [{"uri": URL, "position": "first"}]


@pytest.mark.parametrize(("fields", "credits"), [
    ({"duration": 10}, 50), ({}, 50), ({"duration": 5}, 25),
    ({"model": "veo3", "ratio": "1280:720"}, 320),
    ({"model": "gen4.5", "prompt_text": "x", "duration": 4}, 48),
    ({"model": "veo3.1", "duration": 8}, 320),
    ({"model": "veo3.1", "duration": 8, "audio": True}, 320),
    ({"model": "veo3.1", "duration": 8, "audio": False}, 160),
    ({"model": "veo3.1_fast", "duration": 4}, 60),
    ({"model": "veo3.1_fast", "duration": 4, "audio": False}, 40),
    ({"model": "custom", "ratio": "1:1"}, None),
])
def test_estimated_credits(fields, credits):
    assert make(**fields).estimated_credits() == credits


def test_utf16_length_counts_astral_characters_twice():
    assert utf16_length("abc") == 3
    assert utf16_length("🎬é") == 3


def test_redact_url():
    assert redact_url("https://u:p@h.com/a.png?sig=1#f") == "https://h.com/a.png?<redacted>"
    assert redact_url("https://h.com/a.png") == "https://h.com/a.png"
    assert redact_url("data:image/png;base64,AAAA") == "data:image/png;base64,<4 chars>"


@pytest.mark.parametrize(("body", "expected"), [
    ({"id": "t1"}, {"id": "t1", "status": TaskStatus.PENDING}),
    ({"id": "t1", "estimatedCost": {"credits": 25}}, {"id": "t1", "estimated_credits": 25}),
    ({"code": 200, "message": "success", "request_id": "r1",
      "data": {"task_id": "t2", "task_status": "RUNNING", "created_at": 1700000000,
               "updated_at": 1700000001}},
     {"id": "t2", "status": TaskStatus.RUNNING, "request_id": "r1",
      "created_at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)}),
    ({"id": "t3", "state": "pending", "created_at": "2024-12-22T13:38:40.139409Z"},
     {"id": "t3", "status": TaskStatus.PENDING,
      "created_at": datetime(2024, 12, 22, 13, 38, 40, 139409, tzinfo=timezone.utc)}),
])
def test_submitted_task_accepts_every_shape(body, expected):
    task = SubmittedTask.from_response(body)
    for key, value in expected.items():
        assert getattr(task, key) == value


@pytest.mark.parametrize("body", [[], {"code": 200, "data": {}}, {"message": "ok"}])
def test_submitted_task_without_id_is_an_error(body):
    with pytest.raises(ValueError):
        SubmittedTask.from_response(body)


def test_task_model_reads_every_status_and_field():
    task = Task.model_validate({
        "id": "t", "status": "FAILED", "createdAt": "2024-01-01T00:00:00Z",
        "failure": "bad", "failureCode": "SAFETY.INPUT.TEXT", "cost": {"credits": 0},
    })
    assert task.failure_code == "SAFETY.INPUT.TEXT" and task.is_terminal
    assert {s.value for s in TaskStatus} == {
        "PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"}
    assert [s.is_terminal for s in TaskStatus] == [False, False, False, True, True, True]
