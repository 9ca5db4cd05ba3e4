"""Every task endpoint through the one engine: local rules, once-only submits, reruns that pay
nothing, keys over every input, and the after-creation faults of gateways and proxies."""

from __future__ import annotations

import httpx
import pytest
from prefect import flow
from pydantic import SecretStr, ValidationError

from prefect_runway import (
    GenerationRequest,
    ImageToVideoRequest,
    RunwayCredentials,
    RunwayValidationError,
    sample_image_data_uri,
    submit_generation,
    submit_image_to_video,
)
from prefect_runway.api.requests import ENDPOINT_NAMES
from prefect_runway.ledger.engine import Engine, GenerationJob
from prefect_runway.ledger.keys import generation_key, submission_key
from prefect_runway.ledger.records import Ledger
from prefect_runway.testing.emulator import Emulator, Faults
from tests._support import API_KEY
from tests._support.endpoints import first_bodies, mutations, variant_bodies
from tests._support.runway import client_for

pytestmark = pytest.mark.usefixtures("prefect_harness")

IMAGE = sample_image_data_uri()
BODIES = {
    "image_to_video": {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720"},
    **first_bodies(),
}
FAULT_ENDPOINTS = ("text_to_video", "video_to_video", "text_to_image")


def creds_for(emu, **options) -> RunwayCredentials:
    return RunwayCredentials(
        api_key=SecretStr(API_KEY), base_url=emu.base_url, poll_interval=0.05, **options
    )


def test_the_table_has_every_task_endpoint_of_the_sdk():
    assert len(ENDPOINT_NAMES) == 25 and set(BODIES) == set(ENDPOINT_NAMES)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [(endpoint, body) for endpoint, _, body in variant_bodies()],
    ids=[f"{endpoint}:{variant}" for endpoint, variant, _ in variant_bodies()],
)
def test_every_variant_passes_local_rules_and_the_emulator_agrees(endpoint, body, make_emulator):
    emu = make_emulator(fetch_urls=False)
    request = GenerationRequest(endpoint=endpoint, body=body)
    with client_for(emu) as client:
        created = client.create_task(request)
    assert created.id and emu.stats()["posts"] == 1 and emu.stats()["rejected"] == {}


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_every_endpoint_submits_once_and_a_rerun_pays_nothing(endpoint, make_emulator):
    emu = make_emulator(fetch_urls=False, generation_seconds=0.2)
    creds = creds_for(emu)
    request = GenerationRequest(endpoint=endpoint, body=BODIES[endpoint])

    @flow
    def run():
        return submit_generation(creds, request), submit_generation(creds, request.model_dump())

    first, second = run()
    assert first.id == second.id
    assert emu.stats()["posts"] == 1 and emu.stats()["tasks_created"] == 1
    with client_for(emu) as client:
        assert client.wait_for_task(first.id, timeout=20).status.value == "SUCCEEDED"


def test_image_to_video_is_one_record_whichever_task_submits_it(make_emulator):
    emu = make_emulator(fetch_urls=False)
    creds = creds_for(emu)
    body = BODIES["image_to_video"]

    @flow
    def run():
        old = submit_image_to_video(creds, ImageToVideoRequest.model_validate(body))
        new = submit_generation(creds, {"endpoint": "image_to_video", "body": body})
        return old, new

    old, new = run()
    assert old.id == new.id and emu.stats()["posts"] == 1
    request = GenerationRequest(endpoint="image_to_video", body=body)
    assert generation_key("acct", request) == submission_key(
        "acct", ImageToVideoRequest.model_validate(body)
    )


def test_a_bad_request_names_the_field_and_posts_nothing(make_emulator):
    emu = make_emulator(fetch_urls=False)
    creds = creds_for(emu)
    body = {**BODIES["text_to_video"], "duration": 60, "promt_text": "typo"}

    @flow
    def run():
        return submit_generation(creds, {"endpoint": "text_to_video", "body": body})

    with pytest.raises(RunwayValidationError) as caught:
        run()
    assert str(caught.value) == (
        "'promt_text' (did you mean 'promptText'?) is no field of model gen4.5; its fields: "
        "contentModeration, duration, "
        "model, outputFormat, promptText, proresProfile, ratio, seed"
    )
    with pytest.raises(ValidationError, match="duration 60 is out of range for model gen4.5; "
                       "expected 2 to 10"):
        GenerationRequest(endpoint="text_to_video",
                          body={**BODIES["text_to_video"], "duration": 60})
    assert emu.stats()["posts"] == 0


