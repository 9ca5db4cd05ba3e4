"""Configuration that cannot lie: every PREFECT_RUNWAY_* value validated, split ledgers refused.

The parser tests need nothing; the split-ledger tests use a real `redis-server` (the fixture of
tests/test_multihost.py: they skip without it), each on a Redis database of its own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from prefect_runway import settings as config
from prefect_runway.errors import ConfigurationError
from prefect_runway.ledger.records import Ledger

# -- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("file", ("file", None)),
        ("FILE", ("file", None)),
        ("file:///shared/locks", ("file", Path("/shared/locks"))),
        ("File:///shared/my%20locks", ("file", Path("/shared/my locks"))),
        ("redis://cache:6379/0", ("redis", "redis://cache:6379/0")),
        ("REDIS://cache:6379/0", ("redis", "redis://cache:6379/0")),
        ("rediss://:pw@cache:6380/1", ("redis", "rediss://:pw@cache:6380/1")),
        ("redis+sentinel://s1:26379,s2:26379/mymaster",
         ("redis", "redis+sentinel://s1:26379,s2:26379/mymaster")),
        ("unix:///run/redis.sock", ("redis", "unix:///run/redis.sock")),
    ],
)  # fmt: skip
def test_lock_settings_accepted(raw, expected):
    assert config.parse_locks(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("file://mnt/shared/locks", "'mnt' is in the host position"),
        ("file://localhost/locks", "'localhost' is in the host position"),
        ("file:locks", "not a lock store URL"),
        ("/shared/locks", "not a lock store URL"),
        ("zookeeper://zk:2181", "unknown scheme 'zookeeper'"),
        ("redis://", "no host"),
        ("unix://redis.sock", "absolute socket path"),
    ],
)
def test_lock_settings_refused_naming_variable_value_and_allowed(raw, reason):
    with pytest.raises(ConfigurationError) as caught:
        config.parse_locks(raw)
    message = str(caught.value)
    assert message.startswith(f"PREFECT_RUNWAY_LOCKS={raw!r}") and reason in message
    assert "Allowed: " in message and "file:///" in message
    if raw.startswith("file://mnt"):
        assert "e.g. file:///mnt/shared/locks" in message


def test_a_password_in_a_refused_lock_url_is_hidden():
    with pytest.raises(ConfigurationError) as caught:
        config.parse_locks("memcache://:hunter2@cache:11211")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("s3://acme-runway/records", "s3://acme-runway/records"),
        ("S3://acme-runway/records", "s3://acme-runway/records"),
        ("/srv/runway-records", Path("/srv/runway-records")),
        ("file:///srv/runway-records", Path("/srv/runway-records")),
        ("~/records", Path("~/records").expanduser()),
    ],
)
def test_record_settings_accepted(raw, expected):
    assert config.parse_records(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("records", "a relative folder"),
        ("./runway/records", "a relative folder"),
        ("s3:/acme/records", "a relative folder"),
        ("s3://Acme_Bucket/records", "not an S3 bucket name"),
        ("s3:///records", "not an S3 bucket name"),
        ("gs://bucket/records", "unknown scheme 'gs'"),
        ("file://mnt/records", "'mnt' is in the host position"),
    ],
)
def test_record_settings_refused_naming_variable_value_and_allowed(raw, reason):
    with pytest.raises(ConfigurationError) as caught:
        config.parse_records(raw)
    message = str(caught.value)
    assert message.startswith(f"PREFECT_RUNWAY_RECORDS={raw!r}") and reason in message
    assert "Allowed: " in message and ("s3://bucket/prefix" in message or "file:///" in message)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"PREFECT_RUNWAY_LOCK": "redis://cache/0"}, "did you mean PREFECT_RUNWAY_LOCKS"),
        ({"PREFECT_RUNWAY_RECORDS_BLOCK": "runway-records"}, "not a block slug"),
        ({"PREFECT_RUNWAY_LOCK_TIMEOUT": "0"}, "PREFECT_RUNWAY_LOCK_TIMEOUT='0'"),
        ({"PREFECT_RUNWAY_LOCK_TIMEOUT": "inf"}, "not a positive number"),
        ({"PREFECT_RUNWAY_LOCK_TIMEOUT": "2m"}, "not a positive number"),
        ({"PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS": "on"}, "not a yes/no value"),
        ({"PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS": "-5"}, "not a number of credits"),
        ({"PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS": "5k"}, "CREDITS='5k'"),
        ({"PREFECT_RUNWAY_RECORDS": "/srv/r", "PREFECT_RUNWAY_RECORDS_BLOCK": "s3-bucket/r"},
         "both set"),
    ],
)  # fmt: skip
def test_every_setting_is_checked(env, match):
    with pytest.raises(ConfigurationError, match=match):
        config.check_settings(env)


def test_valid_settings_pass():
    config.check_settings({
        "PREFECT_RUNWAY_LOCKS": "redis://cache:6379/0",
        "PREFECT_RUNWAY_RECORDS_BLOCK": "s3-bucket/runway-records",
        "PREFECT_RUNWAY_LOCK_TIMEOUT": "30",
        "PREFECT_RUNWAY_ALLOW_LOOPBACK_URLS": "1",
        "PREFECT_RUNWAY_MONTHLY_BUDGET_CREDITS": "5000",
    })  # fmt: skip


async def test_a_relative_records_path_refuses_the_ledger_before_any_work(monkeypatch):
    monkeypatch.setenv(config.RECORDS, "runway-records")
    with pytest.raises(ConfigurationError, match="relative folder"):
        await Ledger.default()


async def test_capital_s3_scheme_is_s3_not_a_local_folder(monkeypatch, s3):
    monkeypatch.setenv(config.RECORDS, "S3://stills/records")
    ledger = await Ledger.default()
    assert ledger.location == "s3://stills/records/" and not ledger.host_local
    assert not Path("S3:").exists()


# -- split ledgers, through a real Redis -------------------------------------------------------


def _db(redis_url: str, n: int) -> str:  # noqa: F811
    return redis_url.rsplit("/", 1)[0] + f"/{n}"


@pytest.fixture
def shared(redis_url, monkeypatch):  # noqa: F811
    """A fresh Redis database as the lock store, and a clean per-process check cache."""
    import redis

    def use(n: int) -> str:
        url = _db(redis_url, n)
        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv(config.LOCKS, url)
        return url

    monkeypatch.setattr(config, "_checked", set())
    return use


async def test_the_first_worker_writes_the_marker_and_its_peers_agree(shared, monkeypatch, s3):
    import redis

    url = shared(5)
    monkeypatch.setenv(config.RECORDS, "s3://stills/records")
    await Ledger.default()  # host of this process: writes the marker
    stored = redis.Redis.from_url(url).get(config.MARKER_KEY)
    assert stored is not None and b"s3://stills/records/" in stored
    monkeypatch.setattr(config, "_checked", set())
    monkeypatch.setattr(config, "HOSTNAME", "host-b")  # another machine, same settings
    await Ledger.default()


async def test_records_elsewhere_are_refused_naming_both(shared, monkeypatch, s3, tmp_path):
    shared(6)
    monkeypatch.setenv(config.RECORDS, "s3://stills/records")
    await Ledger.default()
    monkeypatch.setattr(config, "HOSTNAME", "host-b")
    monkeypatch.setenv(config.RECORDS, "s3://stills/other-records")
    with pytest.raises(ConfigurationError) as caught:
        await Ledger.default()
    message = str(caught.value)
    assert "Split ledger" in message and "s3://stills/records/" in message
    assert "s3://stills/other-records/" in message and "host-b" in message
    assert config.MARKER_KEY in message  # how to reset it


async def test_host_local_records_under_shared_locks(shared, monkeypatch, tmp_path):
    shared(7)
    folder = tmp_path / "records"
    monkeypatch.setenv(config.RECORDS, str(folder))
    monkeypatch.setattr(config, "HOSTNAME", "host-a")
    assert (await Ledger.default()).host_local
    await Ledger.default()  # a second worker on host a, on the same disk: valid
    monkeypatch.setattr(config, "_checked", set())
    await asyncio.gather(Ledger.default(), Ledger.default())  # several at once: still valid

    monkeypatch.setattr(config, "_checked", set())
    monkeypatch.setattr(config, "HOSTNAME", "host-b")  # another host, its own disk
    with pytest.raises(ConfigurationError) as caught:
        await Ledger.default()
    message = str(caught.value)
    assert "own disk" in message and "host-a" in message and "host-b" in message
    assert str(folder) in message


async def test_a_damaged_marker_is_refused(shared, monkeypatch, tmp_path):
    import redis

    url = shared(8)
    redis.Redis.from_url(url).set(config.MARKER_KEY, b"not json")
    monkeypatch.setenv(config.RECORDS, str(tmp_path / "records"))
    with pytest.raises(ConfigurationError, match="damaged"):
        await Ledger.default()
