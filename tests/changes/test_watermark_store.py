"""The watermark store: pending deliveries, commit on success, drop on failure, compare
and set, on SQLite and PostgreSQL; a process killed mid-write leaves the old position."""

from __future__ import annotations

import multiprocessing
import os
import uuid

import pytest

from xero_provider.state.feed import Position
from xero_provider.state.watermarks import WatermarkStore, watermark_key


@pytest.fixture
def key() -> str:
    return watermark_key("dag", f"task-{uuid.uuid4().hex}", "tenant", "feed")


def test_pending_commits_only_on_success(store_url, key) -> None:
    store = WatermarkStore(store_url)
    p0, p1, p2 = Position(1000), Position(2000, frozenset({"a"})), Position(3000)
    assert store.get(key).committed is None
    store.commit(key, p0)
    store.set_pending(key, "run1", p0, p1)
    with pytest.raises(RuntimeError, match="run1 still holds"):
        store.set_pending(key, "run2", p0, p2)
    assert store.resolve_pending(key, "run2", succeeded=True) == p0  # not its delivery
    assert store.resolve_pending(key, "run1", succeeded=False) == p0  # failed: dropped
    assert store.get(key).pending is None
    store.set_pending(key, "run2", p0, p1)
    assert store.get(key).pending.upper == p1
    assert store.resolve_pending(key, "run2", succeeded=True) == p1
    assert store.get(key).committed == p1
    assert not store.commit(key, p2, expected=p0)  # compare and set
    assert store.commit(key, p2, expected=p1) and store.get(key).committed == p2


def test_a_first_run_that_failed_leaves_its_start_for_the_next_run(store_url, key) -> None:
    """Issue 24: the feed's first run (no committed position, it began at start_from)
    failed; the next run must receive the same changes, not begin at its own "now"."""
    store = WatermarkStore(store_url)
    start, delivered = Position(1000), Position(2000)
    store.set_pending(key, "run1", start, delivered)
    assert store.resolve_pending(key, "run1", succeeded=False) == start
    assert store.get(key).committed == start and store.get(key).pending is None


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="dag_id is empty"):
        watermark_key("", "t", "x", "f")


def _write_and_die(url: str, key: str) -> None:
    """Open a transaction, write a new position, and die before committing."""
    import sqlalchemy as sa

    from xero_provider.state.watermarks import watermarks_table

    store = WatermarkStore(url)
    with store._transaction() as conn:
        conn.execute(
            sa.update(watermarks_table)
            .where(watermarks_table.c.key == key)
            .values(committed='{"ts": 999999, "ids": []}')
        )
        os._exit(9)  # killed mid-write


def test_a_process_killed_mid_write_leaves_the_old_position(store_url, key) -> None:
    store = WatermarkStore(store_url)
    store.commit(key, Position(1000))
    child = multiprocessing.get_context("spawn").Process(
        target=_write_and_die, args=(store_url, key)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert store.get(key).committed == Position(1000)
    store.commit(key, Position(2000))  # and the store still takes writes
    assert store.get(key).committed == Position(2000)


def test_event_batch_in_flight_is_proposed_once_and_committed_by_compare_and_set(
    store_url, key
) -> None:
    store = WatermarkStore(store_url)
    p0, p1, p2 = Position(1000), Position(2000, frozenset({"a"})), Position(3000)
    assert store.propose_batch(key, p0, p1) is None  # no position yet
    store.commit(key, p0)
    assert store.batch_in_flight(key) is None
    assert store.propose_batch(key, p0, p1) == p1
    # A second reader from p0 (a restart, another triggerer) gets the recorded range.
    assert store.propose_batch(key, p0, p2) == p1
    flight = store.batch_in_flight(key)
    assert (flight.lower, flight.upper) == (p0, p1)
    assert not store.commit_batch(key, p1, p2)  # not from the stored position
    assert store.commit_batch(key, p0, p1)
    assert not store.commit_batch(key, p0, p1)  # the loser of two committers
    assert store.get(key).committed == p1 and store.batch_in_flight(key) is None
    assert store.propose_batch(key, p0, p2) is None  # stale lower: read again
    assert store.propose_batch(key, p1, p2) == p2


def test_a_trigger_takes_its_runs_claim_once(store_url, key) -> None:
    """A trigger ending its task turns the run's claim into its delivery: one copy wins;
    a delivery already recorded, another run's claim or none at all is never taken."""
    store = WatermarkStore(store_url)
    p0, p1, p2 = Position(1000), Position(2000, frozenset({"a"})), Position(3000)
    assert not store.take_claim(key, "run_1", p0, p1)  # no row: nothing claimed
    store.set_pending(key, "run_1", p0, p0)  # the task's claim when it deferred
    assert not store.take_claim(key, "run_2", p0, p1)  # another run's claim
    assert not store.take_claim(key, "run_1", p1, p2)  # a claim at another position
    assert store.take_claim(key, "run_1", p0, p1)
    assert not store.take_claim(key, "run_1", p0, p2)  # a duplicate copy of the trigger
    pending = store.get(key).pending
    assert (pending.run_id, pending.lower, pending.upper) == ("run_1", p0, p1)
    assert store.resolve_pending(key, "run_1", succeeded=True) == p1  # as a worker's delivery
