"""Calls in flight shared through the store: never more than Xero's 5 per organisation
across processes, and a killed holder's slot comes free when its lease expires."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.provider.connections import xero_connection
from xero_provider.state.call_slots import CallSlots
from xero_provider.state.token_store import TokenStore


@pytest.fixture
def pair(store_url: str) -> tuple[CallSlots, CallSlots]:
    """Two slot holders on one store, as two processes would have them (a unique app id)."""
    client = f"app-{uuid.uuid4().hex}"
    return CallSlots(TokenStore(store_url), client, 5, 30.0), CallSlots(
        TokenStore(store_url), client, 5, 30.0
    )


def test_five_slots_shared_then_a_wait_until_one_is_given_back(pair) -> None:
    first, second = pair
    held = [(first if i % 2 else second).try_acquire("org", now=100.0)[0] for i in range(5)]
    assert None not in held and len(set(held)) == 5
    holder, wait = second.try_acquire("org", now=101.0)
    assert holder is None and wait == pytest.approx(29.0)
    assert first.try_acquire("other-org", now=101.0)[0] is not None  # organisations apart
    assert first.in_flight("org", now=101.0) == 5
    first.release("org", held[1])  # taken by ``first``; any process may hold any slot
    assert second.try_acquire("org", now=102.0)[0] is not None
    assert second.try_acquire("org", now=102.0)[0] is None


def test_an_expired_lease_is_taken_over_and_its_late_release_is_harmless(pair) -> None:
    first, second = pair
    stale = [first.try_acquire("org", now=0.0)[0] for _ in range(5)]
    assert second.try_acquire("org", now=29.0)[0] is None
    fresh = second.try_acquire("org", now=30.5)[0]  # every lease ran out at 30
    assert fresh is not None
    first.release("org", stale[0])  # the slow holder comes back: it frees nothing of others'
    assert second.in_flight("org", now=31.0) == 1


def test_the_limit_off_holds_nothing(store_url: str) -> None:
    slots = CallSlots(TokenStore(store_url), f"app-{uuid.uuid4().hex}", 0)
    with slots.hold("org"):
        pass
    assert not slots.enabled


_HOLDER = """
import sys, time
from xero_provider.state.token_store import TokenStore
from xero_provider.state.call_slots import CallSlots
slots = CallSlots(TokenStore(sys.argv[1]), sys.argv[2], 1, float(sys.argv[3]))
holder, _ = slots.try_acquire("org")
print("held" if holder else "refused", flush=True)
time.sleep(600)
"""


def test_a_killed_holders_slot_comes_free_when_its_lease_expires(store_url: str) -> None:
    client, lease = f"app-{uuid.uuid4().hex}", 3.0
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, store_url, client, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        killed_at = time.time()
        child.kill()  # SIGKILL: no release, no clean-up
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    slots = CallSlots(TokenStore(store_url), client, 1, lease)
    holder, wait = slots.try_acquire("org")
    assert holder is None and 0 < wait <= lease
    started = time.monotonic()
    with slots.hold("org", deadline_seconds=lease + 5):
        waited = time.monotonic() - started
        assert time.time() >= killed_at + wait - 0.5  # not before the lease ran out
        assert slots.in_flight("org") == 1
    assert waited < lease + 1
    slots.release_kept()
    assert slots.in_flight("org") == 0


@pytest.mark.slow
def test_twenty_processes_never_have_six_calls_in_flight(
    sandbox, monkeypatch, tmp_path, race_pool
) -> None:
    """The sandbox refuses a sixth concurrent call with ``X-Rate-Limit-Problem: concurrent``
    (as Xero does); with 100 ms per call and 20 processes calling at once, only slots
    shared across processes keep that count at zero. Two calls each: 40 stay within one
    Xero minute (60), so no call waits for the next minute's budget."""
    from tests.provider.conftest import race_calls

    sandbox.control(
        "PUT",
        "/limits",
        json={"concurrent": 5, "per_minute": 100_000, "app_per_minute": 100_000, "latency_ms": 100},
    )
    conn_id = xero_connection(sandbox, monkeypatch, tmp_path / "tokens.db", max_retries=1)
    env = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    errors = race_pool.run(race_calls, env, conn_id, 2)
    assert errors == [None] * len(errors)
    refused = sandbox.control("GET", "/limits").json()["refused"]
    assert refused.get("concurrent", 0) == 0, refused
    calls = [c for c in sandbox.requests() if c["path"].startswith("/api.xro/")]
    assert sum(c["status"] == 200 for c in calls) == 2 * len(errors)


def test_back_to_back_calls_keep_one_slot_and_an_idle_one_is_given_back(pair) -> None:
    import asyncio

    from xero_provider.state.call_slots import IDLE_SECONDS

    first, second = pair
    statements = []
    with first.hold("org"):
        pass

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "xero_call_slots" in statement and not statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)  # a write (``second``'s counting reads are allowed)

    import sqlalchemy as sa

    sa.event.listen(first.store.engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            with first.hold("org"):
                assert second.in_flight("org") == 1
        assert statements == []  # reused: no slot taken or given back
    finally:
        sa.event.remove(first.store.engine, "before_cursor_execute", count)

    async def in_a_loop() -> None:
        async with first.ahold("org"):
            assert second.in_flight("org") == 1

    asyncio.run(in_a_loop())
    deadline = time.monotonic() + 5
    while second.in_flight("org") and time.monotonic() < deadline:
        time.sleep(IDLE_SECONDS)
    assert second.in_flight("org") == 0  # the idle slot went back by itself


def test_a_kept_slot_is_retaken_after_the_sticky_time_and_close_gives_it_back(pair) -> None:
    from xero_provider.state.call_slots import STICKY_SECONDS

    first, second = pair
    started = time.monotonic()
    while time.monotonic() - started < STICKY_SECONDS * 3:
        with first.hold("org"):
            assert second.in_flight("org") == 1  # never two for one process's loop
        time.sleep(0.001)
    # The reaper thread gives an idle kept slot back: first out of ``_kept``, then out of
    # the table, so a look between the two sees one in flight and none kept. Look again.
    deadline = time.monotonic() + 2
    while True:
        with first._lock:
            kept = [(h, taken) for h, taken, _ in first._kept.get("org", [])]
        in_flight = second.in_flight("org")
        if in_flight == len(kept) or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(kept) <= 1 and in_flight == len(kept)
    # taken again, not kept for ever (the reaper may just have given it back: none kept)
    assert all(time.time() - taken < STICKY_SECONDS + 0.1 for _, taken in kept)
    first.release_kept()
    assert second.in_flight("org") == 0


def test_a_forked_child_never_reuses_its_parents_kept_slot(pair, monkeypatch) -> None:
    from xero_provider.state import call_slots

    # The parent must still keep its slot when the child asks: a fork under load can take
    # longer than the 20 ms after which an idle kept slot is given back.
    monkeypatch.setattr(call_slots, "IDLE_SECONDS", 60.0)
    monkeypatch.setattr(call_slots, "STICKY_SECONDS", 60.0)
    first, second = pair
    with first.hold("org"):
        pass  # kept by this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report how many slots are held while it holds one
        try:
            with first.hold("org"):
                os.write(write, str(second.in_flight("org")).encode())
        finally:
            os._exit(0)
    os.close(write)
    seen = os.read(read, 16).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert seen == "2"  # its own slot beside the parent's kept one
    first.release_kept()
