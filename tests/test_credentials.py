"""The credentials block: Prefect's block standards, env fallbacks, fingerprints, no leaks."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect.testing.standard_test_suites import blocks as block_suite
from pydantic import SecretStr

from prefect_runway import RunwayCredentials
from prefect_runway.errors import RunwayAuthenticationError
from tests.conftest import API_KEY


class TestRunwayCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self):
        return RunwayCredentials

    def test_has_a_valid_image(self, block, monkeypatch):
        """The logo check, offline: the URL must name the logo this package ships, and the
        shipped file must pass Prefect's own size and squareness checks."""
        shipped = files("prefect_runway") / "logo.png"
        assert Path(urlsplit(str(block._logo_url)).path).name == "logo.png"
        assert urlsplit(str(block._logo_url)).path.endswith("/prefect_runway/logo.png")

        def offline_urlopen(url):
            assert url == str(block._logo_url)
            return shipped.open("rb")

        monkeypatch.setattr(block_suite, "urlopen", offline_urlopen)
        super().test_has_a_valid_image(block)


def test_env_fallbacks(monkeypatch):
    monkeypatch.setenv("RUNWAYML_API_SECRET", API_KEY)
    monkeypatch.setenv("RUNWAYML_BASE_URL", "https://proxy.example.com/runwayml/")
    creds = RunwayCredentials(dialect="proxy")
    assert creds.resolved_base_url == "https://proxy.example.com/runwayml"
    with creds.get_client() as client:
        assert client.base_url == "https://proxy.example.com/runwayml"
        assert client.dialect == "proxy"
    monkeypatch.delenv("RUNWAYML_BASE_URL")
    assert RunwayCredentials().resolved_base_url == "https://api.dev.runwayml.com"
    assert RunwayCredentials(dialect="proxy").resolved_base_url == "https://www.anyapi.vip/runwayml"


def test_missing_key_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("RUNWAYML_API_SECRET", raising=False)
    with pytest.raises(RunwayAuthenticationError, match="api_key on the RunwayCredentials block "
                       "or the RUNWAYML_API_SECRET environment variable"):
        RunwayCredentials().get_client()


def test_fingerprint_separates_keys_and_endpoints_and_hides_the_key():
    a = RunwayCredentials(api_key=SecretStr(API_KEY))
    b = RunwayCredentials(api_key=SecretStr(API_KEY + "x"))
    c = RunwayCredentials(api_key=SecretStr(API_KEY), base_url="https://p.example.com/runwayml")
    assert len({a.account_fingerprint, b.account_fingerprint, c.account_fingerprint}) == 3
    same = RunwayCredentials(api_key=SecretStr(API_KEY))
    assert a.account_fingerprint == same.account_fingerprint
    assert API_KEY not in a.account_fingerprint
    assert API_KEY not in repr(a) and API_KEY not in str(a)
    assert API_KEY not in repr(a.get_client()) and API_KEY not in repr(a.get_async_client())


def test_block_settings_reach_the_client():
    creds = RunwayCredentials(api_key=SecretStr(API_KEY), base_url="http://127.0.0.1:1",
                              timeout=3, max_retries=1, poll_interval=0.5,
                              retry_lost_responses=False)
    client = creds.get_client(max_retries=4)
    assert client.timeout.read == 3 and client.max_retries == 4 and client.poll_interval == 0.5
    assert client.retry_lost_responses is False


def test_block_saves_and_loads_with_the_secret_encrypted(prefect_harness):
    RunwayCredentials(api_key=SecretStr(API_KEY), dialect="proxy").save("test-runway",
                                                                        overwrite=True)
    loaded = RunwayCredentials.load("test-runway")
    assert loaded.api_key.get_secret_value() == API_KEY and loaded.dialect == "proxy"
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    database = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    stored = b"".join(p.read_bytes() for p in database.parent.glob("prefect-test.db*"))
    assert stored and API_KEY.encode() not in stored