def test_requests_name_what_is_wrong():
    with pytest.raises(ValidationError, match=r"endpoint 'text_to_vdeo' is not a Runway task "
                       r"endpoint \(SDK 5.24.0\)\. Did you mean text_to_video"):
        GenerationRequest(endpoint="text_to_vdeo", body={})
    with pytest.raises(ValidationError, match="model 'gen5' is not supported by text_to_video; "
                       "expected one of gen4.5, veo3.1"):
        GenerationRequest(endpoint="text_to_video", body={"model": "gen5"})
    with pytest.raises(ValidationError, match="videoUri 'http://media.example.com/a.mp4' must be "
                       "an https:// URL"):
        GenerationRequest(endpoint="video_to_video", body={
            **BODIES["video_to_video"], "videoUri": "http://media.example.com/a.mp4"})
    with pytest.raises(ValidationError, match="videoUri data URI is 16777238 characters; the "
                       "limit is 16777216 characters for video"):
        big = "data:video/mp4;base64," + "A" * (16 * 1024 * 1024)
        GenerationRequest(endpoint="video_to_video", body={**BODIES["video_to_video"],
                                                            "videoUri": big})
    snake = GenerationRequest(endpoint="/v1/text-to-video", body={
        "model": "gen4.5", "prompt_text": "a kite", "ratio": "1280:720", "duration": 5})
    assert snake.endpoint == "text_to_video" and snake.body["promptText"] == "a kite"


def test_the_key_covers_every_input_and_ignores_signatures():
    body = {**BODIES["video_to_video"], "videoUri": "https://media.example.com/a.mp4"}
    base = GenerationRequest(endpoint="video_to_video", body=body)
    signed = base.with_assets({"videoUri": "https://media.example.com/a.mp4?X-Amz-Algorithm=A"
                               "&X-Amz-Credential=c&X-Amz-Signature=s"})
    other = base.with_assets({"videoUri": "https://media.example.com/b.mp4"})
    key = generation_key("acct", base)
    assert generation_key("acct", signed) == key
    assert generation_key("acct", other) != key
    assert generation_key("other-account", base) != key
    s3 = base.with_assets({"videoUri": "s3://bucket/a.mp4"})
    v1 = generation_key("acct", s3, {"videoUri": "s3://bucket/a.mp4#etag1"})
    assert v1 != generation_key("acct", s3, {"videoUri": "s3://bucket/a.mp4#etag2"})
    refs = [{"uri": "https://media.example.com/r1.png"}]
    image = GenerationRequest(endpoint="text_to_image", body={
        "model": "gen4_image", "promptText": "a kite", "ratio": "1920:1080",
        "referenceImages": refs})
    moved = image.with_assets({"referenceImages.0.uri": "https://media.example.com/r2.png"})
    assert generation_key("acct", image) != generation_key("acct", moved)


async def submit_with(emu, request, **options):
    creds = creds_for(emu, backoff_base=0.01, **options.pop("creds", {}))
    async with creds.get_async_client() as client:
        engine = await Engine.create(creds, client, ledger=options.pop("ledger"), **options)
        return await engine.submit_generation(GenerationJob(source="row 1", request=request))


@pytest.mark.parametrize("endpoint", FAULT_ENDPOINTS)
async def test_a_gateway_5xx_after_creation_is_unknown_never_paid_again_silently(
    endpoint, make_emulator, tmp_path
):
    emu = make_emulator(fetch_urls=False)
    ledger = Ledger(tmp_path / "records")
    request = GenerationRequest(endpoint=endpoint, body=BODIES[endpoint])
    no_retry = {"retry_lost_responses": False}
    emu.set_faults(Faults(script=("created:524",)))

    row = await submit_with(emu, request, ledger=ledger, creds=no_retry)
    assert row.status == "unknown" and row.possible_duplicate and row.task_id is None
    assert emu.stats()["tasks_created"] == 1

    again = await submit_with(emu, request, ledger=ledger, creds=no_retry)
    assert again.status == "unknown" and emu.stats()["posts"] == 1  # held, not paid again

    paid = await submit_with(emu, request, ledger=ledger, resubmit_unknown=True)
    assert paid.status == "submitted" and paid.possible_duplicate and paid.endpoint == endpoint
    assert emu.stats()["tasks_created"] == 2
    rerun = await submit_with(emu, request, ledger=ledger)
    assert rerun.status == "cached" and rerun.task_id == paid.task_id and rerun.possible_duplicate
    assert emu.stats()["posts"] == 2


@pytest.mark.parametrize("endpoint", FAULT_ENDPOINTS)
@pytest.mark.parametrize("answer", ["ms", "ns", "iso", "wrapped", "extra"])
async def test_an_answer_in_another_shape_keeps_its_task_id(
    endpoint, answer, make_emulator, tmp_path
):
    emu = make_emulator(fetch_urls=False, dialect="proxy" if answer == "wrapped" else "runway")
    emu.set_faults(Faults(script=(f"created:{answer}",)))
    request = GenerationRequest(endpoint=endpoint, body=BODIES[endpoint])

    row = await submit_with(emu, request, ledger=Ledger(tmp_path))
    assert row.status == "submitted" and not row.possible_duplicate and row.task_id
    assert emu.stats()["tasks_created"] == 1 and emu.stats()["posts"] == 1


