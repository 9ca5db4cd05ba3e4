"""The submission lock manager: exclusive, renewable, broken atomically, never fooled by a PID."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from prefect_runway.ledger import locks as locks_module
from prefect_runway.ledger.locks import (
    RenewableLockManager,
    SubmissionLockManager,
    _break,
    apoll_until,
    poll_until,
)

KEY = "runway-i2v-test"


@pytest.fixture
def manager(tmp_path):
    return SubmissionLockManager(tmp_path, hold_timeout=30)


def write_lock(manager, **fields):
    manager.lock_files_directory.mkdir(parents=True, exist_ok=True)
    path = manager._path(KEY)
    content = {"holder": "someone", "expires": time.time() + 60, "pid": os.getpid(),
               "host": locks_module._HOST, "boot": locks_module._BOOT,
               "pidns": locks_module._PIDNS, **fields}  # fmt: skip
    path.write_text(json.dumps(content))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_holder_cannot_acquire_until_release(manager):
    assert manager.try_acquire(KEY, "a")
    assert not manager.try_acquire(KEY, "b")
    assert manager.try_acquire(KEY, "a")  # re-entrant for its holder
    assert manager.is_locked(KEY) and manager.is_lock_holder(KEY, "a")
    with pytest.raises(ValueError, match="not held by 'b'"):
        manager.release_lock(KEY, "b")
    manager.release_lock(KEY, "a")
    assert manager.try_acquire(KEY, "b")


def test_an_expired_lock_can_be_taken(manager):
    write_lock(manager, expires=time.time() - 1)
    assert manager.try_acquire(KEY, "b") and manager.is_lock_holder(KEY, "b")


def test_a_dead_holder_on_this_machine_is_broken_at_once(manager):
    write_lock(manager, pid=dead_pid())
    assert manager.try_acquire(KEY, "b")


def test_a_dead_pid_in_another_pid_namespace_is_not_trusted(manager):
    """Containers sharing a lock folder and a hostname: the PID means nothing here."""
    write_lock(manager, pid=dead_pid(), pidns="another-namespace")
    assert not manager.try_acquire(KEY, "b")
    write_lock(manager, pid=dead_pid(), boot="another-boot")  # the host rebooted: only expiry
    assert not manager.try_acquire(KEY, "b")


def test_empty_or_partial_lock_files_age_out_by_mtime(manager):
    path = write_lock(manager)
    path.write_bytes(b'{"holder": "some')  # the creator died mid-write
    assert not manager.try_acquire(KEY, "b")  # fresh: its writer may still be writing
    old = time.time() - locks_module.PARTIAL_FILE_GRACE - 1
    os.utime(path, (old, old))
    assert manager.try_acquire(KEY, "b")
    path.write_bytes(b"")
    os.utime(path, (old, old))
    assert manager.try_acquire(KEY, "c")


def test_renewal_keeps_a_live_lock_from_expiring(manager):
    assert manager.try_acquire(KEY, "a", hold_timeout=0.3)
    for _ in range(6):
        time.sleep(0.1)
        assert manager.renew_lock(KEY, "a", hold_timeout=0.3)
        assert not manager.try_acquire(KEY, "b")
    time.sleep(0.4)  # no renewal: it expires
    assert manager.try_acquire(KEY, "b")
    assert not manager.renew_lock(KEY, "a")  # the old holder learns it lost the lock


def test_many_contenders_breaking_one_dead_lock_yield_one_holder(manager):
    for round_ in range(20):
        write_lock(manager, pid=dead_pid())
        barrier = threading.Barrier(8)
        winners = []

        def contend(name, barrier=barrier, winners=winners):
            barrier.wait()
            if manager.try_acquire(KEY, name):
                winners.append(name)

        threads = [threading.Thread(target=contend, args=(f"c{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1, (round_, winners)
        manager.release_lock(KEY, winners[0])


def test_a_lock_renewed_after_it_was_judged_is_left_alone(manager):
    path = write_lock(manager, expires=time.time() - 1)
    judged = path.read_bytes()
    write_lock(manager, holder="renewed")  # the holder renewed just in time
    assert not _break(path, judged)
    assert json.loads(path.read_text())["holder"] == "renewed"
    assert _break(path, path.read_bytes()) and not path.exists()


def test_the_file_manager_is_a_renewable_lock_manager(manager):
    assert isinstance(manager, RenewableLockManager)
    assert manager.acquire_lock(KEY, "a", acquire_timeout=0)
    assert not manager.acquire_lock(KEY, "b", acquire_timeout=0.2)
    assert not manager.wait_for_lock(KEY, timeout=0.1)
    assert not asyncio.run(manager.aacquire_lock(KEY, "b", acquire_timeout=0.1))
    assert not asyncio.run(manager.await_for_lock(KEY, timeout=0.1))
    threading.Timer(0.2, manager.release_lock, (KEY, "a")).start()
    assert asyncio.run(manager.await_for_lock(KEY, timeout=5))
    assert manager.acquire_lock(KEY, "b", acquire_timeout=0)


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_the_polling_twins_agree(twin):
    def poll(done, **options):
        if twin == "sync":
            return poll_until(done, **options)
        return asyncio.run(apoll_until(done, **options))

    calls = []
    assert poll(lambda: calls.append(1) or len(calls) == 3, timeout=5, pause=0.01)
    assert len(calls) == 3
    calls.clear()
    assert not poll(lambda: calls.append(1) and False, timeout=0)
    assert len(calls) == 1  # checked once, even with no time left
    start = time.monotonic()
    assert not poll(lambda: False, timeout=0.3, pause=0.01, backoff=2.0, max_pause=0.05)
    assert 0.3 <= time.monotonic() - start < 2.0
