"""What makes two submissions the same paid generation, and budgets that bind."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from prefect_runway import GenerationSettings, ImageToVideoRequest, PromptImage, RunwayCredentials
from prefect_runway.ledger.keys import normalize_base_url, submission_key, url_identity
from prefect_runway.tasks import BudgetExceededError, check_budget, estimate_credits

BASE = "https://images.example.com/cat.png"
SETTINGS = GenerationSettings(model="gen4_turbo", ratio="1280:720")


@pytest.mark.parametrize("query", [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F1&X-Amz-Date=1&X-Amz-Expires=60"
    "&X-Amz-SignedHeaders=host&X-Amz-Signature=abc&X-Amz-Security-Token=t",
    "AWSAccessKeyId=AKIA&Signature=abc&Expires=1",
    "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=c&X-Goog-Date=1&X-Goog-Expires=60"
    "&X-Goog-SignedHeaders=host&X-Goog-Signature=abc",
    "GoogleAccessId=x%40y&Expires=1&Signature=abc",
    "sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&st=2020-01-01&spr=https&sig=abc",
    "Expires=1&Signature=abc&Key-Pair-Id=K2",
    "Policy=eyJ&Signature=abc&Key-Pair-Id=K2",
])  # fmt: skip
def test_known_signing_schemes_are_stripped_whole(query):
    assert url_identity(f"{BASE}?{query}") == BASE
    assert url_identity(f"{BASE}?{query}&v=2") == f"{BASE}?v=2"


@pytest.mark.parametrize("query", ["token=abc", "sig=1", "sp=3&st=2", "Signature=x", "se=1&sv=2"])
def test_lone_parameters_named_like_signatures_are_part_of_the_address(query):
    assert url_identity(f"{BASE}?{query}") == f"{BASE}?{query}"
    other = query.replace("=", "=other-", 1)
    assert url_identity(f"{BASE}?{query}") != url_identity(f"{BASE}?{other}")


def key(request, account="acct"):
    return submission_key(account, request)


def test_equivalent_requests_share_a_key():
    plain = ImageToVideoRequest(prompt_image=BASE, model="gen4_turbo", ratio="1280:720")
    listed = plain.model_copy(update={"prompt_image": [PromptImage(uri=BASE, position="first")]})
    default_duration = plain.model_copy(update={"duration": 10})
    default_moderation = ImageToVideoRequest(
        prompt_image=BASE, model="gen4_turbo", ratio="1280:720",
        content_moderation={"public_figure_threshold": "auto"},
    )  # fmt: skip
    host_case = plain.model_copy(update={"prompt_image": "https://IMAGES.example.com/cat.png"})
    assert len({key(r) for r in (plain, listed, default_duration, default_moderation,
                                 host_case)}) == 1  # fmt: skip
    assert key(plain) != key(plain.model_copy(update={"duration": 5}))
    assert key(plain) != key(plain.model_copy(update={"seed": 1}))


def creds(**fields) -> RunwayCredentials:
    return RunwayCredentials(**{"api_key": SecretStr("key_one_aaaaaaaa"), **fields})


def test_base_url_spelling_does_not_change_the_account():
    assert normalize_base_url("HTTPS://API.dev.runwayml.com:443/") == "https://api.dev.runwayml.com"
    same = {creds(base_url=url).account_fingerprint for url in (
        "https://api.dev.runwayml.com", "https://API.DEV.RUNWAYML.COM/",
        "https://api.dev.runwayml.com:443")}  # fmt: skip
    assert len(same) == 1
    assert creds(base_url="https://api.dev.runwayml.com:8443").account_fingerprint not in same


def test_an_account_label_survives_key_rotation_and_a_key_hash_does_not():
    old, new = SecretStr("key_one_aaaaaaaa"), SecretStr("key_two_bbbbbbbb")
    assert creds(api_key=old).account_fingerprint != creds(api_key=new).account_fingerprint
    labelled = {creds(api_key=k, account_label="acme-prod").account_fingerprint for k in (old, new)}
    assert len(labelled) == 1
    assert "key_one" not in next(iter(labelled))


def test_an_unknown_price_is_not_zero():
    unknown = GenerationSettings(model="partner_model_from_a_proxy", ratio="1280:720", duration=5)
    assert estimate_credits([SETTINGS, unknown]) is None
    with pytest.raises(BudgetExceededError, match="the price of the model is unknown"):
        check_budget(estimate_credits([unknown]), budget=1000)
    check_budget(None, budget=None)  # no budget: nothing to bound


def test_budget_refuses_over_the_limit_with_the_figures():
    with pytest.raises(BudgetExceededError, match="Estimated cost 100 credits .* budget of 50"):
        check_budget(estimate_credits([SETTINGS, SETTINGS]), budget=50)