@pytest.mark.parametrize("endpoint", FAULT_ENDPOINTS)
async def test_refusals_before_creation_are_retried_silently(endpoint, make_emulator, tmp_path):
    emu = make_emulator(fetch_urls=False)
    emu.set_faults(Faults(script=("503", "429", "503", "ok")))  # each with the API's own body
    request = GenerationRequest(endpoint=endpoint, body=BODIES[endpoint])

    row = await submit_with(emu, request, ledger=Ledger(tmp_path))
    assert row.status == "submitted" and not row.possible_duplicate
    assert emu.stats()["posts"] == 4 and emu.stats()["tasks_created"] == 1


@pytest.mark.parametrize("endpoint", FAULT_ENDPOINTS)
async def test_a_lost_answer_retried_is_flagged_and_its_record_kept(
    endpoint, make_emulator, tmp_path
):
    emu = make_emulator(fetch_urls=False)
    emu.set_faults(Faults(script=("created:drop", "ok")))
    ledger = Ledger(tmp_path)
    request = GenerationRequest(endpoint=endpoint, body=BODIES[endpoint])

    row = await submit_with(emu, request, ledger=ledger)
    assert row.status == "submitted" and row.possible_duplicate and row.lost_responses == 1
    record = await ledger.read(row.cache_key)
    assert record is not None and record.task is not None and record.task.id == row.task_id
    assert record.request["endpoint"] == endpoint and record.possible_duplicate


def test_s3_and_file_inputs_are_keyed_by_etag_and_content_and_sent_resolved(
    make_emulator, s3, tmp_path
):
    from prefect_runway.testing.emulator.mp4 import build_mp4
    from prefect_runway.testing.emulator.samples import WAV

    emu = make_emulator(fetch_urls=False)
    creds = creds_for(emu)
    s3.put_object(Bucket="stills", Key="clips/a.mp4", Body=build_mp4(2), ContentType="video/mp4")
    voice = tmp_path / "voice.wav"
    voice.write_bytes(WAV)
    video = {**BODIES["video_to_video"], "videoUri": "s3://stills/clips/a.mp4"}
    audio = {"model": "eleven_multilingual_sts_v2", "media": {"type": "audio",
             "uri": voice.as_uri()}}  # fmt: skip
    audio = {**BODIES["speech_to_speech"], **audio}

    @flow
    def run():
        return [submit_generation(creds, {"endpoint": e, "body": b}).id
                for e, b in (("video_to_video", video), ("speech_to_speech", audio))] * 1

    first = run()
    assert run() == first and emu.stats()["posts"] == 2  # the rerun read two records only
    assert emu.stats()["uploads"] + emu.stats()["posts"] >= 2
    s3.put_object(Bucket="stills", Key="clips/a.mp4", Body=build_mp4(3), ContentType="video/mp4")
    assert run()[0] != first[0] and emu.stats()["posts"] == 3  # a new ETag: a new generation


def test_the_readme_endpoint_table_is_the_generated_one():
    from pathlib import Path

    from tests._support.endpoints import endpoint_table

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    shown = readme.split("<!-- endpoints:begin -->\n", 1)[1].split("\n<!-- endpoints:end -->")[0]
    assert shown == endpoint_table()


MUTATIONS = list(mutations())


@pytest.mark.parametrize(
    ("endpoint", "body"), [(e, b) for e, _, _, b in MUTATIONS],
    ids=[f"{e}:{v}:{what}" for e, v, what, _ in MUTATIONS],
)  # fmt: skip
def test_client_and_emulator_refuse_the_same_bodies(endpoint, body, contract_emulator):
    """The contract for every endpoint: whatever the client refuses locally, the emulator
    refuses too (400), and the client sends nothing for it."""
    with pytest.raises(ValidationError):
        GenerationRequest(endpoint=endpoint, body=body)
    answer = httpx.post(f"{contract_emulator.base_url}/v1/{endpoint}", json=body, headers={
        "Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"})
    assert answer.status_code == 400, answer.text


@pytest.fixture(scope="module")
def contract_emulator():
    with Emulator(api_key=API_KEY, fetch_urls=False) as emu:
        yield emu


async def test_an_input_of_the_wrong_kind_is_rejected_and_nothing_paid(make_emulator, s3,
                                                                        tmp_path):  # fmt: skip
    from prefect_runway.tasks import generation_job
    from prefect_runway.testing.emulator.samples import WAV

    emu = make_emulator(fetch_urls=False)
    s3.put_object(Bucket="stills", Key="clips/voice.wav", Body=WAV, ContentType="audio/wav")
    request = GenerationRequest(endpoint="video_to_video", body={
        **BODIES["video_to_video"], "videoUri": "s3://stills/clips/voice.wav"})
    job = await generation_job(request, source="row 1", s3=s3)
    creds = creds_for(emu)
    async with creds.get_async_client() as client:
        engine = await Engine.create(creds, client, ledger=Ledger(tmp_path))
        row = await engine.submit_generation(job)
    assert row.status == "rejected" and "audio" in (row.error or "") and "videoUri" in row.error
    assert emu.stats()["posts"] == 0
