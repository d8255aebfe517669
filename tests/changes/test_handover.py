"""No second read: the trigger hands its records to the task (in the event when small,
staged in the provider's store otherwise), and the task delivers them without calling
Xero; only a stage that is gone, or an event that names the range only, costs one read.
Calls are counted in the sandbox's request log."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.changes.helpers import create, sandbox_time
from tests.changes.test_trigger import _events, make
from xero_provider.hooks import XeroHook
from xero_provider.sensors import XeroNewOrUpdatedContactSensor
from xero_provider.state.feed import Feed, Position
from xero_provider.state.staged_reads import StagedReads, StageMismatch
from xero_provider.triggers.handover import range_key

pytestmark = pytest.mark.slow


class RecordingTI:
    """The one thing a window-mode delivery needs of its task instance: ``xcom_push``."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _window_with_contacts(sandbox: Any, conn_id: str, count: int) -> tuple[dict, dict, list]:
    """``count`` contacts written 10 minutes ago; the closed window around them."""
    at = datetime.now(UTC) - timedelta(minutes=10)
    with sandbox_time(sandbox, at):
        ids = create(XeroHook(conn_id), "Contacts", [{"Name": f"h{n}"} for n in range(count)])
    lower = Position.at(at - timedelta(minutes=1)).to_json()
    upper = Position.at(at + timedelta(minutes=1)).to_json()
    return lower, upper, ids


def _sensor(conn_id: str) -> XeroNewOrUpdatedContactSensor:
    return XeroNewOrUpdatedContactSensor(
        task_id="changes", xero_conn_id=conn_id, polling="window", settle_seconds=1
    )


def _last_seq(sandbox: Any) -> int:
    entries = sandbox.requests()
    return entries[-1]["seq"] if entries else 0


def _store(conn_id: str) -> StagedReads:
    return StagedReads.for_config(XeroHook(conn_id).config)


def test_a_small_batch_rides_in_the_event_and_the_task_calls_xero_no_more(sandbox, conn_id) -> None:
    lower, upper, ids = _window_with_contacts(sandbox, conn_id, 3)
    trigger = make(conn_id, mode="window", lower=lower, upper=upper)
    (event,) = asyncio.run(_events(trigger))
    payload = event.payload
    assert "stage" not in payload
    assert sorted(r["ContactID"] for r in payload["records"]) == sorted(ids)

    since = _last_seq(sandbox)
    ti = RecordingTI()
    delivered = _sensor(conn_id).execute_complete({"ti": ti}, payload)
    assert sandbox.requests(since=since) == []  # not one call: no read, no token refresh
    assert delivered == payload["records"]
    assert ti.pushed["ids"] == [r["ContactID"] for r in payload["records"]]


def test_a_large_batch_is_staged_taken_once_and_removed(sandbox, conn_id) -> None:
    lower, upper, ids = _window_with_contacts(sandbox, conn_id, 40)
    trigger = make(conn_id, mode="window", lower=lower, upper=upper, inline_max_bytes=2000)
    (event,) = asyncio.run(_events(trigger))
    payload = event.payload
    assert "records" not in payload and payload["count"] == 40
    store = _store(conn_id)
    assert store.count() == 1
    text = json.dumps(payload)
    assert sandbox.demo.web_client_secret not in text and "Bearer" not in text

    since = _last_seq(sandbox)
    delivered = _sensor(conn_id).execute_complete({"ti": RecordingTI()}, payload)
    assert sandbox.requests(since=since) == []
    assert sorted(r["ContactID"] for r in delivered) == sorted(ids)
    assert store.count() == 0  # delivered: the stage is gone


def test_a_gone_stage_costs_one_read_and_delivers_the_same(sandbox, conn_id, caplog) -> None:
    lower, upper, ids = _window_with_contacts(sandbox, conn_id, 2)
    trigger = make(conn_id, mode="window", lower=lower, upper=upper, inline_max_bytes=10)
    (event,) = asyncio.run(_events(trigger))
    _store(conn_id).discard(event.payload["stage"])  # e.g. expired and swept

    since = _last_seq(sandbox)
    caplog.set_level(logging.WARNING)
    delivered = _sensor(conn_id).execute_complete({"ti": RecordingTI()}, event.payload)
    reads = sandbox.requests(since=since, path="/api.xro/2.0/Contacts", method="GET")
    assert len(reads) == 1
    assert sorted(r["ContactID"] for r in delivered) == sorted(ids)
    assert "staged records are gone" in caplog.text


def test_an_event_naming_the_range_only_is_read_once(sandbox, conn_id) -> None:
    """A trigger serialised before handover (or ``handover=False``): the old path."""
    lower, upper, ids = _window_with_contacts(sandbox, conn_id, 2)
    trigger = make(conn_id, mode="window", lower=lower, upper=upper, handover=False)
    (event,) = asyncio.run(_events(trigger))
    assert "records" not in event.payload and "stage" not in event.payload
    since = _last_seq(sandbox)
    delivered = _sensor(conn_id).execute_complete({"ti": RecordingTI()}, event.payload)
    reads = sandbox.requests(since=since, path="/api.xro/2.0/Contacts", method="GET")
    assert len(reads) == 1
    assert sorted(r["ContactID"] for r in delivered) == sorted(ids)


def test_a_stage_of_another_range_is_refused(sandbox, conn_id) -> None:
    lower, upper, _ids = _window_with_contacts(sandbox, conn_id, 1)
    feed = Feed.build("Contacts")
    other = Position(Position.from_json(upper).ts + 1000)
    token = _store(conn_id).put(range_key(feed, Position.from_json(lower), other), [{"x": 1}])
    event = {"status": "success", "lower": lower, "upper": upper, "stage": token}
    with pytest.raises(StageMismatch, match=r"holds the records of Contacts.*not of Contacts"):
        _sensor(conn_id).execute_complete({"ti": RecordingTI()}, event)


def test_an_expired_stage_is_not_returned_and_is_swept(tmp_path) -> None:
    store = StagedReads(f"sqlite:///{tmp_path / 'stage.db'}")
    old = store.put("k", [{"a": 1}], ttl=timedelta(seconds=-1))
    assert store.get(old, "k") is None
    fresh = store.put("k", [{"a": 2}])  # a put sweeps expired rows
    assert store.count() == 1
    assert store.get(fresh, "k") == [{"a": 2}]


@pytest.mark.parametrize("size", [-1, "64k", 1.5], ids=["negative", "text", "float"])
def test_a_bad_inline_size_is_refused_naming_the_field(size) -> None:
    with pytest.raises(ValueError, match="inline_max_bytes must be 0 or more"):
        make("xero_x", inline_max_bytes=size)
