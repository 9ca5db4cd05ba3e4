"""Every local check before any download or intent, and a batch that cannot succeed stops at
once: a retired or misspelt model, a refused key, an API that cannot be reached. Each through
the single-image task, the S3 flow and the CLI, against the emulator over real HTTP; the
proof is the emulator's counts and an empty ledger."""

from __future__ import annotations

import asyncio
import importlib
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from prefect_runway import ImageToVideoRequest, RunwayCredentials, sample_image_data_uri
from prefect_runway.cli import main
from prefect_runway.errors import (
    BudgetExceededError,
    RunwayAuthenticationError,
    RunwayConnectionError,
    RunwayValidationError,
)
from prefect_runway.testing.emulator.samples import png
from tests._support.processes import free_port
from tests.conftest import API_KEY, BUCKET

pytestmark = pytest.mark.usefixtures("prefect_harness")
flow_module = importlib.import_module("prefect_runway.flows.s3_image_to_video")


def records(prefect_home: Path) -> list[Path]:
    """Every ledger record under the test session's storage."""
    return sorted((prefect_home / "storage").glob("runway-i2v-*"))


def fill(s3, prefix: str, count: int) -> None:
    for i in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{i}.png", Body=png(8, 8, (i, 7, 7)))


@pytest.fixture
def reads(s3, monkeypatch):
    """How many objects the flow fetched from S3 (GetObject), counted at the source module."""
    sources = importlib.import_module("prefect_runway.delivery")
    real = sources.read_object
    count = {"n": 0}

    def counting(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(sources, "read_object", counting)
    return count


@pytest.mark.parametrize(
    ("model", "ratio", "expected"),
    [
        ("gen3a_turbo", "1280:768", "model 'gen3a_turbo' was retired from Runway's official API"),
        ("gen4-turbo", "1280:720", "did you mean 'gen4_turbo'?"),
    ],
)
def test_a_retired_or_misspelt_model_is_refused_by_the_task_before_any_record(
    model, ratio, expected, emulator, credentials, prefect_home
):
    from prefect import flow

    from prefect_runway.tasks import submit_image_to_video

    before = records(prefect_home)

    @flow
    def one() -> None:
        submit_image_to_video(credentials, ImageToVideoRequest(
            prompt_image=sample_image_data_uri(), model=model, ratio=ratio,
            prompt_text="a cat"))  # fmt: skip

    with pytest.raises(RunwayValidationError, match=expected):
        one()
    assert emulator.stats()["posts"] == 0
    assert records(prefect_home) == before  # no intent: nothing to hold on later runs


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gen3a_turbo", "use gen4_turbo instead"),
        ("gen4-turbo", "did you mean 'gen4_turbo'?"),
    ],
)
def test_the_flow_and_the_driver_refuse_it_before_listing(model, expected, s3, runway, reads,
                                                          prefect_home):  # fmt: skip
    from prefect_runway.flows import drive_batch, s3_image_to_video

    fill(s3, "m/", 3)
    before = records(prefect_home)
    for run in (s3_image_to_video, drive_batch):
        with pytest.raises(RunwayValidationError, match=expected) as error:
            asyncio.run(run(BUCKET, "m/", model=model, prompt_text="x", budget_credits=100))
        assert "price" not in str(error.value)  # the name is the problem, not the price
    assert runway.stats()["posts"] == 0 and reads["n"] == 0
    assert records(prefect_home) == before


def test_the_cli_refuses_it_before_reading_any_input(emulator, monkeypatch, capsys):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    assert main(["submit", "/no/such/file.png", "--model", "gen4-turbo"]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'gen4_turbo'?" in err and "cannot read the file" not in err
    assert emulator.stats()["posts"] == 0


def test_a_proxy_may_serve_models_of_its_own_but_a_budget_names_the_unknown_price(
    s3, proxy_emulator, monkeypatch
):
    from prefect_runway.flows import s3_image_to_video

    fill(s3, "px/", 2)
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=proxy_emulator.base_url,
                              dialect="proxy")  # fmt: skip
    with pytest.raises(BudgetExceededError, match="price of model 'gen4-turbo' is unknown") as e:
        asyncio.run(s3_image_to_video(BUCKET, "px/", model="gen4-turbo", credentials_block=creds,
                                      budget_credits=100))  # fmt: skip
    assert "did you mean 'gen4_turbo'?" in str(e.value)
    assert proxy_emulator.stats()["posts"] == 0


