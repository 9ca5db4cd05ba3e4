"""The dialect objects: one place for what differs between the official API and a proxy."""

from __future__ import annotations

import argparse

import pytest

from prefect_runway.api.client import RunwayClient
from prefect_runway.api.dialects import Dialect, envelope_data, failure_code, task_fields
from prefect_runway.api.models import SubmittedTask
from prefect_runway.credentials import RunwayCredentials
from prefect_runway.delivery import choose_transport, size_limit
from prefect_runway.errors import RunwayValidationError


def test_the_strings_resolve_to_dialects_that_still_equal_them():
    assert Dialect.of("proxy") is Dialect.PROXY and Dialect.of(Dialect.RUNWAY) is Dialect.RUNWAY
    assert Dialect.PROXY == "proxy" and f"{Dialect.RUNWAY}" == "runway"
    with pytest.raises(ValueError, match="dialect 'soap' is not supported; use 'runway' or"):
        Dialect.of("soap")


def test_each_dialect_knows_its_traits():
    assert Dialect.RUNWAY.default_base_url == "https://api.dev.runwayml.com"
    assert Dialect.PROXY.default_base_url == "https://www.anyapi.vip/runwayml"
    assert (Dialect.RUNWAY.uploads, Dialect.PROXY.uploads) == (True, False)
    assert (Dialect.RUNWAY.daily_limit_429, Dialect.PROXY.daily_limit_429) == (True, False)
    assert Dialect.RUNWAY.known_models_only and not Dialect.PROXY.known_models_only
    assert Dialect.PROXY.wraps_answers and not Dialect.RUNWAY.wraps_answers
    for dialect in Dialect:  # a proxy's /runwayml prefix lives in its base URL
        assert dialect.create_path == "/v1/image_to_video"
        assert dialect.task_path("t1") == "/v1/tasks/t1"
        assert dialect.uploads_path == "/v1/uploads"
        assert dialect.organization_path == "/v1/organization"
        assert dialect.headers("key_x", "2024-11-06") == {
            "Authorization": "Bearer key_x", "X-Runway-Version": "2024-11-06",
            "Accept": "application/json", "User-Agent": "prefect-runway",
        }  # fmt: skip


def test_the_public_edges_take_strings_and_hold_dialects(monkeypatch):
    monkeypatch.delenv("RUNWAYML_BASE_URL", raising=False)
    creds = RunwayCredentials(api_key="key_x", dialect="proxy")
    assert creds.dialect is Dialect.PROXY
    assert RunwayCredentials.model_json_schema()["properties"]["dialect"]["enum"] == [
        "runway", "proxy"]  # fmt: skip
    assert creds.model_dump(mode="json")["dialect"] == "proxy"
    with creds.get_client() as client:
        assert client.dialect is Dialect.PROXY
        assert repr(client).endswith("dialect='proxy')")
    with pytest.raises(RunwayValidationError, match="dialect 'soap' is not supported"):
        RunwayClient("key_x", dialect="soap")
    assert choose_transport(9_000_000, "image/png", "auto", "proxy") == "presigned_url"
    assert choose_transport(9_000_000, "image/png", "auto", Dialect.RUNWAY) == "upload"
    assert size_limit("auto", "runway") > size_limit("auto", Dialect.PROXY)


def test_the_cli_flag_becomes_the_dialect(monkeypatch):
    from prefect_runway.cli import _credentials

    monkeypatch.setenv("RUNWAYML_API_SECRET", "key_x")
    args = argparse.Namespace(block=None, base_url=None, dialect="proxy", poll_interval=None)
    assert _credentials(args).dialect is Dialect.PROXY
    args.dialect = None
    assert _credentials(args).dialect is Dialect.RUNWAY


def test_one_envelope_reader_for_creates_and_polls():
    wrapped = {"code": 200, "message": "success", "request_id": "r1",
               "data": {"task_id": "t1", "task_status": "running"}}  # fmt: skip
    assert envelope_data(wrapped) == wrapped["data"]
    assert task_fields(wrapped) == {**wrapped["data"], "id": "t1", "status": "RUNNING"}
    assert SubmittedTask.from_response(wrapped).id == "t1"
    plain = {"id": "t2", "status": "PENDING"}
    assert envelope_data(plain) is None and task_fields(plain) is plain
    assert envelope_data({"data": {"other": 1}}) is None  # not an envelope
    assert failure_code({"code": "500", "message": "upstream"}) == 500
    assert failure_code({"code": "success"}) is None and failure_code(plain) is None