def test_a_refused_key_stops_the_flow_before_anything_is_fetched_or_sent(s3, runway, reads):
    from prefect_runway.flows import s3_image_to_video

    fill(s3, "k/", 20)
    wrong = RunwayCredentials(api_key=SecretStr("key_wrong_0123"), base_url=runway.base_url)
    with pytest.raises(RunwayAuthenticationError) as error:
        asyncio.run(s3_image_to_video(BUCKET, "k/", credentials_block=wrong))
    text = str(error.value)
    assert "refused the API key" in text and "RUNWAYML_API_SECRET" in text
    assert "key_wrong_0123" not in text
    assert runway.stats()["posts"] == 0 and reads["n"] == 0


def test_without_an_organization_endpoint_the_first_refusal_stops_the_batch(
    s3, runway, reads, monkeypatch
):
    async def no_limits(credentials, model):  # like a proxy without /v1/organization
        return flow_module._Limits()

    monkeypatch.setattr(flow_module, "_organization_limits", no_limits)
    fill(s3, "k1/", 20)
    wrong = RunwayCredentials(api_key=SecretStr("key_wrong_0123"), base_url=runway.base_url)
    with pytest.raises(RunwayAuthenticationError, match="RUNWAYML_API_SECRET"):
        asyncio.run(flow_module.s3_image_to_video(BUCKET, "k1/", credentials_block=wrong,
                                                  concurrency=2))  # fmt: skip
    # At most the two in flight when the first 401 arrived; the other images are not fetched.
    assert runway.stats()["posts"] <= 2 and reads["n"] <= 2


def test_an_api_that_cannot_be_reached_stops_the_flow_in_seconds(s3, reads):
    from prefect_runway.flows import s3_image_to_video

    fill(s3, "c/", 20)
    closed = f"http://127.0.0.1:{free_port()}"
    nowhere = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=closed, max_retries=1)
    started = time.monotonic()
    with pytest.raises(RunwayConnectionError) as error:
        asyncio.run(s3_image_to_video(BUCKET, "c/", credentials_block=nowhere))
    assert "RUNWAYML_BASE_URL" in str(error.value) and "cannot be reached" in str(error.value)
    assert reads["n"] == 0 and time.monotonic() - started < 30


def test_the_cli_stops_at_the_first_refusal(emulator, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_wrong_0123")
    monkeypatch.setenv("RUNWAYML_BASE_URL", emulator.base_url)
    files = []
    for i in range(5):
        files.append(tmp_path / f"{i}.png")
        files[-1].write_bytes(png(8, 8, (i, 1, 1)))
    assert main(["submit", *map(str, files)]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "key_wrong_0123" not in err
    assert "refused the API key" in err and "RUNWAYML_API_SECRET" in err
    assert emulator.stats()["posts"] == 1


def test_a_budget_binds_resubmit_unknown(s3, runway):
    from prefect_runway.flows import s3_image_to_video
    from prefect_runway.testing.emulator import Faults

    fill(s3, "held/", 6)
    strict = RunwayCredentials(api_key=SecretStr(API_KEY), base_url=runway.base_url,
                               retry_lost_responses=False, max_retries=0)  # fmt: skip
    runway.set_faults(Faults(rate_lost_response=1.0))
    held = asyncio.run(s3_image_to_video(BUCKET, "held/", credentials_block=strict,
                                         fail_on_errors=False))  # fmt: skip
    assert held.unknown == 6
    runway.set_faults(Faults())
    posts = runway.stats()["posts"]
    with pytest.raises(BudgetExceededError, match="Estimated cost 150 credits"):
        asyncio.run(s3_image_to_video(BUCKET, "held/", credentials_block=strict,
                                      resubmit_unknown=True, budget_credits=50))  # fmt: skip
    assert runway.stats()["posts"] == posts  # refused before any POST
    paid = asyncio.run(s3_image_to_video(BUCKET, "held/", credentials_block=strict,
                                         resubmit_unknown=True, budget_credits=150))  # fmt: skip
    assert paid.submitted == 6 and all(row.possible_duplicate for row in paid.rows)
